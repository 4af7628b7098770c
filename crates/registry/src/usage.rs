//! What a module's data scope holds ([`DataUsage`]) and the most it may hold ([`DataQuota`]).

use serde::Serialize;

/// What one (tenant, module) scope holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DataUsage {
    /// Stored keys.
    pub keys: u64,
    /// Bytes of every key plus its value.
    pub bytes: u64,
}

impl DataUsage {
    pub(crate) fn encode(self) -> [u8; 16] {
        let mut out = [0; 16];
        out[..8].copy_from_slice(&self.keys.to_be_bytes());
        out[8..].copy_from_slice(&self.bytes.to_be_bytes());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let keys = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
        let bytes = u64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?);
        Some(Self { keys, bytes })
    }

    /// `N keys, M bytes`, for messages.
    pub fn describe(&self) -> String {
        format!("{} keys, {} bytes", self.keys, self.bytes)
    }

    pub(crate) fn add(&mut self, entry: Option<u64>) {
        if let Some(size) = entry {
            self.keys += 1;
            self.bytes += size;
        }
    }

    pub(crate) fn remove(&mut self, entry: Option<u64>) {
        if let Some(size) = entry {
            self.keys = self.keys.saturating_sub(1);
            self.bytes = self.bytes.saturating_sub(size);
        }
    }
}

/// The most one scope may hold. Writes that leave a scope over its quota
/// are refused only when they grow it: deletes and shrinking writes always
/// pass, so a scope over a lowered quota can be cleaned up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DataQuota {
    /// The most keys.
    pub max_keys: u64,
    /// The most bytes of keys plus values.
    pub max_bytes: u64,
}

impl DataQuota {
    /// No limit (operators' own writes).
    pub const UNLIMITED: Self = Self {
        max_keys: u64::MAX,
        max_bytes: u64::MAX,
    };

    /// `N keys, M bytes`, for messages.
    pub fn describe(&self) -> String {
        format!("{} keys, {} bytes", self.max_keys, self.max_bytes)
    }

    /// Whether going from `before` to `after` breaks the quota.
    pub fn refuses(&self, before: DataUsage, after: DataUsage) -> bool {
        (after.keys > self.max_keys && after.keys > before.keys)
            || (after.bytes > self.max_bytes && after.bytes > before.bytes)
    }
}
