//! The `metrics` capability: counters and gauges a module records, bounded per module.

use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use super::CallInfo;
use crate::bindings::v1_0;
use crate::metrics::{MetricRefusal, ModuleMetrics};

/// One call's metrics: the shared series and the (tenant, module) they belong to.
pub struct MetricsCtx {
    series: Arc<ModuleMetrics>,
    tenant: String,
    module: String,
}

/// Access to a call's [`MetricsCtx`].
pub trait MetricsView: Send {
    /// The call's metrics context.
    fn metrics(&mut self) -> &mut MetricsCtx;
}

impl MetricsCtx {
    /// Metrics of one call into `series`.
    pub(crate) fn new(series: Arc<ModuleMetrics>, call: &CallInfo<'_>) -> Self {
        Self {
            series,
            tenant: call.tenant.to_owned(),
            module: call.module.to_owned(),
        }
    }
}

struct MetricsHost<'a>(&'a mut MetricsCtx);

struct HasMetrics;

impl HasData for HasMetrics {
    type Data<'a> = MetricsHost<'a>;
}

fn metric_error(refusal: MetricRefusal) -> v1_0::metrics::MetricError {
    use v1_0::metrics::MetricError;
    match refusal {
        MetricRefusal::InvalidName(reason) => MetricError::InvalidName(reason),
        MetricRefusal::InvalidTags(reason) => MetricError::InvalidTags(reason),
        MetricRefusal::KindMismatch(name) => MetricError::InvalidName(format!(
            "metric `{name}` is already recorded with the other kind (counter vs gauge)"
        )),
        MetricRefusal::TooManySeries => MetricError::TooManySeries,
    }
}

impl v1_0::metrics::Host for MetricsHost<'_> {
    fn counter(
        &mut self,
        name: String,
        value: u64,
        tags: Vec<(String, String)>,
    ) -> Result<(), v1_0::metrics::MetricError> {
        let ctx = &self.0;
        ctx.series
            .counter(&ctx.tenant, &ctx.module, &name, value, tags)
            .map_err(metric_error)
    }

    fn gauge(
        &mut self,
        name: String,
        value: f64,
        tags: Vec<(String, String)>,
    ) -> Result<(), v1_0::metrics::MetricError> {
        let ctx = &self.0;
        ctx.series
            .gauge(&ctx.tenant, &ctx.module, &name, value, tags)
            .map_err(metric_error)
    }
}

/// Links `modhost:module/metrics`.
pub fn add_to_linker<T: MetricsView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    v1_0::metrics::add_to_linker::<T, HasMetrics>(linker, |state| MetricsHost(state.metrics()))
}
