//! Columnar segments: the cold tier.
//!
//! In the background, events that have been in the hot tier for a while are
//! moved into Parquet files (Arrow in memory), one per log group and event
//! hour per compaction run, stored through `object_store` under
//! `segments/{group id}/{segment id}.parquet`. Rows are sorted by (stream,
//! timestamp, seq); columns are `stream_id`, `timestamp`, `seq`,
//! `ingestion_time`, `message`, then one nullable Utf8 column per field
//! column (`field:{name}`, see [`crate::fields`]) in the order of
//! [`SegmentMeta::fields`]. Segments written before field columns existed
//! have none, and are read the same way.
//!
//! Each segment has an index entry in the `meta` keyspace
//! (`X\0{group id:016x}\0{segment id:016x}` → [`SegmentMeta`]) with its time
//! range and the streams (and bytes per stream) it holds, so reads skip
//! segments by time and stream without opening them.
//!
//! A move is crash-safe: the file is written and fsynced first, then the
//! index entry and the deletion of the moved hot events commit as one atomic
//! batch. A crash in between leaves an unindexed file, removed on the next
//! start. Retention drops whole segments once their newest event expires.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, Encoding};
use parquet::bloom_filter::Sbbf;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};
use crate::fields::{choose_field_columns, FieldColumns};

/// One stored row of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) stream_id: u64,
    pub(crate) timestamp: i64,
    pub(crate) seq: u64,
    pub(crate) ingestion_time: i64,
    pub(crate) message: String,
}

/// One row of a decoded segment, without its message (see [`Decoded`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentRow {
    pub(crate) stream_id: u64,
    pub(crate) timestamp: i64,
    pub(crate) seq: u64,
    pub(crate) ingestion_time: i64,
    /// Which of the segment's message arrays holds its message, and where.
    batch: u32,
    index: u32,
}

#[cfg(test)]
impl SegmentRow {
    /// A row whose message is the first of the segment's first batch.
    pub(crate) fn without_message(stream_id: u64, timestamp: i64, seq: u64) -> SegmentRow {
        SegmentRow {
            stream_id,
            timestamp,
            seq,
            ingestion_time: timestamp,
            batch: 0,
            index: 0,
        }
    }
}

/// A segment read back: its rows in file order, and their messages left in
/// the Arrow arrays the Parquet reader decoded them into, so reading a
/// segment does not copy each message into a `String` of its own (a read
/// takes only the messages it returns).
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    pub(crate) rows: Vec<SegmentRow>,
    messages: Vec<StringArray>,
}

impl Decoded {
    /// The message of `row`, one of this segment's rows.
    pub(crate) fn message(&self, row: &SegmentRow) -> &str {
        self.messages[row.batch as usize].value(row.index as usize)
    }
}

/// Per-stream contents of a segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentStream {
    /// Stream id.
    pub stream_id: u64,
    /// Events of the stream in the segment.
    pub rows: u64,
    /// Message bytes of the stream in the segment.
    pub bytes: u64,
}

/// Index entry of one segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentMeta {
    /// Segment id (unique, never reused).
    pub id: u64,
    /// Group id.
    pub group_id: u64,
    /// Object path.
    pub path: String,
    /// Smallest event timestamp.
    pub min_ts: i64,
    /// Largest event timestamp.
    pub max_ts: i64,
    /// Rows.
    pub rows: u64,
    /// Streams present.
    pub streams: Vec<SegmentStream>,
    /// The fields kept as columns of their own (each a field name split on
    /// dots), in column order after `message`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Vec<String>>,
    /// Whether an id filter of its messages is stored beside it, at
    /// [`id_filter_path`] (segments written before id filters have none).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ids: bool,
}

impl SegmentMeta {
    /// True when the segment may hold events of `stream_id`.
    pub fn has_stream(&self, stream_id: u64) -> bool {
        self.streams.iter().any(|s| s.stream_id == stream_id)
    }

    /// True when the segment's time range meets `[lower, upper]`.
    pub fn overlaps(&self, lower: i64, upper: i64) -> bool {
        self.max_ts >= lower && self.min_ts <= upper
    }

    /// Message bytes of all its events.
    pub fn message_bytes(&self) -> u64 {
        self.streams.iter().map(|s| s.bytes).sum()
    }

    /// Average message bytes of an event (what a read that skips the
    /// messages reports as scanned per row).
    pub fn average_message_bytes(&self) -> u64 {
        self.message_bytes().checked_div(self.rows).unwrap_or(0)
    }
}

/// Index key of a segment.
pub(crate) fn index_key(group_id: u64, segment_id: u64) -> Vec<u8> {
    format!("X\0{group_id:016x}\0{segment_id:016x}").into_bytes()
}

/// Segment files behind `object_store`, with a small cache of decoded
/// segments (they are immutable).
pub(crate) struct SegmentFiles {
    store: Arc<dyn ObjectStore>,
    /// Local root, when the object store is a local folder (for fsync).
    local_root: Option<PathBuf>,
    cache: Mutex<HashMap<u64, Arc<Decoded>>>,
    /// Id filters read so far, by segment id.
    id_filters: Mutex<HashMap<u64, Arc<Sbbf>>>,
}

const CACHE_SEGMENTS: usize = 32;

/// Most id filters kept in memory (a filter is about 1.2 MB per million
/// ids).
const CACHE_ID_FILTERS: usize = 256;

/// False-positive rate of a segment's id filter: one segment in a hundred
/// that lacks an id is decoded anyway.
const ID_FILTER_FPP: f64 = 0.01;

/// Length of a hyphenated UUID.
const UUID_LEN: usize = 36;

/// Where a segment's id filter is stored, beside its file.
pub(crate) fn id_filter_path(segment_path: &str) -> String {
    format!("{segment_path}.ids")
}

/// Every 36-byte run of `text` shaped like a hyphenated UUID (hex digits
/// of either case in groups of 8, 4, 4, 4 and 12, joined by `-`), at every
/// position where that shape occurs: request ids, Lambda request ids,
/// trace ids' neighbours. Whatever text contains such a run holds it at a
/// position this finds, which is what lets an id filter of these runs say
/// for certain that a segment has no message containing a given one.
pub(crate) fn uuid_runs(text: &str) -> impl Iterator<Item = &str> + '_ {
    let bytes = text.as_bytes();
    memchr::memchr_iter(b'-', bytes).filter_map(move |dash| {
        // A run's first hyphen is its ninth byte.
        let start = dash.checked_sub(8)?;
        let run = bytes.get(start..start + UUID_LEN)?;
        let shaped = run.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
        // ASCII throughout, so the run is whole characters of `text`.
        shaped.then(|| &text[start..start + UUID_LEN])
    })
}

/// The id filter of a segment's messages: a split-block Bloom filter (the
/// one Parquet uses for its own column filters) of every UUID-shaped run
/// in them ([`uuid_runs`]), as bytes to store beside the segment; `None`
/// when no message holds one.
pub(crate) fn id_filter(rows: &[Row]) -> Option<Vec<u8>> {
    let runs: Vec<&str> = rows.iter().flat_map(|r| uuid_runs(&r.message)).collect();
    if runs.is_empty() {
        return None;
    }
    let mut filter = Sbbf::new_with_ndv_fpp(runs.len() as u64, ID_FILTER_FPP).ok()?;
    for run in &runs {
        filter.insert(*run);
    }
    let mut out = Vec::new();
    filter.write_bitset(&mut out).ok()?;
    Some(out)
}

/// Rows of a Parquet row group in a segment (the writer's limit).
const ROW_GROUP_ROWS: usize = 65_536;

/// A read whose time range covers less than this share (1/n) of a
/// segment's span decodes only the row groups it meets (see
/// [`SegmentFiles::rows_within`]). A read that pages on through the rest
/// of a segment covers more and decodes it once, into the cache.
const PARTIAL_SHARE: i64 = 2;

/// Columns every segment has, before its field columns.
pub(crate) const BASE_COLUMNS: usize = 5;

/// The Arrow schema a segment with these field columns is written with.
pub(crate) fn segment_schema(fields: &[Vec<String>]) -> Arc<Schema> {
    let mut columns = vec![
        Field::new("stream_id", DataType::UInt64, false),
        Field::new("timestamp", DataType::Int64, false),
        Field::new("seq", DataType::UInt64, false),
        Field::new("ingestion_time", DataType::Int64, false),
        Field::new("message", DataType::Utf8, false),
    ];
    for f in fields {
        columns.push(Field::new(field_column_name(f), DataType::Utf8, true));
    }
    Arc::new(Schema::new(columns))
}

/// The Parquet column name of a field column.
pub(crate) fn field_column_name(field: &[String]) -> String {
    format!("field:{}", field.join("."))
}

/// The field columns for `rows`: the chosen fields and one array each, or
/// none when some message is broken JSON (see [`crate::fields`]).
fn field_columns(rows: &[Row]) -> (Vec<Vec<String>>, Vec<ArrayRef>) {
    let fields = choose_field_columns(rows.iter().map(|r| r.message.as_str()));
    if fields.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let mut columns = FieldColumns::new(fields.len(), rows.len());
    let mut found = vec![None; fields.len()];
    for r in rows {
        if !columns.append(&r.message, &fields, &mut found) {
            tracing::debug!(
                stream_id = r.stream_id,
                timestamp = r.timestamp,
                "broken JSON message: segment keeps no field columns"
            );
            return (Vec::new(), Vec::new());
        }
    }
    let arrays = columns.finish();
    (fields, arrays)
}

/// Encodes rows (sorted by stream, timestamp, seq) as a Parquet file with
/// their field columns; returns the file and the fields it keeps.
pub(crate) fn encode(rows: &[Row]) -> StoreResult<(Vec<u8>, Vec<Vec<String>>)> {
    let (fields, extra) = field_columns(rows);
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(UInt64Array::from_iter_values(
            rows.iter().map(|r| r.stream_id),
        )),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.timestamp),
        )),
        Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.seq))),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.ingestion_time),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.message.as_str()),
        )),
    ];
    columns.extend(extra);
    let schema = segment_schema(&fields);
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns).map_err(storage_error)?;
    // Numbers are small next to the messages: stored so they decode
    // fastest (delta-packed, not compressed; streams as a dictionary), as
    // every query reads them. Text is dictionary-encoded where it repeats
    // and LZ4-compressed: queries that read messages spend most of their
    // time decompressing them, and LZ4 decompresses faster than Snappy at
    // about the same size. Segments written with Snappy read as before; a
    // gatewatch older than LZ4 segments cannot read these, so going back
    // to one after a compaction loses the queries over them.
    let props = WriterProperties::builder()
        .set_compression(Compression::LZ4_RAW)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_column_compression(ColumnPath::from("stream_id"), Compression::UNCOMPRESSED)
        .set_column_dictionary_enabled(ColumnPath::from("stream_id"), true);
    let props = ["timestamp", "seq", "ingestion_time"]
        .into_iter()
        .fold(props, |p, c| {
            p.set_column_compression(ColumnPath::from(c), Compression::UNCOMPRESSED)
                .set_column_dictionary_enabled(ColumnPath::from(c), false)
                .set_column_encoding(ColumnPath::from(c), Encoding::DELTA_BINARY_PACKED)
        })
        .set_column_dictionary_enabled(ColumnPath::from("message"), false)
        .build();
    let mut buf = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buf, schema, Some(props)).map_err(storage_error)?;
    writer.write(&batch).map_err(storage_error)?;
    writer.close().map_err(storage_error)?;
    Ok((buf, fields))
}

fn storage_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::ServiceUnavailable(format!("segment storage failed: {e}"))
}

impl SegmentFiles {
    /// Segments in a local folder.
    pub(crate) fn local(root: PathBuf) -> StoreResult<SegmentFiles> {
        std::fs::create_dir_all(&root).map_err(storage_error)?;
        let store =
            object_store::local::LocalFileSystem::new_with_prefix(&root).map_err(storage_error)?;
        Ok(SegmentFiles {
            store: Arc::new(store),
            local_root: Some(root),
            cache: Mutex::new(HashMap::new()),
            id_filters: Mutex::new(HashMap::new()),
        })
    }

    /// The file of a segment, when segments are in a local folder.
    pub(crate) fn local_path(&self, path: &str) -> Option<PathBuf> {
        self.local_root.as_ref().map(|root| root.join(path))
    }

    /// The object store holding the files.
    pub(crate) fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Stores an encoded segment durably at `path`.
    pub(crate) async fn write(&self, path: &str, buf: Vec<u8>) -> StoreResult<()> {
        self.store
            .put(&ObjectPath::from(path), PutPayload::from(buf))
            .await
            .map_err(storage_error)?;
        // The object store renames a complete file into place; make that
        // durable before the index entry that points at it is committed.
        if let Some(root) = &self.local_root {
            let full = root.join(path);
            let sync = move || -> std::io::Result<()> {
                std::fs::File::open(&full)?.sync_all()?;
                if let Some(dir) = full.parent() {
                    std::fs::File::open(dir)?.sync_all()?;
                }
                Ok(())
            };
            tokio::task::spawn_blocking(sync)
                .await
                .map_err(storage_error)?
                .map_err(storage_error)?;
        }
        Ok(())
    }

    /// A segment's decoded rows, when they are in the cache.
    fn cached(&self, meta: &SegmentMeta) -> Option<Arc<Decoded>> {
        cached(&self.cache, meta.id)
    }

    /// The bytes of the object at `path` (a segment's file, an id filter).
    async fn object_bytes(&self, path: &str) -> StoreResult<bytes::Bytes> {
        self.store
            .get(&ObjectPath::from(path))
            .await
            .map_err(storage_error)?
            .bytes()
            .await
            .map_err(storage_error)
    }

    /// The rows of a segment (cached).
    pub(crate) async fn rows(&self, meta: &SegmentMeta) -> StoreResult<Arc<Decoded>> {
        if let Some(rows) = self.cached(meta) {
            return Ok(rows);
        }
        let bytes = self.object_bytes(&meta.path).await?;
        let rows = tokio::task::spawn_blocking(move || decode(bytes, None))
            .await
            .map_err(storage_error)??;
        let rows = Arc::new(rows);
        keep(&self.cache, CACHE_SEGMENTS, meta.id, Arc::clone(&rows));
        Ok(rows)
    }

    /// The rows of a segment a read of timestamps `[lower, upper]` needs:
    /// all of them, as [`SegmentFiles::rows`] gives them (and caches), when
    /// the segment is already decoded, holds one row group, or the range
    /// covers half of its span or more; otherwise only the rows of the
    /// row groups whose timestamps meet the range, decoded for this read
    /// alone. A segment's rows are sorted by (stream, timestamp, seq), so
    /// each row group spans a short time within one stream or a few, and a
    /// narrow read (`gatewatch trace` of an old request, a filter over a
    /// minute of last week) decodes a row group or two of a segment rather
    /// than its up to a million rows.
    pub(crate) async fn rows_within(
        &self,
        meta: &SegmentMeta,
        lower: i64,
        upper: i64,
    ) -> StoreResult<Arc<Decoded>> {
        if let Some(rows) = self.cached(meta) {
            return Ok(rows);
        }
        let span = i128::from(meta.max_ts) - i128::from(meta.min_ts);
        let wanted = i128::from(upper.min(meta.max_ts)) - i128::from(lower.max(meta.min_ts));
        if meta.rows <= ROW_GROUP_ROWS as u64 || wanted * i128::from(PARTIAL_SHARE) >= span {
            return self.rows(meta).await;
        }
        let bytes = self.object_bytes(&meta.path).await?;
        let rows = tokio::task::spawn_blocking(move || decode(bytes, Some((lower, upper))))
            .await
            .map_err(storage_error)??;
        Ok(Arc::new(rows))
    }

    /// Whether the segment may hold a message containing every one of
    /// `ids` (UUID-shaped texts, see [`uuid_runs`]): false only when its id
    /// filter lacks one of them, so a read can pass over the segment
    /// without decoding it. A segment without a filter, or whose filter
    /// cannot be read, may hold anything.
    pub(crate) async fn may_hold(&self, meta: &SegmentMeta, ids: &[&str]) -> bool {
        if ids.is_empty() || !meta.ids {
            return true;
        }
        let filter = match cached(&self.id_filters, meta.id) {
            Some(f) => f,
            None => {
                let Ok(bytes) = self.object_bytes(&id_filter_path(&meta.path)).await else {
                    return true;
                };
                let filter = Arc::new(Sbbf::new(&bytes));
                keep(
                    &self.id_filters,
                    CACHE_ID_FILTERS,
                    meta.id,
                    Arc::clone(&filter),
                );
                filter
            }
        };
        ids.iter().all(|id| filter.check(*id))
    }

    /// Deletes a segment file and its id filter.
    pub(crate) async fn delete(&self, meta: &SegmentMeta) -> StoreResult<()> {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(&meta.id);
        }
        if let Ok(mut cache) = self.id_filters.lock() {
            cache.remove(&meta.id);
        }
        if meta.ids {
            match self
                .store
                .delete(&ObjectPath::from(id_filter_path(&meta.path).as_str()))
                .await
            {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(storage_error(e)),
            }
        }
        match self
            .store
            .delete(&ObjectPath::from(meta.path.as_str()))
            .await
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(storage_error(e)),
        }
    }

    /// Removes files that no index entry points at (left by a crash between
    /// writing a segment and committing its index entry), with their id
    /// filters.
    pub(crate) async fn remove_unindexed(&self, indexed: &std::collections::HashSet<String>) {
        use futures_util::StreamExt;
        let mut listing = self.store.list(Some(&ObjectPath::from("segments")));
        let mut orphans = Vec::new();
        while let Some(item) = listing.next().await {
            if let Ok(meta) = item {
                let path: &str = meta.location.as_ref();
                // An id filter belongs to the segment it sits beside.
                let owner = path.strip_suffix(".ids").unwrap_or(path);
                if !indexed.contains(owner) {
                    orphans.push(meta.location);
                }
            }
        }
        for path in orphans {
            tracing::info!(path = %path, "removing segment file without index entry");
            let _ = self.store.delete(&path).await;
        }
    }
}

/// The value cached for segment `id`, if any.
fn cached<V: Clone>(cache: &Mutex<HashMap<u64, V>>, id: u64) -> Option<V> {
    cache.lock().ok().and_then(|c| c.get(&id).cloned())
}

/// Caches `value` for segment `id`, first dropping an entry when the cache
/// holds `limit` (segments are immutable, so any entry may go).
fn keep<V>(cache: &Mutex<HashMap<u64, V>>, limit: usize, id: u64, value: V) {
    if let Ok(mut cache) = cache.lock() {
        if cache.len() >= limit {
            if let Some(k) = cache.keys().next().copied() {
                cache.remove(&k);
            }
        }
        cache.insert(id, value);
    }
}

/// Whether a row group may hold a timestamp in `[lower, upper]`, by its
/// timestamp column's statistics (a row group without them may).
fn row_group_meets(
    group: &parquet::file::metadata::RowGroupMetaData,
    lower: i64,
    upper: i64,
) -> bool {
    use parquet::file::statistics::Statistics;
    match group.column(TIMESTAMP_COLUMN).statistics() {
        Some(Statistics::Int64(s)) => match (s.min_opt(), s.max_opt()) {
            (Some(&min), Some(&max)) => max >= lower && min <= upper,
            _ => true,
        },
        _ => true,
    }
}

/// Index of the timestamp column (a leaf of its own, after `stream_id`).
const TIMESTAMP_COLUMN: usize = 1;

/// Decodes a segment file: every row, or with `within = Some((lower,
/// upper))` only the rows of the row groups that may hold a timestamp in
/// that range (in file order, so still sorted by stream, timestamp, seq).
fn decode(bytes: bytes::Bytes, within: Option<(i64, i64)>) -> StoreResult<Decoded> {
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(storage_error)?;
    if let Some((lower, upper)) = within {
        let groups: Vec<usize> = builder
            .metadata()
            .row_groups()
            .iter()
            .enumerate()
            .filter(|(_, g)| row_group_meets(g, lower, upper))
            .map(|(i, _)| i)
            .collect();
        builder = builder.with_row_groups(groups);
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), 0..BASE_COLUMNS);
    let reader = builder
        .with_projection(mask)
        .build()
        .map_err(storage_error)?;
    let mut decoded = Decoded::default();
    for batch in reader {
        let batch = batch.map_err(storage_error)?;
        let col = |i: usize| Arc::clone(batch.column(i));
        let streams = col(0);
        let ts = col(1);
        let seq = col(2);
        let ing = col(3);
        let msg = col(4);
        let (Some(streams), Some(ts), Some(seq), Some(ing), Some(msg)) = (
            streams.as_any().downcast_ref::<UInt64Array>(),
            ts.as_any().downcast_ref::<Int64Array>(),
            seq.as_any().downcast_ref::<UInt64Array>(),
            ing.as_any().downcast_ref::<Int64Array>(),
            msg.as_any().downcast_ref::<StringArray>(),
        ) else {
            return Err(storage_error("unexpected segment schema"));
        };
        let batch_index = decoded.messages.len() as u32;
        decoded.rows.reserve(batch.num_rows());
        for i in 0..batch.num_rows() {
            decoded.rows.push(SegmentRow {
                stream_id: streams.value(i),
                timestamp: ts.value(i),
                seq: seq.value(i),
                ingestion_time: ing.value(i),
                batch: batch_index,
                index: i as u32,
            });
        }
        decoded.messages.push(msg.clone());
    }
    Ok(decoded)
}

/// Groups rows by event hour, each group sorted by (stream, timestamp, seq).
pub(crate) fn by_hour(mut rows: Vec<Row>) -> BTreeMap<i64, Vec<Row>> {
    rows.sort_by_key(|r| (r.stream_id, r.timestamp, r.seq));
    let mut out: BTreeMap<i64, Vec<Row>> = BTreeMap::new();
    for r in rows {
        out.entry(r.timestamp.div_euclid(3_600_000))
            .or_default()
            .push(r);
    }
    out
}

/// Builds the index entry for rows about to be written.
pub(crate) fn describe(
    id: u64,
    group_id: u64,
    path: String,
    rows: &[Row],
    fields: Vec<Vec<String>>,
) -> SegmentMeta {
    let mut streams: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for r in rows {
        let e = streams.entry(r.stream_id).or_default();
        e.0 += 1;
        e.1 += r.message.len() as u64;
    }
    SegmentMeta {
        id,
        group_id,
        path,
        min_ts: rows.iter().map(|r| r.timestamp).min().unwrap_or(0),
        max_ts: rows.iter().map(|r| r.timestamp).max().unwrap_or(0),
        rows: rows.len() as u64,
        streams: streams
            .into_iter()
            .map(|(stream_id, (rows, bytes))| SegmentStream {
                stream_id,
                rows,
                bytes,
            })
            .collect(),
        fields,
        ids: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(stream_id: u64, count: usize, step_ms: i64) -> Vec<Row> {
        (0..count)
            .map(|i| Row {
                stream_id,
                timestamp: 1_000_000 + i as i64 * step_ms,
                seq: i as u64,
                ingestion_time: 0,
                message: format!("s{stream_id} e{i}"),
            })
            .collect()
    }

    fn timestamps(d: &Decoded, stream_id: u64) -> Vec<i64> {
        d.rows
            .iter()
            .filter(|r| r.stream_id == stream_id)
            .map(|r| r.timestamp)
            .collect()
    }

    #[test]
    fn a_narrow_range_decodes_only_the_row_groups_it_meets() {
        // Two streams of 100,000 rows each, the same times: four row groups.
        let mut all = rows(1, 100_000, 10);
        all.extend(rows(2, 100_000, 10));
        let (file, _) = encode(&all).unwrap();
        let file = bytes::Bytes::from(file);
        let whole = decode(file.clone(), None).unwrap();
        assert_eq!(whole.rows.len(), 200_000);

        // Rows 70,000..=70,010 of each stream: stream 1's are in the second
        // row group (which also holds stream 2's first rows, so it spans
        // every time), stream 2's in the third; the first and fourth are
        // not decoded.
        let (lower, upper) = (1_000_000 + 700_000, 1_000_000 + 700_100);
        let part = decode(file.clone(), Some((lower, upper))).unwrap();
        assert_eq!(part.rows.len(), 2 * ROW_GROUP_ROWS);
        for stream in [1, 2] {
            let got = timestamps(&part, stream);
            let want: Vec<i64> = timestamps(&whole, stream)
                .into_iter()
                .filter(|t| (lower..=upper).contains(t))
                .collect();
            assert_eq!(want.len(), 11);
            assert!(want.iter().all(|t| got.contains(t)), "stream {stream}");
            // Still sorted, and each row's message is its own.
            assert!(got.windows(2).all(|w| w[0] < w[1]));
        }
        let row = part
            .rows
            .iter()
            .find(|r| r.timestamp == lower && r.stream_id == 2)
            .unwrap();
        assert_eq!(part.message(row), "s2 e70000");

        // A range before every row: nothing decoded.
        assert!(decode(file, Some((0, 999_999))).unwrap().rows.is_empty());
    }

    #[test]
    fn uuid_runs_are_found_wherever_the_shape_occurs() {
        let id = "9327c035-26e3-4801-b724-88317a0869c1";
        let runs = |t: &str| uuid_runs(t).map(String::from).collect::<Vec<_>>();
        assert_eq!(runs(&format!("({id}) Starting execution")), [id]);
        assert_eq!(runs(id), [id]);
        assert_eq!(runs(&format!("{{\"requestId\":\"{id}\"}}")), [id]);
        // Hex on either side: the run is still where it is.
        assert_eq!(runs(&format!("a{id}f")), [id]);
        // Upper case counts, as written.
        let upper = id.to_ascii_uppercase();
        assert_eq!(runs(&upper), [upper.as_str()]);
        // Two ids, and near misses.
        let other = "515f1e99-39db-41e9-9e96-01e5c04505b9";
        assert_eq!(runs(&format!("{id} then {other}")), [id, other]);
        assert!(runs("9327c035-26e3-4801-b724-88317a0869c").is_empty());
        assert!(runs("9327c035-26e3-4801-b724_88317a0869c1").is_empty());
        assert!(runs("g327c035-26e3-4801-b724-88317a0869c1").is_empty());
        assert!(runs("no-ids-here, é-ü-ß").is_empty());
    }

    #[test]
    fn an_id_filter_has_every_id_of_its_rows_and_rejects_others() {
        let rows: Vec<Row> = (0..5_000u32)
            .map(|i| Row {
                stream_id: 1,
                timestamp: i64::from(i),
                seq: u64::from(i),
                ingestion_time: 0,
                message: format!("(00000000-0000-4000-8000-{i:012x}) line"),
            })
            .collect();
        let filter = Sbbf::new(&id_filter(&rows).unwrap());
        for i in 0..5_000u32 {
            assert!(filter.check(&*format!("00000000-0000-4000-8000-{i:012x}")));
        }
        // With a 1 % false-positive rate, most absent ids are rejected.
        let rejected = (5_000..6_000u32)
            .filter(|i| !filter.check(&*format!("00000000-0000-4000-8000-{i:012x}")))
            .count();
        assert!(rejected > 950, "{rejected}");
        // Messages without ids: no filter.
        let plain = vec![Row {
            stream_id: 1,
            timestamp: 0,
            seq: 0,
            ingestion_time: 0,
            message: "no ids".into(),
        }];
        assert!(id_filter(&plain).is_none());
    }
}
