//! Moving events from the hot tier into segments, and dropping expired
//! segments.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use crate::catalog::stream_write;
use crate::commit::{durable, Space, Write};
use crate::error::{StoreError, StoreResult};
use crate::model::Scope;
use crate::segments::{
    by_hour, describe, encode, id_filter, id_filter_path, index_key, Row, SegmentMeta,
};
use crate::{blocks, keys, now_ms, Store};

/// Most events one compaction run moves per group (the rest waits for the next run).
const MAX_ROWS_PER_RUN: usize = 1_000_000;
/// Decrements the pending-segment count when dropped.
struct PendingGuard<'a>(&'a std::sync::atomic::AtomicUsize, usize);

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, Ordering::SeqCst);
    }
}

/// Moves that leave at least this many tombstones (one per moved block) are
/// followed by a rewrite of the hot tier without them.
const TOMBSTONE_COMPACTION_THRESHOLD: usize = 1_000;

/// A key no block has (block keys are 24 bytes), written and removed to
/// give the engine a memtable to seal before a tidy (see `compact`).
const TIDY_MARK: &[u8] = b"~tidy";

impl Store {
    /// Moves events ingested at least `min_age_ms` ago from the hot tier
    /// into Parquet segments (one per group and event hour). Returns the
    /// number of events moved. Safe to run while writers and readers work.
    pub async fn compact(&self, min_age_ms: i64) -> StoreResult<usize> {
        if !self.inner.orphans_checked.swap(true, Ordering::SeqCst) {
            let indexed: HashSet<String> = {
                let catalog = self.read();
                catalog
                    .scopes
                    .values()
                    .flat_map(|g| g.values())
                    .flat_map(|e| e.segments.iter().map(|s| s.path.clone()))
                    .collect()
            };
            self.inner.segment_files.remove_unindexed(&indexed).await;
        }
        let cutoff = now_ms() - min_age_ms;
        let groups: Vec<(Scope, String, u64, Vec<u64>)> = {
            let catalog = self.read();
            catalog
                .scopes
                .iter()
                .flat_map(|(scope, groups)| {
                    groups.values().map(move |e| {
                        (
                            scope.clone(),
                            e.group.name.clone(),
                            e.group.id,
                            e.streams.values().map(|s| s.id).collect(),
                        )
                    })
                })
                .collect()
        };
        let mut moved = 0;
        let mut tombstones = 0;
        for (scope, name, group_id, stream_ids) in groups {
            // A range read over the hot tier: off the async workers, so a
            // large tier never stalls requests.
            let (rows, moved_blocks) = {
                let store = self.clone();
                tokio::task::spawn_blocking(move || store.hot_rows(&stream_ids, cutoff))
                    .await
                    .map_err(|e| {
                        StoreError::ServiceUnavailable(format!("compaction stopped: {e}"))
                    })??
            };
            if rows.is_empty() {
                continue;
            }
            let count = rows.len();
            let block_count = moved_blocks.len();
            // Every hour's segment is written first; their index entries and
            // the deletion of the moved blocks then commit together (a block
            // can hold events of two hours).
            let mut metas: Vec<SegmentMeta> = Vec::new();
            let mut writes = Vec::with_capacity(moved_blocks.len() + 8);
            for (hour, rows) in by_hour(rows) {
                let (segment_id, id_write) = self.allocate_id();
                let path = format!("segments/{group_id:016x}/{hour}-{segment_id:016x}.parquet");
                // Encoding (field columns, Parquet) is CPU work: off the
                // async workers.
                let encoded = tokio::task::spawn_blocking(move || {
                    let ids = id_filter(&rows);
                    encode(&rows).map(|(buf, fields)| (rows, buf, fields, ids))
                })
                .await
                .map_err(|e| StoreError::ServiceUnavailable(format!("compaction stopped: {e}")))
                .and_then(|r| r);
                let written = async {
                    let (rows, buf, fields, ids) = encoded?;
                    let mut meta = describe(segment_id, group_id, path.clone(), &rows, fields);
                    meta.ids = ids.is_some();
                    // The id filter first: an index entry that names one is
                    // only committed once both files are durable.
                    let files = &self.inner.segment_files;
                    if let Some(ids) = ids {
                        files.write(&id_filter_path(&path), ids).await?;
                    }
                    files.write(&path, buf).await?;
                    Ok(meta)
                }
                .await;
                let meta = match written {
                    Ok(meta) => meta,
                    Err(e) => {
                        for m in &metas {
                            let _ = self.inner.segment_files.delete(m).await;
                        }
                        return Err(e);
                    }
                };
                writes.push(id_write);
                writes.push(Write::Put(
                    Space::Meta,
                    index_key(group_id, segment_id),
                    serde_json::to_vec(&meta).expect("serializes").into(),
                ));
                metas.push(meta);
            }
            writes.extend(
                moved_blocks
                    .into_iter()
                    .map(|k| Write::Delete(Space::Events, k)),
            );
            // The catalog learns of the segments before the commit, so a
            // reader never misses the events; until the commit lands it may
            // find them in both tiers, and reads drop such duplicates (same
            // timestamp and seq).
            let done = {
                let mut catalog = self.write();
                match catalog.group_mut(&scope, &name) {
                    Ok(entry) if entry.group.id == group_id => {
                        for meta in &metas {
                            let at = entry
                                .segments
                                .partition_point(|s| (s.min_ts, s.id) < (meta.min_ts, meta.id));
                            entry.segments.insert(at, meta.clone());
                        }
                        self.inner
                            .pending_segments
                            .fetch_add(metas.len(), Ordering::SeqCst);
                        Some(self.enqueue(writes))
                    }
                    // The group was deleted meanwhile: drop the files.
                    _ => None,
                }
            };
            match done {
                Some(done) => {
                    // Counted down even if this future is dropped.
                    let pending = PendingGuard(&self.inner.pending_segments, metas.len());
                    let landed = durable(done).await;
                    if landed.is_err() {
                        // The moved events stay in the hot tier: take the
                        // segments back out so nothing counts them twice.
                        if let Ok(entry) = self.write().group_mut(&scope, &name) {
                            entry
                                .segments
                                .retain(|s| !metas.iter().any(|m| m.id == s.id));
                        }
                        for m in &metas {
                            let _ = self.inner.segment_files.delete(m).await;
                        }
                    }
                    drop(pending);
                    landed?;
                    moved += count;
                    tombstones += block_count;
                }
                None => {
                    for m in &metas {
                        let _ = self.inner.segment_files.delete(m).await;
                    }
                }
            }
        }
        // The first run after opening also tidies: the journal replay brings
        // back the tombstones of moves made before a restart.
        // (A new, empty store has nothing to tidy: sealing and compacting
        // it would only set the engine's workers going.)
        let first_run = !self.inner.tidied.swap(true, Ordering::SeqCst)
            && self.inner.events.approximate_len() > 0;
        if tombstones >= TOMBSTONE_COMPACTION_THRESHOLD || first_run {
            // The moved events left tombstones in the hot tier that every
            // range read would step over; rewrite the (now small) tier
            // without them. Snapshots still in use keep what they see.
            let events = self.inner.events.clone();
            let _ = tokio::task::spawn_blocking(move || {
                // Flush the deletions first: tombstones still in the
                // memtable would survive a compaction of the disk tables.
                // The engine only moves its garbage-collection watermark
                // past them when it seals a memtable (or after every
                // 10,000th snapshot), and seals none when the background
                // flush already took the deletions: a no-op write makes
                // sure there is one to seal, so the compaction drops what
                // was moved whatever the timing.
                events.insert(TIDY_MARK, [])?;
                events.remove(TIDY_MARK)?;
                events.rotate_memtable_and_wait()?;
                events.major_compact()
            })
            .await;
        }
        Ok(moved)
    }

    /// Hot events of these streams ingested at or before `cutoff`, and the
    /// keys of the blocks holding them (whole blocks move: a block's events
    /// share one ingestion time).
    fn hot_rows(&self, stream_ids: &[u64], cutoff: i64) -> StoreResult<(Vec<Row>, Vec<Vec<u8>>)> {
        let mut rows = Vec::new();
        let mut moved = Vec::new();
        // An event's timestamp is at most `max_future_ms` ahead of its
        // ingestion, so past this timestamp nothing was ingested by the
        // cutoff: the read stops there instead of walking the whole tier.
        let newest = cutoff.saturating_add(self.inner.config.max_future_ms);
        for id in stream_ids {
            let range = keys::event(*id, i64::MIN, 0)..=keys::event(*id, newest, u64::MAX);
            for block in blocks::parsed(self.inner.events.range(range)) {
                let block = block?;
                if block.ingestion_time > cutoff {
                    continue;
                }
                for (timestamp, seq, message) in block.events() {
                    rows.push(Row {
                        stream_id: block.stream_id,
                        timestamp,
                        seq,
                        ingestion_time: block.ingestion_time,
                        message: String::from_utf8_lossy(message).into_owned(),
                    });
                }
                moved.push(block.key().to_vec());
                if rows.len() >= MAX_ROWS_PER_RUN {
                    return Ok((rows, moved));
                }
            }
        }
        Ok((rows, moved))
    }

    /// Drops segments whose newest event is older than the group's retention.
    /// Returns the number of events dropped with them.
    pub(crate) async fn drop_expired_segments(&self) -> StoreResult<usize> {
        let now = now_ms();
        let mut dropped_rows = 0;
        let (done, expired): (_, Vec<SegmentMeta>) = {
            let mut catalog = self.write();
            let mut expired = Vec::new();
            let mut writes = Vec::new();
            for groups in catalog.scopes.values_mut() {
                for entry in groups.values_mut() {
                    let Some(days) = entry.group.retention_in_days else {
                        continue;
                    };
                    let cutoff = now - i64::from(days) * 86_400_000;
                    let (gone, kept): (Vec<SegmentMeta>, Vec<SegmentMeta>) =
                        entry.segments.drain(..).partition(|s| s.max_ts < cutoff);
                    entry.segments = kept;
                    for segment in &gone {
                        writes.push(Write::Delete(
                            Space::Meta,
                            index_key(entry.group.id, segment.id),
                        ));
                        for part in &segment.streams {
                            if let Some(stream) =
                                entry.streams.values_mut().find(|s| s.id == part.stream_id)
                            {
                                stream.stored_bytes =
                                    stream.stored_bytes.saturating_sub(part.bytes);
                                writes.push(stream_write(entry.group.id, stream));
                            }
                        }
                        dropped_rows += segment.rows as usize;
                    }
                    expired.extend(gone);
                }
            }
            if writes.is_empty() {
                return Ok(0);
            }
            (self.enqueue(writes), expired)
        };
        durable(done).await?;
        for segment in &expired {
            let _ = self.inner.segment_files.delete(segment).await;
        }
        Ok(dropped_rows)
    }
}
