//! Counted reads of segments (see [`super::ReadOptions::counted`]): events
//! counted per distinct tuple of field values on the field columns'
//! dictionary codes.
//!
//! A segment keeps its frequent JSON fields as dictionary-encoded Parquet
//! columns. Read as Arrow dictionaries, a batch is the row group's
//! dictionary (its distinct values, shared by all of the row group's
//! batches) and one small integer per row, so counting costs an array
//! increment per row: no string is made, hashed or compared per event. A
//! segment of a million access-log lines becomes, for `stats count(*) by
//! status`, a few dozen `(status, count)` rows per row group, which the
//! reader sums.
//!
//! Only segments that need no row cut are counted this way (wholly in the
//! scan's range, every stream live); the caller checks that.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use arrow_array::builder::StringViewBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, DictionaryArray, Int64Array, RecordBatch};
use arrow_schema::DataType;

use super::{
    counted_scan_schema, field_column_name, segment_reader, storage_error, Scan, ScanGroup,
    SegmentMeta, Sender, BASE_COLUMNS, BLANKS,
};
use crate::error::StoreResult;

/// Fields a segment can be counted by on codes: each row's codes combine
/// into one `u128`, which three fields with `i32` keys always fit.
pub(super) const MAX_COUNTED_FIELDS: usize = 3;

/// Up to this many possible code tuples, counts are kept in an array
/// indexed by the tuple; past it, in a hash map.
const DENSE_CODES: u128 = 1 << 16;

/// Counts over a run of batches that share their dictionaries.
struct CodeCounts {
    /// Each field's dictionary values.
    values: Vec<ArrayRef>,
    /// Each field's number of codes: its dictionary's length, plus one for
    /// a row without the field (the last code).
    radix: Vec<u128>,
    /// Count per combined code, when there are at most [`DENSE_CODES`].
    dense: Option<Vec<u64>>,
    /// Count per combined code otherwise.
    sparse: HashMap<u128, u64>,
}

fn bad_key() -> crate::StoreError {
    storage_error("a field column's dictionary key is out of range")
}

impl CodeCounts {
    /// Counts for a run of batches like `columns`, in a segment of `rows`
    /// rows: the dense array is used only where it is small next to the
    /// rows it counts (it is zeroed and read once per run).
    fn new(columns: &[&DictionaryArray<Int32Type>], rows: u64) -> StoreResult<CodeCounts> {
        let radix: Vec<u128> = columns
            .iter()
            .map(|c| c.values().len() as u128 + 1)
            .collect();
        let codes = radix
            .iter()
            .try_fold(1u128, |acc, &r| acc.checked_mul(r))
            .ok_or_else(|| storage_error("too many fields to count on codes"))?;
        Ok(CodeCounts {
            values: columns.iter().map(|c| c.values().clone()).collect(),
            radix,
            dense: (codes <= DENSE_CODES.min(4 * u128::from(rows.max(1))))
                .then(|| vec![0; codes as usize]),
            sparse: HashMap::new(),
        })
    }

    /// Whether `columns` use this run's dictionaries (the reader shares a
    /// row group's dictionary between its batches).
    fn same_dictionaries(&self, columns: &[&DictionaryArray<Int32Type>]) -> bool {
        self.values.len() == columns.len()
            && self
                .values
                .iter()
                .zip(columns)
                .all(|(v, c)| v.to_data().ptr_eq(&c.values().to_data()))
    }

    fn add(&mut self, columns: &[&DictionaryArray<Int32Type>]) -> StoreResult<()> {
        // The common case, one field present in every row: the key is the
        // index.
        if let ([column], Some(dense)) = (columns, self.dense.as_mut()) {
            if column.null_count() == 0 {
                // The last code stands for a missing value, never a key.
                let keys = dense.len().saturating_sub(1);
                let Some(present) = dense.get_mut(..keys) else {
                    return Err(bad_key());
                };
                for &k in column.keys().values() {
                    *present.get_mut(k as usize).ok_or_else(bad_key)? += 1;
                }
                return Ok(());
            }
        }
        let n = columns.first().map_or(0, |c| c.len());
        let mut codes = vec![0u128; n];
        let mut stride = 1u128;
        for (column, &radix) in columns.iter().zip(&self.radix) {
            let missing = radix - 1;
            let keys = column.keys();
            for (i, code) in codes.iter_mut().enumerate() {
                let key = if keys.is_null(i) {
                    missing
                } else {
                    u128::try_from(keys.value(i))
                        .ok()
                        .filter(|&k| k < missing)
                        .ok_or_else(bad_key)?
                };
                *code += key * stride;
            }
            stride *= radix;
        }
        match self.dense.as_mut() {
            Some(dense) => {
                for code in codes {
                    *dense.get_mut(code as usize).ok_or_else(bad_key)? += 1;
                }
            }
            None => {
                for code in codes {
                    *self.sparse.entry(code).or_insert(0) += 1;
                }
            }
        }
        Ok(())
    }

    /// The counts as a counted batch: one row per value tuple seen.
    fn finish(self, g: &ScanGroup) -> StoreResult<Option<RecordBatch>> {
        let entries: Vec<(u128, u64)> = match self.dense {
            Some(dense) => dense
                .into_iter()
                .enumerate()
                .filter(|&(_, c)| c > 0)
                .map(|(code, c)| (code as u128, c))
                .collect(),
            None => self.sparse.into_iter().collect(),
        };
        if entries.is_empty() {
            return Ok(None);
        }
        let strings: Vec<_> = self
            .values
            .iter()
            .map(|v| {
                v.as_string_opt::<i32>()
                    .ok_or_else(|| storage_error("a field column's dictionary is not text"))
            })
            .collect::<StoreResult<_>>()?;
        let mut fields: Vec<StringViewBuilder> = (0..strings.len())
            .map(|_| StringViewBuilder::with_capacity(entries.len()))
            .collect();
        let mut counts = Vec::with_capacity(entries.len());
        for (code, count) in entries {
            let mut rest = code;
            for ((builder, values), &radix) in fields.iter_mut().zip(&strings).zip(&self.radix) {
                let key = (rest % radix) as usize;
                rest /= radix;
                if key < values.len() && values.is_valid(key) {
                    builder.append_value(values.value(key));
                } else {
                    builder.append_null();
                }
            }
            counts.push(i64::try_from(count).unwrap_or(i64::MAX));
        }
        counted_batch(
            g,
            fields
                .iter_mut()
                .map(|b| std::sync::Arc::new(b.finish()) as ArrayRef)
                .collect(),
            counts,
        )
        .map(Some)
    }
}

/// A counted batch of `counts.len()` rows: placeholders for the base
/// columns, then `fields` and the counts.
fn counted_batch(
    g: &ScanGroup,
    fields: Vec<ArrayRef>,
    counts: Vec<i64>,
) -> StoreResult<RecordBatch> {
    let n = counts.len();
    let k = fields.len();
    let mut columns = vec![
        g.group_column(n)?,
        g.first_stream_column(n)?,
        BLANKS.i64s(n),
        BLANKS.i64s(n),
        BLANKS.u64s(n),
        BLANKS.strings(n),
    ];
    columns.extend(fields);
    columns.push(std::sync::Arc::new(Int64Array::from(counts)));
    RecordBatch::try_new(counted_scan_schema(k), columns).map_err(storage_error)
}

impl Scan {
    /// Counts a segment that needs no row cut by the field columns
    /// `indexed` (positions in `meta.fields`, at most
    /// [`MAX_COUNTED_FIELDS`]) and sends the counted batches.
    pub(super) fn count_segment<R: parquet::file::reader::ChunkReader + 'static>(
        &self,
        g: &ScanGroup,
        meta: &SegmentMeta,
        bytes: R,
        indexed: &[usize],
        tx: &Sender,
    ) -> StoreResult<()> {
        // Every message of the segment counts, estimated from the average
        // message size as a read of its field columns is.
        self.bytes_read
            .fetch_add(meta.average_message_bytes() * meta.rows, Ordering::Relaxed);
        if indexed.is_empty() {
            // `stats count(*)`: every row is in range and live.
            let rows = i64::try_from(meta.rows).unwrap_or(i64::MAX);
            if rows > 0 {
                let _ = tx.blocking_send(counted_batch(g, Vec::new(), vec![rows]));
            }
            return Ok(());
        }
        let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let leaves = indexed.iter().map(|&i| BASE_COLUMNS + i);
        let reader = segment_reader(meta, bytes, &dictionary, leaves)?;
        // Projected columns come in the file's order: found by name.
        let names: Vec<String> = indexed
            .iter()
            .map(|&i| field_column_name(&meta.fields[i]))
            .collect();
        let mut run: Option<CodeCounts> = None;
        for batch in reader {
            let batch = batch.map_err(storage_error)?;
            let columns: Vec<&DictionaryArray<Int32Type>> = names
                .iter()
                .map(|name| {
                    batch
                        .column_by_name(name)
                        .and_then(|c| c.as_dictionary_opt::<Int32Type>())
                        .ok_or_else(|| {
                            storage_error(format!("segment {} lacks its column {name}", meta.id))
                        })
                })
                .collect::<StoreResult<_>>()?;
            if !run.as_ref().is_some_and(|r| r.same_dictionaries(&columns)) {
                if let Some(done) = run.take() {
                    if let Some(out) = done.finish(g)? {
                        if tx.blocking_send(Ok(out)).is_err() {
                            return Ok(()); // the reader went away
                        }
                    }
                }
                run = Some(CodeCounts::new(&columns, meta.rows)?);
            }
            if let Some(r) = run.as_mut() {
                r.add(&columns)?;
            }
        }
        if let Some(out) = run.map(|r| r.finish(g)).transpose()?.flatten() {
            let _ = tx.blocking_send(Ok(out));
        }
        Ok(())
    }
}
