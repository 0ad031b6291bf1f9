//! Exports of a log group for other tools (DuckDB, pandas, Spark).
//!
//! - NDJSON: one object per event with `@timestamp` (ms), `@ingestionTime`,
//!   `@logStream`, `@message` and every field Insights would discover in the
//!   message (flattened JSON, first 200 leaves), values as strings.
//! - Parquet: the same, one column per field. The columns are those of the
//!   first batch written (a field that first appears later is left out and
//!   counted in [`ParquetExport::dropped_fields`]); `@timestamp` and
//!   `@ingestionTime` are millisecond timestamps, every other column text.

use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, RecordBatch, TimestampMillisecondArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::value::flatten_json;

/// One event to export.
#[derive(Debug, Clone)]
pub struct ExportEvent {
    /// Event time, ms.
    pub timestamp: i64,
    /// Ingestion time, ms.
    pub ingestion_time: i64,
    /// Stream name.
    pub log_stream: String,
    /// The message.
    pub message: String,
}

/// Writes one NDJSON line per event.
pub fn write_ndjson<W: Write>(out: &mut W, events: &[ExportEvent]) -> std::io::Result<()> {
    for e in events {
        let mut obj = serde_json::Map::new();
        obj.insert("@timestamp".into(), e.timestamp.into());
        obj.insert("@ingestionTime".into(), e.ingestion_time.into());
        obj.insert("@logStream".into(), e.log_stream.clone().into());
        obj.insert("@message".into(), e.message.clone().into());
        for (k, v) in flatten_json(&e.message) {
            obj.entry(k).or_insert(v.into());
        }
        serde_json::to_writer(&mut *out, &serde_json::Value::Object(obj))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// A Parquet file being written.
pub struct ParquetExport<W: Write + Send> {
    writer: Option<ArrowWriter<W>>,
    out: Option<W>,
    schema: Option<SchemaRef>,
    fields: Vec<String>,
    /// Fields seen after the schema was fixed (not exported).
    pub dropped_fields: HashSet<String>,
}

const FIXED: [&str; 4] = ["@timestamp", "@ingestionTime", "@logStream", "@message"];

impl<W: Write + Send> ParquetExport<W> {
    /// Starts an export into `out`.
    pub fn new(out: W) -> ParquetExport<W> {
        ParquetExport {
            writer: None,
            out: Some(out),
            schema: None,
            fields: Vec::new(),
            dropped_fields: HashSet::new(),
        }
    }

    /// Appends events (the first call fixes the columns).
    pub fn write(&mut self, events: &[ExportEvent]) -> Result<(), String> {
        let flat: Vec<Vec<(String, String)>> =
            events.iter().map(|e| flatten_json(&e.message)).collect();
        if self.schema.is_none() {
            let mut seen = HashSet::new();
            for row in &flat {
                for (k, _) in row {
                    if !FIXED.contains(&k.as_str()) && seen.insert(k.clone()) {
                        self.fields.push(k.clone());
                    }
                }
            }
            let mut fields = vec![
                Field::new(
                    "@timestamp",
                    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                    false,
                ),
                Field::new(
                    "@ingestionTime",
                    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                    false,
                ),
                Field::new("@logStream", DataType::Utf8, false),
                Field::new("@message", DataType::Utf8, false),
            ];
            fields.extend(
                self.fields
                    .iter()
                    .map(|f| Field::new(f, DataType::Utf8, true)),
            );
            let schema = Arc::new(Schema::new(fields));
            let props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .build();
            let out = self.out.take().ok_or("export already finished")?;
            self.writer = Some(
                ArrowWriter::try_new(out, Arc::clone(&schema), Some(props))
                    .map_err(|e| e.to_string())?,
            );
            self.schema = Some(schema);
        }
        let schema = self.schema.clone().ok_or("no schema")?;
        let index: std::collections::HashMap<&str, usize> = self
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.as_str(), i))
            .collect();
        let mut builders: Vec<StringBuilder> =
            self.fields.iter().map(|_| StringBuilder::new()).collect();
        for row in &flat {
            let mut vals: Vec<Option<&str>> = vec![None; self.fields.len()];
            for (k, v) in row {
                match index.get(k.as_str()) {
                    Some(&i) => vals[i] = Some(v),
                    None => {
                        if !FIXED.contains(&k.as_str()) {
                            self.dropped_fields.insert(k.clone());
                        }
                    }
                }
            }
            for (b, v) in builders.iter_mut().zip(vals) {
                b.append_option(v);
            }
        }
        let utc = |v: Vec<i64>| -> ArrayRef {
            Arc::new(TimestampMillisecondArray::from(v).with_timezone("UTC"))
        };
        let mut cols: Vec<ArrayRef> = vec![
            utc(events.iter().map(|e| e.timestamp).collect()),
            utc(events.iter().map(|e| e.ingestion_time).collect()),
            Arc::new(arrow_array::StringArray::from_iter_values(
                events.iter().map(|e| e.log_stream.as_str()),
            )),
            Arc::new(arrow_array::StringArray::from_iter_values(
                events.iter().map(|e| e.message.as_str()),
            )),
        ];
        cols.extend(
            builders
                .into_iter()
                .map(|mut b| Arc::new(b.finish()) as ArrayRef),
        );
        let batch = RecordBatch::try_new(schema, cols).map_err(|e| e.to_string())?;
        self.writer
            .as_mut()
            .ok_or("export already finished")?
            .write(&batch)
            .map_err(|e| e.to_string())
    }

    /// Finishes the file.
    pub fn finish(mut self) -> Result<(), String> {
        if let Some(w) = self.writer.take() {
            w.close().map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
