//! `modhost_module_logs_dropped_total{tenant}`: the module log records each tenant lost, for `/metrics`.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;

/// `modhost_module_logs_dropped_total{tenant}`.
#[derive(Debug)]
pub(crate) struct DroppedRecords(pub(crate) Vec<(String, u64)>);

impl Collector for DroppedRecords {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "modhost_module_logs_dropped",
            "Module log records dropped: the tenant's or the host's backlog was full, or a write failed.",
            None,
            MetricType::Counter,
        )?;
        for (tenant, count) in &self.0 {
            let labels = vec![("tenant".to_owned(), tenant.clone())];
            ConstCounter::new(*count).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
