//! Bulk scans for queries (Logs Insights).
//!
//! [`Store::scan`] pins a consistent view of several log groups over a time
//! range — the cold-tier segments that overlap it and a snapshot of the hot
//! tier — and splits the work into [`ScanPart`]s (one per segment, one per hot
//! stream) that can be read in parallel. Each part is read as a stream of
//! Arrow record batches with the columns of [`scan_schema`], produced on a
//! blocking thread and handed over through a small bounded channel, so a
//! query over millions of events holds only a few batches in memory.
//!
//! Pruning: segments outside the range are never opened and hot streams
//! whose first/last event times miss it are skipped; rows are then cut to the
//! exact range and to the group's retention. The message column can be left
//! out when a query does not need it.
//!
//! Fields: a read can ask for JSON fields of the messages (see
//! [`crate::fields`]); each comes back as a nullable Utf8View column after the
//! base columns. A segment that keeps all of them as field columns answers
//! from those columns without reading its messages; other parts parse each
//! message once for all the fields asked.
//!
//! Counted reads ([`ReadOptions::counted`], for queries that only count
//! events per field values) give a count per value tuple instead of rows;
//! segments answer them from their field columns' dictionary codes (see
//! `counts`).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use arrow_array::builder::{Int64Builder, StringBuilder, UInt64Builder};
use arrow_array::{
    Array, ArrayRef, DictionaryArray, Int32Array, Int64Array, RecordBatch, StringArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use fjall::Readable;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStoreExt;
use parquet::arrow::arrow_reader::{
    ArrowReaderOptions, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;

use crate::blocks;
use crate::error::{StoreError, StoreResult};
use crate::events::Key;
use crate::fields::FieldColumns;
use crate::keys;
use crate::model::Scope;
use crate::segments::{field_column_name, segment_schema, SegmentMeta, BASE_COLUMNS};
use crate::Store;

mod counts;

/// Rows per produced batch.
pub const SCAN_BATCH_ROWS: usize = 8192;

/// Column names of scan batches.
pub mod columns {
    /// Log group name (dictionary-encoded).
    pub const GROUP: &str = "group";
    /// Log stream name (dictionary-encoded).
    pub const STREAM: &str = "stream";
    /// Event time, ms since the epoch.
    pub const TIMESTAMP: &str = "timestamp";
    /// Ingestion time, ms since the epoch.
    pub const INGESTION_TIME: &str = "ingestion_time";
    /// Store-wide sequence number (unique per event).
    pub const SEQ: &str = "seq";
    /// The message (empty strings when not requested).
    pub const MESSAGE: &str = "message";
    /// Events a row stands for (counted reads only, see
    /// [`super::ReadOptions::counted`]).
    pub const COUNT: &str = "count";
}

fn dict_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// Schema of a scan batch without fields: group, stream, timestamp,
/// ingestion_time, seq, message.
pub fn scan_schema() -> SchemaRef {
    scan_schema_with(0)
}

/// Columns of [`scan_schema`].
pub const BASE_SCAN_COLUMNS: usize = 6;

/// Schema of a scan batch with `fields` fields asked: the base columns,
/// then `f0`, `f1`, ... (nullable Utf8View), one per field in the order
/// asked. Field values are short and repeat (statuses, paths, addresses):
/// as string views a segment's dictionary-encoded column is read without
/// copying each row's text, and grouping compares values up to 12 bytes as
/// integers.
pub fn scan_schema_with(fields: usize) -> SchemaRef {
    let mut columns = vec![
        Field::new(columns::GROUP, dict_type(), false),
        Field::new(columns::STREAM, dict_type(), false),
        Field::new(columns::TIMESTAMP, DataType::Int64, false),
        Field::new(columns::INGESTION_TIME, DataType::Int64, false),
        Field::new(columns::SEQ, DataType::UInt64, false),
        Field::new(columns::MESSAGE, DataType::Utf8, false),
    ];
    for k in 0..fields {
        columns.push(Field::new(format!("f{k}"), DataType::Utf8View, true));
    }
    Arc::new(Schema::new(columns))
}

/// Schema of a counted read's batches (see [`ReadOptions::counted`]): the
/// columns of [`scan_schema_with`]`(fields)`, then `count` (Int64).
pub fn counted_scan_schema(fields: usize) -> SchemaRef {
    let base = scan_schema_with(fields);
    let mut columns: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
    columns.push(Field::new(columns::COUNT, DataType::Int64, false));
    Arc::new(Schema::new(columns))
}

/// What a part read returns besides the base columns. The default asks for
/// no message, no fields, no seq or ingestion time, but true times and
/// streams.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Fill the message column (otherwise it holds empty strings).
    pub message: bool,
    /// JSON fields to return, each a field name split on dots.
    pub fields: Arc<Vec<Vec<String>>>,
    /// Fill the seq column (otherwise zeros; segments skip it).
    pub seq: bool,
    /// Fill the ingestion_time column (otherwise zeros; segments skip it).
    pub ingestion_time: bool,
    /// Fill the timestamp and stream columns. When false, a segment that
    /// lies wholly in the scan's range and holds only live streams is read
    /// without them (they then hold zeros and the group's first stream):
    /// for queries that only count or group by fields.
    pub locate: bool,
    /// Count instead of listing: batches have the schema of
    /// [`counted_scan_schema`], each row standing for `count` events whose
    /// fields hold the row's values (a value tuple may come in several
    /// rows; the reader sums them). A segment that `locate: false` lets
    /// skip its times and streams and that keeps every asked field as a
    /// column is counted on its columns' dictionary codes (for up to three
    /// fields), without producing a row per event; other parts give their
    /// rows with a count of 1. Only the fields and the count are meaningful
    /// in a counted read: the other columns hold placeholders for the
    /// aggregated rows.
    pub counted: bool,
}

impl Default for ReadOptions {
    fn default() -> ReadOptions {
        ReadOptions {
            message: false,
            fields: Arc::default(),
            seq: false,
            ingestion_time: false,
            locate: true,
            counted: false,
        }
    }
}

impl ReadOptions {
    /// Every base column, with or without the message, and no fields.
    pub fn all(message: bool) -> ReadOptions {
        ReadOptions {
            message,
            fields: Arc::default(),
            seq: true,
            ingestion_time: true,
            locate: true,
            counted: false,
        }
    }
}

/// One group of a scan.
#[derive(Debug, Clone)]
pub struct ScanGroup {
    /// Group name.
    pub name: String,
    /// Stream names in id order (dictionary values) and id → dictionary key.
    dict_values: Arc<StringArray>,
    dict_keys: HashMap<u64, i32>,
    /// The group column of a full batch (every row the group's name),
    /// built once: batches take slices of it instead of building and
    /// validating their own.
    group_column: DictionaryArray<arrow_array::types::Int32Type>,
    /// Likewise for [`ScanGroup::first_stream_column`].
    first_stream_column: DictionaryArray<arrow_array::types::Int32Type>,
}

/// A dictionary column of `n` rows whose keys are all 0 (every row holds
/// the first of `values`).
fn zero_keyed(
    values: ArrayRef,
    n: usize,
) -> StoreResult<DictionaryArray<arrow_array::types::Int32Type>> {
    DictionaryArray::try_new(BLANKS.keys(n), values).map_err(storage_error)
}

/// `n` rows of a [`zero_keyed`] column: a slice of `full`, or a new column
/// past its length.
fn constant_column(
    full: &DictionaryArray<arrow_array::types::Int32Type>,
    n: usize,
) -> StoreResult<ArrayRef> {
    if n <= full.len() {
        return Ok(Arc::new(full.slice(0, n)));
    }
    Ok(Arc::new(zero_keyed(Arc::clone(full.values()), n)?))
}

impl ScanGroup {
    /// The group column of a batch of `n` rows.
    fn group_column(&self, n: usize) -> StoreResult<ArrayRef> {
        constant_column(&self.group_column, n)
    }

    /// A stream column of `n` rows that all name the group's first stream
    /// (the placeholder of scans that do not ask for streams).
    fn first_stream_column(&self, n: usize) -> StoreResult<ArrayRef> {
        constant_column(&self.first_stream_column, n)
    }
}

/// One independently readable piece of a scan.
#[derive(Debug, Clone)]
pub enum ScanPart {
    /// A cold-tier Parquet segment.
    Segment {
        /// Index into [`Scan::groups`].
        group: usize,
        /// The segment.
        meta: SegmentMeta,
    },
    /// The hot-tier events of one stream.
    Hot {
        /// Index into [`Scan::groups`].
        group: usize,
        /// Stream id.
        stream_id: u64,
        /// Message bytes the stream holds (an upper bound for the part).
        bytes: u64,
    },
}

impl ScanPart {
    /// A rough size, used to balance parts over partitions.
    pub fn weight(&self) -> u64 {
        match self {
            ScanPart::Segment { meta, .. } => meta.message_bytes(),
            ScanPart::Hot { bytes, .. } => *bytes,
        }
    }
}

/// A pinned, consistent view of some groups over a time range.
pub struct Scan {
    store: Store,
    snapshot: Arc<fjall::Snapshot>,
    /// The groups, in the order asked.
    pub groups: Vec<ScanGroup>,
    /// The parts to read.
    pub parts: Vec<ScanPart>,
    /// Inclusive lower time bound (retention applied per group on read).
    lower: Vec<i64>,
    upper: i64,
    /// Message bytes of the rows read so far (estimated where a part was
    /// answered from field columns).
    bytes_read: std::sync::atomic::AtomicU64,
}

impl Store {
    /// Pins a view of `groups` (names in `scope`) for `start <= timestamp <=
    /// end`. Unknown groups are a `ResourceNotFoundException`.
    ///
    /// While a compaction is committing a segment its events are briefly in
    /// both tiers; the scan waits (milliseconds) for such commits to land so
    /// it never counts an event twice.
    pub async fn scan(
        &self,
        scope: &Scope,
        groups: &[String],
        start: i64,
        end: i64,
    ) -> StoreResult<Scan> {
        for _ in 0..5_000 {
            if self.inner.pending_segments.load(Ordering::SeqCst) == 0 {
                if let Some(scan) = self.pin(scope, groups, start, end)? {
                    return Ok(scan);
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        Err(StoreError::ServiceUnavailable(
            "the store is busy compacting; retry the query".into(),
        ))
    }

    /// The view, or `None` when a segment commit is in flight.
    fn pin(
        &self,
        scope: &Scope,
        groups: &[String],
        start: i64,
        end: i64,
    ) -> StoreResult<Option<Scan>> {
        let catalog = self.read();
        // Segments are inserted (and counted pending) under the catalog's
        // write lock, so none can appear while this read lock is held.
        if self.inner.pending_segments.load(Ordering::SeqCst) != 0 {
            return Ok(None);
        }
        let snapshot = Arc::new(self.inner.db.snapshot());
        let mut out_groups = Vec::with_capacity(groups.len());
        let mut parts = Vec::new();
        let mut lower = Vec::with_capacity(groups.len());
        for (gi, name) in groups.iter().enumerate() {
            let entry = catalog.group(scope, name)?;
            let cutoff = entry
                .group
                .retention_in_days
                .map(|d| crate::now_ms() - i64::from(d) * 86_400_000);
            let lo = start.max(cutoff.unwrap_or(i64::MIN));
            lower.push(lo);
            let mut ids: Vec<(u64, &str)> = entry
                .streams
                .values()
                .map(|s| (s.id, s.name.as_str()))
                .collect();
            ids.sort_unstable();
            let dict_values = Arc::new(StringArray::from_iter_values(ids.iter().map(|(_, n)| *n)));
            let dict_keys = ids
                .iter()
                .enumerate()
                .map(|(k, (id, _))| (*id, k as i32))
                .collect();
            let group_name: ArrayRef = Arc::new(StringArray::from(vec![name.as_str()]));
            let group_column = zero_keyed(Arc::clone(&group_name), SCAN_BATCH_ROWS)?;
            // A group without streams has no rows to give; its placeholder
            // then names the group instead (never read).
            let first_stream_values = if dict_values.is_empty() {
                group_name
            } else {
                Arc::clone(&dict_values) as ArrayRef
            };
            let first_stream_column = zero_keyed(first_stream_values, SCAN_BATCH_ROWS)?;
            out_groups.push(ScanGroup {
                name: name.clone(),
                dict_values,
                dict_keys,
                group_column,
                first_stream_column,
            });
            if lo > end {
                continue;
            }
            for meta in &entry.segments {
                if meta.overlaps(lo, end) {
                    parts.push(ScanPart::Segment {
                        group: gi,
                        meta: meta.clone(),
                    });
                }
            }
            for s in entry.streams.values() {
                let misses = match (s.first_event_timestamp, s.last_event_timestamp) {
                    (Some(first), Some(last)) => last < lo || first > end,
                    _ => true,
                };
                if !misses {
                    parts.push(ScanPart::Hot {
                        group: gi,
                        stream_id: s.id,
                        bytes: s.stored_bytes,
                    });
                }
            }
        }
        Ok(Some(Scan {
            store: self.clone(),
            snapshot,
            groups: out_groups,
            parts,
            lower,
            upper: end,
            bytes_read: std::sync::atomic::AtomicU64::new(0),
        }))
    }
}

/// The dictionary keys of a segment batch's kept rows and, when some are
/// dropped (a deleted stream's leftovers, rows outside `[lo, hi]`), which
/// rows are kept (empty when all are).
fn kept_rows(
    g: &ScanGroup,
    lo: i64,
    hi: i64,
    ids: &[u64],
    all_times: &[i64],
) -> (Vec<i32>, Vec<bool>) {
    let n = ids.len();
    let mut keys: Vec<i32> = Vec::with_capacity(n);
    // Which rows are kept; `None` while every row so far is.
    let mut keep: Option<Vec<bool>> = None;
    // Rows are sorted by stream: a batch is a few runs of one stream's
    // events, each usually live and wholly in range, so a run's key is
    // looked up once and its rows are checked with vector code.
    let mut start = 0;
    while start < n {
        let id = ids[start];
        let end = start
            + ids[start..]
                .iter()
                .position(|&x| x != id)
                .unwrap_or(n - start);
        let run = &all_times[start..end];
        let key = g.dict_keys.get(&id).copied();
        let (min_t, max_t) = run
            .iter()
            .fold((i64::MAX, i64::MIN), |(a, b), &t| (a.min(t), b.max(t)));
        match key {
            Some(k) if min_t >= lo && max_t <= hi => {
                keys.resize(keys.len() + run.len(), k);
                if let Some(keep) = keep.as_mut() {
                    keep.resize(end, true);
                }
            }
            // A deleted stream's leftovers, or rows outside the range.
            _ => {
                let keep = keep.get_or_insert_with(|| {
                    let mut all = Vec::with_capacity(n);
                    all.resize(start, true);
                    all
                });
                for &t in run {
                    let kept = key.filter(|_| t >= lo && t <= hi);
                    keep.push(kept.is_some());
                    keys.extend(kept);
                }
            }
        }
        start = end;
    }
    (keys, keep.unwrap_or_default())
}

/// A reader of a segment's columns `leaves` (root column indices) in
/// batches of [`SCAN_BATCH_ROWS`], its field columns read as `fields`.
fn segment_reader<R: parquet::file::reader::ChunkReader + 'static>(
    meta: &SegmentMeta,
    bytes: R,
    fields: &DataType,
    leaves: impl IntoIterator<Item = usize>,
) -> StoreResult<ParquetRecordBatchReader> {
    let hint = ArrowReaderOptions::new().with_schema(segment_read_schema(meta, fields));
    let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(bytes, hint)
        .map_err(storage_error)?
        .with_batch_size(SCAN_BATCH_ROWS);
    let mask = ProjectionMask::roots(builder.parquet_schema(), leaves);
    builder.with_projection(mask).build().map_err(storage_error)
}

/// The schema a segment is read with: as written, but its field columns as
/// `fields` (string views for rows, dictionaries for counting).
fn segment_read_schema(meta: &SegmentMeta, fields: &DataType) -> SchemaRef {
    let written = segment_schema(&meta.fields);
    let fields: Vec<Field> = written
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if i >= BASE_COLUMNS {
                f.as_ref().clone().with_data_type(fields.clone())
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    Arc::new(Schema::new(fields))
}

fn storage_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::ServiceUnavailable(format!("scan failed: {e}"))
}

/// Collects rows into scan batches.
struct BatchBuilder {
    /// The group's column of a full batch (see `ScanGroup::group_column`).
    group: DictionaryArray<arrow_array::types::Int32Type>,
    stream_values: Arc<StringArray>,
    stream_keys: Vec<i32>,
    ts: Int64Builder,
    ing: Int64Builder,
    seq: UInt64Builder,
    msg: StringBuilder,
    fields: FieldColumns,
}

impl BatchBuilder {
    fn new(group: &ScanGroup, fields: usize) -> BatchBuilder {
        BatchBuilder {
            group: group.group_column.clone(),
            stream_values: Arc::clone(&group.dict_values),
            stream_keys: Vec::with_capacity(SCAN_BATCH_ROWS),
            ts: Int64Builder::with_capacity(SCAN_BATCH_ROWS),
            ing: Int64Builder::with_capacity(SCAN_BATCH_ROWS),
            seq: UInt64Builder::with_capacity(SCAN_BATCH_ROWS),
            msg: StringBuilder::with_capacity(SCAN_BATCH_ROWS, SCAN_BATCH_ROWS * 128),
            fields: FieldColumns::new(fields, SCAN_BATCH_ROWS),
        }
    }

    fn len(&self) -> usize {
        self.stream_keys.len()
    }

    fn push(&mut self, stream_key: i32, ts: i64, ing: i64, seq: u64, msg: &str) {
        self.stream_keys.push(stream_key);
        self.ts.append_value(ts);
        self.ing.append_value(ing);
        self.seq.append_value(seq);
        self.msg.append_value(msg);
    }

    fn finish(&mut self) -> StoreResult<RecordBatch> {
        let n = self.len();
        let group = constant_column(&self.group, n)?;
        let keys = Int32Array::from(std::mem::take(&mut self.stream_keys));
        let stream: ArrayRef = Arc::new(
            DictionaryArray::try_new(keys, Arc::clone(&self.stream_values) as ArrayRef)
                .map_err(storage_error)?,
        );
        let mut columns: Vec<ArrayRef> = vec![
            group,
            stream,
            Arc::new(self.ts.finish()),
            Arc::new(self.ing.finish()),
            Arc::new(self.seq.finish()),
            Arc::new(self.msg.finish()),
        ];
        columns.extend(self.fields.finish_views());
        RecordBatch::try_new(scan_schema_with(columns.len() - BASE_SCAN_COLUMNS), columns)
            .map_err(storage_error)
    }
}

type Sender = tokio::sync::mpsc::Sender<StoreResult<RecordBatch>>;

/// Columns that hold nothing (zeros, empty strings), shared by every batch
/// as zero-copy slices instead of being allocated per batch.
struct Blanks {
    u64s: UInt64Array,
    i64s: Int64Array,
    ones: Int64Array,
    keys: Int32Array,
    strings: StringArray,
}

static BLANKS: std::sync::LazyLock<Blanks> = std::sync::LazyLock::new(|| Blanks {
    u64s: UInt64Array::from(vec![0; SCAN_BATCH_ROWS]),
    i64s: Int64Array::from(vec![0; SCAN_BATCH_ROWS]),
    ones: Int64Array::from(vec![1; SCAN_BATCH_ROWS]),
    keys: Int32Array::from(vec![0; SCAN_BATCH_ROWS]),
    strings: StringArray::from_iter_values(std::iter::repeat_n("", SCAN_BATCH_ROWS)),
});

impl Blanks {
    fn u64s(&self, n: usize) -> ArrayRef {
        blank(&self.u64s, n, || UInt64Array::from(vec![0; n]))
    }

    fn i64s(&self, n: usize) -> ArrayRef {
        blank(&self.i64s, n, || Int64Array::from(vec![0; n]))
    }

    fn ones(&self, n: usize) -> ArrayRef {
        blank(&self.ones, n, || Int64Array::from(vec![1; n]))
    }

    fn keys(&self, n: usize) -> Int32Array {
        if n <= SCAN_BATCH_ROWS {
            self.keys.slice(0, n)
        } else {
            Int32Array::from(vec![0; n])
        }
    }

    fn strings(&self, n: usize) -> ArrayRef {
        blank(&self.strings, n, || {
            StringArray::from_iter_values(std::iter::repeat_n("", n))
        })
    }
}

/// `n` values of a blank column: a slice of the shared one, or a new one
/// past its length.
fn blank<A: Array + 'static>(shared: &A, n: usize, make: impl FnOnce() -> A) -> ArrayRef {
    if n <= SCAN_BATCH_ROWS {
        shared.slice(0, n)
    } else {
        Arc::new(make())
    }
}

impl Scan {
    /// Reads part `index` as a stream of batches with the schema of
    /// [`scan_schema_with`]`(options.fields.len())`, or of
    /// [`counted_scan_schema`] for a counted read.
    pub fn read_part(
        self: &Arc<Self>,
        index: usize,
        options: &ReadOptions,
    ) -> BoxStream<'static, StoreResult<RecordBatch>> {
        let (tx, rx) = tokio::sync::mpsc::channel::<StoreResult<RecordBatch>>(2);
        let scan = Arc::clone(self);
        let counted = options.counted.then(|| options.fields.len());
        let options = options.clone();
        tokio::spawn(async move {
            let result = scan.produce(index, &options, &tx).await;
            if let Err(e) = result {
                let _ = tx.send(Err(e)).await;
            }
        });
        let batches = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        match counted {
            // A counted read's row batches (parts not counted on codes)
            // stand for one event per row.
            Some(fields) => Box::pin(batches.map(move |batch| {
                let batch = batch?;
                if batch.num_columns() > BASE_SCAN_COLUMNS + fields {
                    return Ok(batch); // counted on codes already
                }
                let mut columns = batch.columns().to_vec();
                columns.push(BLANKS.ones(batch.num_rows()));
                RecordBatch::try_new(counted_scan_schema(fields), columns).map_err(storage_error)
            })),
            None => Box::pin(batches),
        }
    }

    /// Message bytes of the rows read so far: exact for parts whose
    /// messages were read, estimated from the segment's average message
    /// size where a segment answered from its field columns.
    pub fn bytes_scanned(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    async fn produce(
        self: Arc<Self>,
        index: usize,
        options: &ReadOptions,
        tx: &Sender,
    ) -> StoreResult<()> {
        let Some(part) = self.parts.get(index).cloned() else {
            return Ok(());
        };
        match part {
            ScanPart::Segment { group, meta } => {
                let tx = tx.clone();
                let scan = Arc::clone(&self);
                let options = options.clone();
                // A local segment is read in place: only the column chunks
                // the query needs come off the disk.
                if let Some(file) = self.store.inner.segment_files.local_path(&meta.path) {
                    return tokio::task::spawn_blocking(move || {
                        match std::fs::File::open(&file) {
                            Ok(f) => scan.decode_segment(group, &meta, f, &options, &tx),
                            // Retention or a deletion removed the segment
                            // after the scan was pinned: its events are gone.
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                            Err(e) => Err(storage_error(e)),
                        }
                    })
                    .await
                    .map_err(storage_error)?;
                }
                let got = self
                    .store
                    .inner
                    .segment_files
                    .object_store()
                    .get(&ObjectPath::from(meta.path.as_str()))
                    .await;
                let got = match got {
                    Ok(g) => g,
                    Err(object_store::Error::NotFound { .. }) => return Ok(()),
                    Err(e) => return Err(storage_error(e)),
                };
                let bytes = got.bytes().await.map_err(storage_error)?;
                tokio::task::spawn_blocking(move || {
                    scan.decode_segment(group, &meta, bytes, &options, &tx)
                })
                .await
                .map_err(storage_error)?
            }
            ScanPart::Hot {
                group, stream_id, ..
            } => {
                let tx = tx.clone();
                let scan = Arc::clone(&self);
                let options = options.clone();
                tokio::task::spawn_blocking(move || scan.read_hot(group, stream_id, &options, &tx))
                    .await
                    .map_err(storage_error)?
            }
        }
    }

    fn decode_segment<R: parquet::file::reader::ChunkReader + 'static>(
        &self,
        group: usize,
        meta: &SegmentMeta,
        bytes: R,
        options: &ReadOptions,
        tx: &Sender,
    ) -> StoreResult<()> {
        let g = &self.groups[group];
        let (lo, hi) = (self.lower[group], self.upper);
        // The segment's field column of each field asked, when it has all.
        let indexed: Option<Vec<usize>> = options
            .fields
            .iter()
            .map(|f| meta.fields.iter().position(|m| m == f))
            .collect();
        let discover = indexed.is_none();
        // Nothing to cut from a segment wholly in range with only live
        // streams: unless asked, its times and streams are not read.
        let placeholders = !options.locate
            && meta.min_ts >= lo
            && meta.max_ts <= hi
            && !meta.streams.is_empty()
            && meta
                .streams
                .iter()
                .all(|s| g.dict_keys.contains_key(&s.stream_id));
        // A counted read of such a segment counts on the field columns'
        // dictionary codes instead of producing rows.
        if let (true, true, Some(indexed)) = (options.counted, placeholders, indexed.as_ref()) {
            if indexed.len() <= counts::MAX_COUNTED_FIELDS {
                return self.count_segment(g, meta, bytes, indexed, tx);
            }
        }
        let mut leaves: Vec<usize> = if placeholders { Vec::new() } else { vec![0, 1] };
        if options.seq {
            leaves.push(2);
        }
        if options.ingestion_time {
            leaves.push(3);
        }
        if options.message || discover {
            leaves.push(4);
        }
        for &k in indexed.iter().flatten() {
            leaves.push(BASE_COLUMNS + k);
        }
        if leaves.is_empty() {
            // Batches need a column to carry their row counts.
            leaves.push(1);
        }
        // Field columns are read as string views (see `scan_schema_with`).
        let reader = segment_reader(meta, bytes, &DataType::Utf8View, leaves)?;
        let avg_bytes = meta.average_message_bytes();
        for batch in reader {
            let batch = batch.map_err(storage_error)?;
            let (out, read) = self.convert_segment_batch(
                g,
                lo,
                hi,
                &batch,
                meta,
                options,
                discover,
                placeholders,
            )?;
            let read = read.unwrap_or(avg_bytes * out.num_rows() as u64);
            self.bytes_read.fetch_add(read, Ordering::Relaxed);
            if out.num_rows() > 0 && tx.blocking_send(Ok(out)).is_err() {
                return Ok(()); // the reader went away
            }
        }
        Ok(())
    }

    /// A decoded segment batch as a scan batch, with the message bytes of
    /// the rows kept when the messages were read: rows cut to the time range
    /// and to live streams, stream ids turned into dictionary keys. Columns
    /// are reused as they are when every row is kept (the usual case).
    #[allow(clippy::too_many_arguments)]
    fn convert_segment_batch(
        &self,
        g: &ScanGroup,
        lo: i64,
        hi: i64,
        batch: &RecordBatch,
        meta: &SegmentMeta,
        options: &ReadOptions,
        discover: bool,
        placeholders: bool,
    ) -> StoreResult<(RecordBatch, Option<u64>)> {
        let col = |name: &str| batch.column_by_name(name).cloned();
        let n = batch.num_rows();
        let seq = if options.seq {
            col("seq")
        } else {
            Some(BLANKS.u64s(n))
        };
        let ing = if options.ingestion_time {
            col("ingestion_time")
        } else {
            Some(BLANKS.i64s(n))
        };
        let (Some(seq), Some(ing)) = (seq, ing) else {
            return Err(storage_error("unexpected segment schema"));
        };
        let (ts, stream, keep, kept) = if placeholders {
            (BLANKS.i64s(n), g.first_stream_column(n)?, Vec::new(), n)
        } else {
            let (Some(streams), Some(ts)) = (col("stream_id"), col("timestamp")) else {
                return Err(storage_error("unexpected segment schema"));
            };
            let (Some(stream_ids), Some(times)) = (
                streams.as_any().downcast_ref::<UInt64Array>(),
                ts.as_any().downcast_ref::<Int64Array>(),
            ) else {
                return Err(storage_error("unexpected segment schema"));
            };
            let (keys, keep) = kept_rows(g, lo, hi, stream_ids.values(), times.values());
            let kept = keys.len();
            let stream: ArrayRef = Arc::new(
                DictionaryArray::try_new(
                    Int32Array::from(keys),
                    Arc::clone(&g.dict_values) as ArrayRef,
                )
                .map_err(storage_error)?,
            );
            (ts, stream, keep, kept)
        };
        let stored_message = col("message");
        let message_bytes = stored_message
            .as_ref()
            .and_then(|m| m.as_any().downcast_ref::<StringArray>())
            .map(|m| {
                if kept == n {
                    let offsets = m.value_offsets();
                    (offsets[n] - offsets[0]) as u64
                } else {
                    (0..n)
                        .filter(|&i| keep[i])
                        .map(|i| m.value_length(i) as u64)
                        .sum()
                }
            });
        let mut fields: Vec<ArrayRef> = Vec::with_capacity(options.fields.len());
        if discover {
            if let Some(messages) = stored_message
                .as_ref()
                .and_then(|m| m.as_any().downcast_ref::<StringArray>())
            {
                let mut columns = FieldColumns::new(options.fields.len(), n);
                let mut found = vec![None; options.fields.len()];
                for i in 0..n {
                    columns.append(messages.value(i), &options.fields, &mut found);
                }
                fields.extend(columns.finish_views());
            }
        } else {
            for f in options.fields.iter() {
                let name = field_column_name(f);
                let Some(c) = col(&name).filter(|c| c.data_type() == &DataType::Utf8View) else {
                    return Err(storage_error(format!(
                        "segment {} lacks its field column {name}",
                        meta.id
                    )));
                };
                fields.push(c);
            }
        }
        let message: ArrayRef = match stored_message {
            Some(m) if options.message => m,
            _ => BLANKS.strings(n),
        };
        let mut columns = vec![ts, ing, seq, message];
        columns.extend(fields);
        if kept < n {
            let mask = arrow_array::BooleanArray::from(keep);
            for c in columns.iter_mut() {
                *c = arrow_select::filter::filter(c.as_ref(), &mask).map_err(storage_error)?;
            }
        }
        let group = g.group_column(kept)?;
        let mut out = vec![group, stream];
        out.extend(columns);
        let batch = RecordBatch::try_new(scan_schema_with(options.fields.len()), out)
            .map_err(storage_error)?;
        Ok((batch, message_bytes))
    }

    fn read_hot(
        &self,
        group: usize,
        stream_id: u64,
        options: &ReadOptions,
        tx: &Sender,
    ) -> StoreResult<()> {
        let g = &self.groups[group];
        let Some(&key) = g.dict_keys.get(&stream_id) else {
            return Ok(());
        };
        let (lo, hi) = (self.lower[group], self.upper);
        // Blocks that can hold events in [lo, hi]; order does not matter here.
        let upper = if hi == i64::MAX {
            Key(i64::MAX, u64::MAX)
        } else {
            Key(hi + 1, 0)
        };
        let Some(range) = blocks::key_range(stream_id, Key(lo, 0), upper) else {
            return Ok(());
        };
        let wanted = options.fields.as_slice();
        let mut out = BatchBuilder::new(g, wanted.len());
        let mut bytes = 0u64;
        for block in blocks::parsed(self.snapshot.range(&self.store.inner.events, range)) {
            let block = block?;
            if block.last_ts < lo || block.first_ts > hi {
                continue;
            }
            for (ts, seq, message) in block.events() {
                if ts < lo || ts > hi {
                    continue;
                }
                bytes += message.len() as u64;
                let text = if options.message || !wanted.is_empty() {
                    String::from_utf8_lossy(message)
                } else {
                    std::borrow::Cow::Borrowed("")
                };
                let msg = if options.message { text.as_ref() } else { "" };
                out.push(key, ts, block.ingestion_time, seq, msg);
                if !wanted.is_empty() {
                    let mut found = vec![None; wanted.len()];
                    out.fields.append(&text, wanted, &mut found);
                }
                if out.len() >= SCAN_BATCH_ROWS {
                    self.bytes_read
                        .fetch_add(std::mem::take(&mut bytes), Ordering::Relaxed);
                    if tx.blocking_send(out.finish()).is_err() {
                        return Ok(());
                    }
                }
            }
        }
        self.bytes_read.fetch_add(bytes, Ordering::Relaxed);
        if out.len() > 0 {
            let _ = tx.blocking_send(out.finish());
        }
        Ok(())
    }
}

impl Store {
    /// One event by its coordinates, from either tier (GetLogRecord).
    pub async fn get_event(
        &self,
        scope: &Scope,
        group: &str,
        stream: &str,
        timestamp: i64,
        seq: u64,
    ) -> StoreResult<Option<crate::LogEvent>> {
        let (stream_id, segments) = {
            let catalog = self.read();
            let entry = catalog.group(scope, group)?;
            let Some(s) = entry.streams.get(stream) else {
                return Ok(None);
            };
            (s.id, entry.segments.clone())
        };
        // The block holding it starts at most a block's span earlier.
        let lower = keys::event(stream_id, timestamp.saturating_sub(blocks::MAX_SPAN_MS), 0);
        let upper = keys::event(stream_id, timestamp, seq);
        for block in blocks::parsed(self.inner.events.range(lower..=upper)) {
            let block = block?;
            if let Some(message) = block.find(timestamp, seq) {
                return Ok(Some(crate::LogEvent {
                    log_stream_name: stream.to_string(),
                    timestamp,
                    ingestion_time: block.ingestion_time,
                    message: String::from_utf8_lossy(message).into_owned(),
                    seq,
                }));
            }
        }
        for meta in segments
            .iter()
            .filter(|m| m.overlaps(timestamp, timestamp) && m.has_stream(stream_id))
        {
            let rows = self.inner.segment_files.rows(meta).await?;
            if let Some(r) = rows
                .rows
                .iter()
                .find(|r| r.stream_id == stream_id && r.timestamp == timestamp && r.seq == seq)
            {
                return Ok(Some(crate::LogEvent {
                    log_stream_name: stream.to_string(),
                    timestamp,
                    ingestion_time: r.ingestion_time,
                    message: rows.message(r).to_string(),
                    seq,
                }));
            }
        }
        Ok(None)
    }

    /// Names of the groups of `scope` (sorted), for `SOURCE logGroups(...)`.
    pub fn group_names(&self, scope: &Scope) -> Vec<String> {
        self.read()
            .scopes
            .get(scope)
            .map(|g| g.keys().cloned().collect())
            .unwrap_or_default()
    }
}
