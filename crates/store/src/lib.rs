//! # gatewatch-store
//!
//! The log store behind Gatewatch's CloudWatch Logs API: log groups, log
//! streams and events with CloudWatch Logs semantics, namespaced by account
//! and region, durable before acknowledgement.
//!
//! - **Engine.** Metadata and events live in [`fjall`], an LSM-tree engine
//!   with a journal and atomic write batches. See [`keys`] for the layout.
//!   The hot tier stores events in [`blocks`]: the events one call wrote
//!   within a second share one engine entry, so a durable write costs the
//!   engine one key per block rather than one per event.
//! - **Durability.** Every write goes through the group committer
//!   (the `commit` module): concurrent writers share one fsync, and a call returns only
//!   after its batch is on disk. On start the engine replays its journal; a
//!   torn tail is cut off and every earlier (acknowledged) batch is kept.
//! - **Catalog.** Groups and streams are also held in memory for fast
//!   lookups; the catalog is rebuilt from the `meta` keyspace on open.
//! - **Segments.** [`Store::compact`] moves events that have been in the hot
//!   tier for a while into Parquet segments per group and hour (see
//!   `segments.rs`), indexed by time and stream; reads merge both tiers.
//! - **Retention.** Events older than a group's retention are invisible to
//!   reads at once and removed by [`Store::enforce_retention`] (whole
//!   segments are dropped), which the server runs in the background.
//!
//! The store is used in-process (the logging stage writes here without an
//! HTTP hop) and through the CloudWatch Logs wire API.

pub mod blocks;
mod catalog;
mod commit;
mod compaction;
pub mod error;
mod events;
pub mod fields;
pub mod filter;
pub mod keys;
pub mod model;
pub mod names;
pub mod scan;
mod segments;
mod settings;

pub use catalog::CreateLogGroup;
pub use error::{StoreError, StoreResult};
pub use events::{Appended, Cursor, FilterPage, StreamSelector, EVENT_OVERHEAD, MAX_EVENT_BYTES};
pub use filter::FilterPattern;
pub use model::{
    EventInput, InputLogEvent, LogEvent, LogGroup, LogStream, MetricFilter, PutLogEventsOutcome,
    RejectedLogEventsInfo, Scope, SubscriptionFilter,
};
pub use scan::{Scan, ScanGroup, ScanPart};
pub use segments::{SegmentMeta, SegmentStream};

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use fjall::{Database, Keyspace, KeyspaceCreateOptions};

use commit::{Committer, Space, Write};

/// Tunables, with CloudWatch's values as defaults.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Events older than this (relative to now) are refused as too old (14 days).
    pub max_event_age_ms: i64,
    /// Events further in the future than this are refused as too new (2 hours).
    pub max_future_ms: i64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            max_event_age_ms: 14 * 24 * 3_600_000,
            max_future_ms: 2 * 3_600_000,
        }
    }
}

/// A group and its streams, as held in memory.
#[derive(Debug, Clone)]
pub(crate) struct GroupEntry {
    pub(crate) group: LogGroup,
    pub(crate) streams: BTreeMap<String, LogStream>,
    /// Cold-tier segments, sorted by `min_ts`.
    pub(crate) segments: Vec<SegmentMeta>,
}

/// Every group, by scope and name (names sorted, as Describe* lists them).
#[derive(Debug, Default)]
pub(crate) struct Catalog {
    pub(crate) scopes: HashMap<Scope, BTreeMap<String, GroupEntry>>,
}

impl Catalog {
    pub(crate) fn group(&self, scope: &Scope, name: &str) -> StoreResult<&GroupEntry> {
        self.scopes
            .get(scope)
            .and_then(|g| g.get(name))
            .ok_or_else(StoreError::group_not_found)
    }

    pub(crate) fn group_mut(&mut self, scope: &Scope, name: &str) -> StoreResult<&mut GroupEntry> {
        self.scopes
            .get_mut(scope)
            .and_then(|g| g.get_mut(name))
            .ok_or_else(StoreError::group_not_found)
    }
}

/// The log store. Cheap to clone; all clones share one engine.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// Hot-tier blocks of events.
    pub(crate) events: Keyspace,
    /// Metadata keyspace (catalog, counters, settings).
    pub(crate) meta: Keyspace,
    pub(crate) segment_files: segments::SegmentFiles,
    pub(crate) orphans_checked: std::sync::atomic::AtomicBool,
    /// Segments in the catalog whose moved events are not yet deleted from
    /// the hot tier (a scan waits for none, so it never counts both).
    pub(crate) pending_segments: std::sync::atomic::AtomicUsize,
    /// The hot tier was rewritten without tombstones since opening.
    pub(crate) tidied: std::sync::atomic::AtomicBool,
    pub(crate) catalog: RwLock<Catalog>,
    pub(crate) committer: Committer,
    pub(crate) next_seq: AtomicU64,
    pub(crate) next_id: AtomicU64,
    pub(crate) config: StoreConfig,
    /// The engine (snapshots for consistent reads).
    pub(crate) db: Database,
}

/// Smallest block value kept in a blob file rather than inline in the
/// engine's tables: a block's header and one short event.
pub(crate) const BLOB_THRESHOLD: u32 = 64;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Opens (or creates) the store in `dir`, recovering after a crash.
    pub fn open(dir: &Path, config: StoreConfig) -> StoreResult<Store> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::ServiceUnavailable(format!(
                "cannot create the store directory {}: {e}",
                dir.display()
            ))
        })?;
        let db = Database::builder(dir)
            // Writes are persisted by the committer, once per group commit.
            .manual_journal_persist(true)
            // Blocks are written once and leave for Parquet within minutes:
            // compressing them into the journal costs the commit path CPU
            // for disk space the hot tier does not keep.
            .journal_compression(fjall::CompressionType::None)
            .open()?;
        let meta = db.keyspace("meta", KeyspaceCreateOptions::default)?;
        let events = db.keyspace("blocks", || {
            // Block values (often tens of KB) live in blob files that the
            // engine's compactions never rewrite; only their keys move.
            // Small blocks too (a quiet stream's, a second's few lines):
            // kept inline they would be compressed into the engine's tables
            // at flush and rewritten by its compactions, and once moved to
            // Parquet their bytes would linger in those tables, where every
            // hot-tier read walks over them. (The engine keeps a keyspace's
            // options from its creation: stores made before this keep 1 KiB.)
            KeyspaceCreateOptions::default().with_kv_separation(Some(
                fjall::KvSeparationOptions::default()
                    .compression(fjall::CompressionType::None)
                    .separation_threshold(BLOB_THRESHOLD),
            ))
        })?;
        if db.keyspace_exists("events") {
            // A store from before blocks: one entry per event.
            let old = db.keyspace("events", KeyspaceCreateOptions::default)?;
            let moved = blocks::migrate_event_entries(&db, old, &events)?;
            tracing::info!(events = moved, "moved hot-tier events into blocks");
        }
        let catalog = catalog::load(&meta)?;
        let next_seq = read_counter(&meta, keys::NEXT_SEQ)?.max(1);
        let next_id = read_counter(&meta, keys::NEXT_ID)?.max(1);
        let counters = vec![
            (keys::NEXT_SEQ.to_vec(), next_seq),
            (keys::NEXT_ID.to_vec(), next_id),
        ];
        let committer = Committer::start(db.clone(), meta.clone(), events.clone(), counters);
        let segment_files = segments::SegmentFiles::local(dir.to_path_buf())?;
        let store = Store {
            inner: Arc::new(Inner {
                events,
                meta: meta.clone(),
                segment_files,
                orphans_checked: std::sync::atomic::AtomicBool::new(false),
                pending_segments: std::sync::atomic::AtomicUsize::new(0),
                tidied: std::sync::atomic::AtomicBool::new(false),
                catalog: RwLock::new(catalog),
                committer,
                next_seq: AtomicU64::new(next_seq),
                next_id: AtomicU64::new(next_id),
                config,
                db,
            }),
        };
        catalog::resume_deletions(&store, &meta);
        Ok(store)
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Catalog> {
        self.inner.catalog.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Catalog> {
        self.inner
            .catalog
            .write()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh internal id plus the write that persists the counter.
    pub(crate) fn allocate_id(&self) -> (u64, Write) {
        let id = self.inner.next_id.fetch_add(1, Ordering::SeqCst);
        (
            id,
            Write::Put(
                Space::Meta,
                keys::NEXT_ID.to_vec(),
                fjall::Slice::new(&(id + 1).to_be_bytes()),
            ),
        )
    }

    pub(crate) fn enqueue(
        &self,
        writes: Vec<Write>,
    ) -> tokio::sync::oneshot::Receiver<StoreResult<()>> {
        self.inner.committer.enqueue(writes)
    }
}

fn read_counter(meta: &Keyspace, key: &[u8]) -> StoreResult<u64> {
    Ok(meta
        .get(key)?
        .and_then(|v| <[u8; 8]>::try_from(&v[..]).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(1))
}

#[cfg(test)]
mod tests;
mod window;
