//! Live log streams: how many may be open, per tenant and in all, and the slot each holds until it ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Live streams open at once, per tenant and in all.
pub(crate) const STREAMS_PER_TENANT: usize = 8;
/// See [`STREAMS_PER_TENANT`].
pub(crate) const STREAMS_IN_ALL: usize = 256;

/// Why a live stream was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamRefusal {
    /// The tenant has [`STREAMS_PER_TENANT`] open.
    Tenant,
    /// The host has [`STREAMS_IN_ALL`] open.
    Host,
}

/// Open live streams, per tenant.
#[derive(Default)]
pub(crate) struct Streams {
    open: Mutex<HashMap<String, usize>>,
}

/// A live stream's place, given back when dropped.
pub(crate) struct StreamSlot {
    shared: Arc<Streams>,
    tenant: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.shared.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.tenant) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.tenant);
            }
        }
    }
}

impl Streams {
    /// A place for one more live stream of `tenant`, unless too many are open.
    pub(crate) fn open(self: &Arc<Self>, tenant: &str) -> Result<StreamSlot, StreamRefusal> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.values().sum::<usize>() >= STREAMS_IN_ALL {
            return Err(StreamRefusal::Host);
        }
        let count = open.entry(tenant.to_owned()).or_insert(0);
        if *count >= STREAMS_PER_TENANT {
            return Err(StreamRefusal::Tenant);
        }
        *count += 1;
        Ok(StreamSlot {
            shared: self.clone(),
            tenant: tenant.to_owned(),
        })
    }
}
