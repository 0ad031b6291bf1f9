//! Durable settings for other parts of Gatewatch (API Gateway stage
//! settings changed through the management API, account settings), kept in
//! the same engine as the store's metadata under the `A\0` key prefix and
//! committed (fsynced) like every other write.

use crate::commit::{durable, Space, Write};
use crate::error::StoreResult;
use crate::Store;

const PREFIX: &str = "A\0";

impl Store {
    /// Stores `value` under `key`, durably.
    pub async fn put_setting(&self, key: &str, value: &[u8]) -> StoreResult<()> {
        let k = format!("{PREFIX}{key}").into_bytes();
        durable(self.enqueue(vec![Write::Put(Space::Meta, k, fjall::Slice::new(value))])).await
    }

    /// Removes the setting under `key`, durably.
    pub async fn delete_setting(&self, key: &str) -> StoreResult<()> {
        let k = format!("{PREFIX}{key}").into_bytes();
        durable(self.enqueue(vec![Write::Delete(Space::Meta, k)])).await
    }

    /// The setting under exactly `key`.
    pub fn setting(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let k = format!("{PREFIX}{key}");
        Ok(self.inner.meta.get(k.as_bytes())?.map(|v| v.to_vec()))
    }

    /// Every setting whose key starts with `prefix`, in key order.
    pub fn settings(&self, prefix: &str) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        let full = format!("{PREFIX}{prefix}");
        for item in self.inner.meta.prefix(full.as_bytes()) {
            let (k, v) = item.into_inner()?;
            let key = String::from_utf8_lossy(&k[PREFIX.len()..]).into_owned();
            out.push((key, v.to_vec()));
        }
        Ok(out)
    }
}
