//! The store as a DataFusion table.
//!
//! [`EventsTable`] exposes a pinned [`Scan`] with the store's columns plus one
//! Utf8View column per field the query discovers in messages (JSON keys, Lambda
//! platform fields). JSON fields are asked of the store's scan, which reads
//! them from a segment's field columns where it keeps them all and parses
//! each message once otherwise; Lambda fields are found here. Only the
//! fields the query names are produced, and the message column is only read
//! from disk when something needs it. Parts of the scan are spread over
//! DataFusion's partitions so segments decode in parallel.
//!
//! A counted table (see [`crate::counts_on_scan`]) has one more column,
//! `count`: its rows come from a counted read of the store, each standing
//! for `count` events with the row's field values.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow_array::builder::StringViewBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::{project_schema, DataFusionError, Result};
use datafusion::datasource::{TableProvider, TableType};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use futures_util::StreamExt;
use gatewatch_store::scan::{columns, scan_schema, ReadOptions, BASE_SCAN_COLUMNS};
use gatewatch_store::Scan;

use crate::value::{discover_lambda, is_lambda_field};

/// Counters a scan feeds (query statistics).
#[derive(Debug, Default)]
pub struct ScanStats {
    /// Events read.
    pub records: AtomicU64,
}

/// A discovered field: its column name and path.
#[derive(Debug, Clone)]
pub struct Discovered {
    /// Column name in the table.
    pub column: String,
    /// The dotted field name split into segments.
    pub path: Vec<String>,
}

/// The table.
#[derive(Debug)]
pub struct EventsTable {
    scan: Arc<ScanHandle>,
    discovered: Arc<Vec<Discovered>>,
    schema: SchemaRef,
    stats: Arc<ScanStats>,
    partitions: usize,
    counted: bool,
}

/// `Scan` with a Debug impl.
pub struct ScanHandle(pub Arc<Scan>);

impl fmt::Debug for ScanHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scan({} parts)", self.0.parts.len())
    }
}

impl EventsTable {
    /// A table over `scan` discovering `discovered`; `counted` makes it a
    /// counted table.
    pub fn new(
        scan: Arc<Scan>,
        discovered: Vec<Discovered>,
        stats: Arc<ScanStats>,
        partitions: usize,
        counted: bool,
    ) -> EventsTable {
        EventsTable {
            scan: Arc::new(ScanHandle(scan)),
            schema: EventsTable::schema_for(&discovered, counted),
            discovered: Arc::new(discovered),
            stats,
            partitions: partitions.max(1),
            counted,
        }
    }
}

impl EventsTable {
    /// The table's schema: the scan's columns, then one Utf8View column per
    /// discovered field (the store's scans give fields as string views),
    /// then for a counted table `count`.
    pub fn schema_for(discovered: &[Discovered], counted: bool) -> SchemaRef {
        let base = scan_schema();
        let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
        for d in discovered {
            fields.push(Field::new(&d.column, DataType::Utf8View, true));
        }
        if counted {
            fields.push(Field::new(columns::COUNT, DataType::Int64, false));
        }
        Arc::new(Schema::new(fields))
    }
}

#[async_trait]
impl TableProvider for EventsTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let projected = project_schema(&self.schema, projection)?;
        let all: Vec<usize> = (0..self.schema.fields().len()).collect();
        let projection = projection.cloned().unwrap_or(all);
        let base = scan_schema();
        let base_len = base.fields().len();
        let index = |name: &str| base.index_of(name).ok();
        let message_index = index(columns::MESSAGE);
        // Only discover the projected discovered fields.
        let count_index = self.counted.then_some(base_len + self.discovered.len());
        let wanted: Vec<usize> = projection
            .iter()
            .filter(|&&i| i >= base_len && Some(i) != count_index)
            .map(|&i| i - base_len)
            .collect();
        let lambda = |w: &usize| is_lambda_field(&self.discovered[*w].column_name());
        let asked = |i: Option<usize>| i.is_some_and(|i| projection.contains(&i));
        let need_message = asked(message_index) || wanted.iter().any(&lambda);
        // JSON fields come from the store, in the order of `wanted`.
        let json_fields: Vec<Vec<String>> = wanted
            .iter()
            .filter(|w| !lambda(w))
            .map(|&w| self.discovered[w].path.clone())
            .collect();
        let read = ReadOptions {
            message: need_message,
            fields: Arc::new(json_fields),
            seq: asked(index(columns::SEQ)),
            ingestion_time: asked(index(columns::INGESTION_TIME)),
            locate: asked(index(columns::TIMESTAMP)) || asked(index(columns::STREAM)),
            counted: self.counted,
        };
        // Balance parts over partitions by size, largest first.
        let n = self.partitions.min(self.scan.0.parts.len()).max(1);
        let mut order: Vec<usize> = (0..self.scan.0.parts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(self.scan.0.parts[i].weight()));
        let mut assigned = vec![Vec::new(); n];
        let mut load = vec![0u64; n];
        for i in order {
            let p = (0..n).min_by_key(|&p| load[p]).unwrap_or(0);
            load[p] += self.scan.0.parts[i].weight().max(1);
            assigned[p].push(i);
        }
        let props = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&projected)),
            Partitioning::UnknownPartitioning(n),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Arc::new(ScanExec {
            scan: Arc::clone(&self.scan),
            discovered: Arc::clone(&self.discovered),
            wanted: Arc::new(wanted),
            projection: Arc::new(projection),
            read,
            assigned: Arc::new(assigned),
            schema: projected,
            props: Arc::new(props),
            stats: Arc::clone(&self.stats),
        }))
    }
}

/// The physical scan.
#[derive(Debug)]
struct ScanExec {
    scan: Arc<ScanHandle>,
    discovered: Arc<Vec<Discovered>>,
    wanted: Arc<Vec<usize>>,
    projection: Arc<Vec<usize>>,
    read: ReadOptions,
    assigned: Arc<Vec<Vec<usize>>>,
    schema: SchemaRef,
    props: Arc<PlanProperties>,
    stats: Arc<ScanStats>,
}

impl DisplayAs for ScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "EventsScan: parts={}, message={}, discovered={}",
            self.scan.0.parts.len(),
            self.read.message,
            self.wanted.len()
        )
    }
}

impl ExecutionPlan for ScanExec {
    fn name(&self) -> &str {
        "EventsScan"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(
            &Arc<dyn datafusion::physical_expr::PhysicalExpr>,
        ) -> Result<datafusion::common::tree_node::TreeNodeRecursion>,
    ) -> Result<datafusion::common::tree_node::TreeNodeRecursion> {
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let parts = self.assigned.get(partition).cloned().unwrap_or_default();
        let scan = Arc::clone(&self.scan.0);
        let read = self.read.clone();
        let discovered = Arc::clone(&self.discovered);
        let wanted = Arc::clone(&self.wanted);
        let projection = Arc::clone(&self.projection);
        let schema = Arc::clone(&self.schema);
        let stats = Arc::clone(&self.stats);
        let out_schema = Arc::clone(&schema);
        let counted = self.read.counted;
        let stream = futures_util::stream::iter(parts)
            .map(move |i| scan.read_part(i, &read))
            .flatten()
            .map(move |batch| {
                let batch = batch.map_err(|e| DataFusionError::External(Box::new(e)))?;
                enrich(
                    &batch,
                    &discovered,
                    &wanted,
                    &projection,
                    &out_schema,
                    &stats,
                    counted,
                )
            });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

/// Adds the Lambda fields, places the JSON fields the store returned (and a
/// counted read's counts) and applies the projection.
fn enrich(
    batch: &RecordBatch,
    discovered: &[Discovered],
    wanted: &[usize],
    projection: &[usize],
    schema: &SchemaRef,
    stats: &ScanStats,
    counted: bool,
) -> Result<RecordBatch> {
    // A counted read's batches end with their counts.
    let counts = if counted {
        let c = batch
            .columns()
            .last()
            .filter(|c| c.data_type() == &DataType::Int64)
            .ok_or_else(|| DataFusionError::Internal("counted batch without counts".into()))?;
        let events: i64 = c.as_primitive::<Int64Type>().values().iter().sum();
        stats.records.fetch_add(events as u64, Ordering::Relaxed);
        Some(Arc::clone(c))
    } else {
        stats
            .records
            .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
        None
    };
    let mut extra: Vec<Option<ArrayRef>> = vec![None; discovered.len()];
    let mut next_json = BASE_SCAN_COLUMNS;
    for &w in wanted {
        let name = discovered[w].column_name();
        if is_lambda_field(&name) {
            let messages = batch
                .column_by_name(columns::MESSAGE)
                .map(|c| c.as_string::<i32>().clone())
                .ok_or_else(|| DataFusionError::Internal("scan batch without message".into()))?;
            let mut b = StringViewBuilder::with_capacity(batch.num_rows());
            for i in 0..batch.num_rows() {
                b.append_option(discover_lambda(messages.value(i), &name));
            }
            extra[w] = Some(Arc::new(b.finish()));
        } else {
            if next_json >= batch.num_columns() {
                return Err(DataFusionError::Internal("scan batch without field".into()));
            }
            extra[w] = Some(Arc::clone(batch.column(next_json)));
            next_json += 1;
        }
    }
    let base_len = BASE_SCAN_COLUMNS;
    let mut cols = Vec::with_capacity(projection.len());
    for &p in projection {
        if p < base_len {
            cols.push(Arc::clone(batch.column(p)));
        } else if p == base_len + discovered.len() {
            let c = counts
                .clone()
                .ok_or_else(|| DataFusionError::Internal("counts missing".into()))?;
            cols.push(c);
        } else {
            let c = extra[p - base_len]
                .clone()
                .ok_or_else(|| DataFusionError::Internal("discovered column missing".into()))?;
            cols.push(c);
        }
    }
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(schema),
        cols,
        &options,
    )?)
}

impl Discovered {
    /// The field's flattened name.
    pub fn column_name(&self) -> String {
        self.path.join(".")
    }
}
