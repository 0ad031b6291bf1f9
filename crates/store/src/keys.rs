//! Key layout in the storage engine.
//!
//! `meta` keyspace (metadata, JSON values):
//! - `G\0{account}\0{region}\0{group}` → [`LogGroup`](crate::LogGroup)
//! - `S\0{group id:016x}\0{stream}` → [`LogStream`](crate::LogStream)
//! - `D\0{stream id:016x}` → stream whose events are still being deleted
//! - `C\0ids`, `C\0seq` → next id / next event sequence number
//!
//! `blocks` keyspace: `{stream id: u64 BE}{timestamp: i64 as order-preserving u64 BE}{seq: u64 BE}`
//! of a block's first event → the block (see [`crate::blocks`]: the events
//! one call wrote within a second, with their ingestion time). Blocks of a
//! stream thus sort by their first (timestamp, seq); ids are never reused,
//! so a deleted stream's leftover blocks are unreachable even before they
//! are swept. Stores written before blocks kept one entry per event in a
//! keyspace `events` (value `{ingestion time: i64 BE}{message bytes}`); they
//! are migrated when opened.

use crate::model::Scope;

/// Prefix of every group key of a scope.
pub fn group_prefix(scope: &Scope) -> Vec<u8> {
    format!("G\0{}\0{}\0", scope.account, scope.region).into_bytes()
}

/// Key of a group's metadata.
pub fn group(scope: &Scope, name: &str) -> Vec<u8> {
    let mut k = group_prefix(scope);
    k.extend_from_slice(name.as_bytes());
    k
}

/// Key of a stream's metadata.
pub fn stream(group_id: u64, name: &str) -> Vec<u8> {
    format!("S\0{group_id:016x}\0{name}").into_bytes()
}

/// Prefix of every stream key of a group.
pub fn stream_prefix(group_id: u64) -> Vec<u8> {
    format!("S\0{group_id:016x}\0").into_bytes()
}

/// Key marking a stream whose events are pending deletion.
pub fn doomed(stream_id: u64) -> Vec<u8> {
    format!("D\0{stream_id:016x}").into_bytes()
}

/// Prefix of doomed-stream keys.
pub const DOOMED_PREFIX: &[u8] = b"D\0";
/// Next id counter.
pub const NEXT_ID: &[u8] = b"C\0ids";
/// Next event sequence counter.
pub const NEXT_SEQ: &[u8] = b"C\0seq";

/// Maps an i64 to a u64 with the same order.
fn ordered(ts: i64) -> u64 {
    (ts as u64) ^ (1 << 63)
}

fn unordered(v: u64) -> i64 {
    (v ^ (1 << 63)) as i64
}

/// Key of one event position (a block's first event).
pub fn event(stream_id: u64, timestamp: i64, seq: u64) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&stream_id.to_be_bytes());
    k[8..16].copy_from_slice(&ordered(timestamp).to_be_bytes());
    k[16..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// Decodes an event key into (stream id, timestamp, seq).
pub fn parse_event(key: &[u8]) -> Option<(u64, i64, u64)> {
    if key.len() != 24 {
        return None;
    }
    let stream = u64::from_be_bytes(key[..8].try_into().ok()?);
    let ts = unordered(u64::from_be_bytes(key[8..16].try_into().ok()?));
    let seq = u64::from_be_bytes(key[16..].try_into().ok()?);
    Some((stream, ts, seq))
}

/// Value of one event in the layout before blocks (migration and tests).
pub fn event_value(ingestion_time: i64, message: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + message.len());
    v.extend_from_slice(&ingestion_time.to_be_bytes());
    v.extend_from_slice(message.as_bytes());
    v
}

/// Decodes an event value of the layout before blocks into (ingestion time, message).
pub fn parse_event_value(value: &[u8]) -> Option<(i64, String)> {
    if value.len() < 8 {
        return None;
    }
    let ingestion = i64::from_be_bytes(value[..8].try_into().ok()?);
    Some((ingestion, String::from_utf8_lossy(&value[8..]).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_sort_by_time_then_seq() {
        let a = event(7, -5, 9);
        let b = event(7, 0, 1);
        let c = event(7, 0, 2);
        let d = event(7, 1_700_000_000_000, 0);
        assert!(a < b && b < c && c < d);
        assert_eq!(parse_event(&a), Some((7, -5, 9)));
        assert_eq!(
            parse_event_value(&event_value(42, "hé")),
            Some((42, "hé".to_string()))
        );
    }
}
