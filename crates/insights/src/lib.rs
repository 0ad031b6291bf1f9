//! CloudWatch Logs Insights for Gatewatch: the query language, planned onto
//! Apache DataFusion and run over the log store.
//!
//! - [`parser`] turns query text into an [`ast::Query`], with
//!   `MalformedQueryException`-style errors carrying character offsets.
//! - [`planner`] turns the query into a DataFusion logical plan over
//!   [`table::EventsTable`], the store's events with fields discovered from
//!   JSON messages and Lambda platform lines.
//! - [`func`] and [`agg`] hold the Insights scalar functions and aggregates
//!   as DataFusion UDFs with Insights semantics ([`value`]).
//! - [`run`] executes a query and renders result rows the way
//!   GetQueryResults returns them; [`manager::QueryManager`] runs queries
//!   asynchronously with the StartQuery/GetQueryResults/StopQuery lifecycle.
//!
//! DataFusion is a dependency of this crate only. Set `GATEWATCH_EXPLAIN=1`
//! to print each query's physical plan to stderr.

pub mod agg;
pub mod ast;
pub mod datetime;
pub mod export;
pub mod func;
pub mod manager;
pub mod parser;
pub mod pattern;
pub mod planner;
pub mod sample;
pub mod table;
pub mod tally;
pub mod value;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use base64::Engine as _;
use datafusion::datasource::provider_as_source;
use datafusion::execution::context::SessionContext;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::prelude::{DataFrame, SessionConfig};
use futures_util::StreamExt;
use gatewatch_store::model::Scope;
use gatewatch_store::{Store, StoreError};

use crate::ast::{CommandKind, ExprKind, Query, Span};
use crate::table::{Discovered, EventsTable, ScanStats};
use crate::value::{format_num, format_time, is_lambda_field};

/// Memory one query may hold for sorting and aggregating before it spills.
pub const QUERY_MEMORY_BYTES: usize = 512 * 1024 * 1024;

/// Rows returned when neither the query nor the request sets a limit.
pub const DEFAULT_LIMIT: usize = 10_000;

/// A query that does not compile: `MalformedQueryException`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// What is wrong.
    pub message: String,
    /// Where (character offsets, end exclusive).
    pub span: Span,
    /// 1-based line of the start.
    pub line: usize,
    /// 1-based column of the start.
    pub column: usize,
}

impl QueryError {
    /// An error at `span` of `text`.
    pub fn new(message: impl Into<String>, span: Span, text: &str) -> QueryError {
        let mut line = 1;
        let mut column = 1;
        for c in text.chars().take(span.start) {
            if c == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        QueryError {
            message: message.into(),
            span,
            line,
            column,
        }
    }
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at line {}, column {}",
            self.message, self.line, self.column
        )
    }
}

impl std::error::Error for QueryError {}

/// Parses and checks a query without running it: syntax, command order,
/// functions, and which fields each command may use.
pub fn compile(text: &str) -> Result<Query, QueryError> {
    let q = parser::parse(text)?;
    planner::check_structure(&q, text)?;
    let (discovered, names) = discovered_fields(&q);
    let source = datafusion::logical_expr::logical_plan::builder::LogicalTableSource::new(
        EventsTable::schema_for(&discovered, false),
    );
    let builder = LogicalPlanBuilder::scan("events", Arc::new(source), None).map_err(|e| {
        QueryError::new(
            format!("Could not plan the query: {e}"),
            Span::default(),
            text,
        )
    })?;
    let input = planner::PlanInput {
        start_ms: 0,
        end_ms: 0,
        now_ms: 0,
        account: String::new(),
        limit: DEFAULT_LIMIT,
        previous: None,
        counted: false,
    };
    planner::plan(&q, text, builder, &names, &input)?;
    Ok(q)
}

/// The discovered columns of a query: (columns, field name → column).
fn discovered_fields(q: &Query) -> (Vec<Discovered>, HashMap<String, String>) {
    let mut discovered = Vec::new();
    let mut names = HashMap::new();
    for path in planner::mentioned_fields(q) {
        let name = path.join(".");
        if SYSTEM_FIELDS.contains(&name.as_str()) || names.contains_key(&name) {
            continue;
        }
        let column = format!("d{}", discovered.len());
        names.insert(name, column.clone());
        discovered.push(Discovered { column, path });
    }
    (discovered, names)
}

/// Whether the store can count the query's events instead of listing them
/// (a counted scan, see `gatewatch_store::scan::ReadOptions::counted`): its
/// first command is a `stats` whose items are all plain `count(*)` and
/// whose keys are all JSON fields of the messages, so the rows the scan
/// gives are only ever counted per key. `stats count(*) by status` over
/// compacted segments then never makes a row per event.
pub fn counts_on_scan(q: &Query) -> bool {
    let Some(CommandKind::Stats { items, by }) = q.commands.first().map(|c| &c.kind) else {
        return false;
    };
    let counts_all = |i: &ast::Item| match &i.expr.kind {
        ExprKind::Call { name, args } => args.len() <= 1 && planner::counts_rows(name, args),
        _ => false,
    };
    let json_field = |i: &ast::Item| match &i.expr.kind {
        ExprKind::Field(f) => {
            let name = f.path.join(".");
            !SYSTEM_FIELDS.contains(&name.as_str()) && !is_lambda_field(&name)
        }
        _ => false,
    };
    !items.is_empty() && items.iter().all(counts_all) && by.iter().all(json_field)
}

/// Why a query failed while running.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The query does not compile.
    #[error("{0}")]
    Malformed(#[from] QueryError),
    /// The store refused (unknown group, I/O).
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Execution failed.
    #[error("query execution failed: {0}")]
    Execution(String),
}

/// What to run.
#[derive(Debug, Clone)]
pub struct QueryRequest {
    /// The query text.
    pub query: String,
    /// Log group names.
    pub groups: Vec<String>,
    /// Inclusive start, ms.
    pub start_ms: i64,
    /// Inclusive end, ms.
    pub end_ms: i64,
    /// Row cap (1..=10,000; default 10,000).
    pub limit: Option<usize>,
}

/// Query statistics as GetQueryResults reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Statistics {
    /// Events that reached the aggregation or result stage.
    pub records_matched: f64,
    /// Events read.
    pub records_scanned: f64,
    /// Message bytes read.
    pub bytes_scanned: f64,
    /// Log groups read.
    pub log_groups_scanned: f64,
}

/// A finished query's output.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryOutput {
    /// Column names in order.
    pub columns: Vec<String>,
    /// Rows of `(field, value)`; absent fields are left out of a row.
    pub rows: Vec<Vec<(String, String)>>,
    /// Statistics.
    pub statistics: Statistics,
}

/// `@ptr`: an opaque handle on one event, for GetLogRecord.
pub fn encode_pointer(group: &str, stream: &str, timestamp: i64, seq: u64) -> String {
    let raw = format!("{group}\n{stream}\n{timestamp}\n{seq}");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// Decodes an `@ptr` into (group, stream, timestamp, seq).
pub fn decode_pointer(ptr: &str) -> Option<(String, String, i64, u64)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(ptr.trim())
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let mut parts = raw.splitn(4, '\n');
    let group = parts.next()?.to_string();
    let stream = parts.next()?.to_string();
    let ts = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    Some((group, stream, ts, seq))
}

/// The log groups a `SOURCE logGroups(...)` command selects.
pub fn source_groups(q: &Query, store: &Store, scope: &Scope) -> Option<Vec<String>> {
    let src = q.source.as_ref()?;
    let names = store.group_names(scope);
    Some(
        names
            .into_iter()
            .filter(|n| {
                src.name_prefixes.is_empty() || src.name_prefixes.iter().any(|p| n.starts_with(p))
            })
            .filter(|_| src.log_group_class.as_deref() != Some("INFREQUENT_ACCESS"))
            .collect(),
    )
}

const SYSTEM_FIELDS: &[&str] = &[
    "@timestamp",
    "@message",
    "@logStream",
    "@log",
    "@ingestionTime",
    "@ptr",
];

/// Runs a compiled query over the store.
pub async fn run(
    store: &Store,
    scope: &Scope,
    q: &Query,
    req: &QueryRequest,
) -> Result<QueryOutput, RunError> {
    let previous =
        planner::diff_period(q).map(|p| planner::previous_window(p, req.start_ms, req.end_ms));
    let scan_start = previous.map_or(req.start_ms, |(s, _)| s.min(req.start_ms));
    let scan = Arc::new(
        store
            .scan(scope, &req.groups, scan_start, req.end_ms)
            .await?,
    );
    let (discovered, names) = discovered_fields(q);
    let counted = previous.is_none() && counts_on_scan(q);
    let stats = Arc::new(ScanStats::default());
    let partitions = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 16);
    let table = EventsTable::new(
        Arc::clone(&scan),
        discovered,
        Arc::clone(&stats),
        partitions,
        counted,
    );
    let config = SessionConfig::new()
        .with_target_partitions(partitions)
        .with_batch_size(8192);
    // Sorts and aggregations past the budget spill to temporary files
    // rather than grow without bound inside the gateway's process.
    let runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
        .with_memory_limit(QUERY_MEMORY_BYTES, 1.0)
        .build_arc()
        .map_err(|e| RunError::Execution(e.to_string()))?;
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_query_planner(Arc::new(tally::InsightsQueryPlanner))
        .build();
    let ctx = SessionContext::new_with_state(state);
    let builder = LogicalPlanBuilder::scan("events", provider_as_source(Arc::new(table)), None)
        .map_err(|e| RunError::Execution(e.to_string()))?;
    let input = planner::PlanInput {
        start_ms: req.start_ms,
        end_ms: req.end_ms,
        now_ms: gatewatch_store::now_ms(),
        account: scope.account.clone(),
        limit: req.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, DEFAULT_LIMIT),
        previous,
        counted,
    };
    let planned = planner::plan(q, &req.query, builder, &names, &input)?;
    let df = DataFrame::new(ctx.state(), planned.plan);
    if std::env::var_os("GATEWATCH_EXPLAIN").is_some() {
        if let Ok(plan) = df.clone().create_physical_plan().await {
            eprintln!(
                "{}",
                datafusion::physical_plan::displayable(plan.as_ref()).indent(true)
            );
        }
    }
    let mut stream = df
        .execute_stream()
        .await
        .map_err(|e| RunError::Execution(e.to_string()))?;
    let mut rows = Vec::new();
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|e| RunError::Execution(e.to_string()))?;
        render(&batch, &planned.columns, planned.pointers, &mut rows)?;
    }
    let scanned = stats.records.load(Ordering::Relaxed) as f64;
    // A counted scan's rows are not events; every event it counted reached
    // the query's first command, the stats.
    let matched = if counted {
        scanned
    } else {
        planned.matched.load(Ordering::Relaxed) as f64
    };
    Ok(QueryOutput {
        columns: planned.columns.iter().map(|c| c.name.clone()).collect(),
        rows,
        statistics: Statistics {
            records_matched: matched,
            records_scanned: scanned,
            bytes_scanned: scan.bytes_scanned() as f64,
            log_groups_scanned: req.groups.len() as f64,
        },
    })
}

fn render(
    batch: &RecordBatch,
    columns: &[planner::OutputColumn],
    pointers: bool,
    rows: &mut Vec<Vec<(String, String)>>,
) -> Result<(), RunError> {
    let cols: Vec<_> = columns
        .iter()
        .map(|c| {
            batch
                .column_by_name(&c.column)
                .cloned()
                .ok_or_else(|| RunError::Execution(format!("missing column {}", c.column)))
        })
        .collect::<Result<_, _>>()?;
    let ptr_cols = if pointers {
        let get = |n: &str| batch.column_by_name(n).cloned();
        match (get("__group"), get("__stream"), get("__ts"), get("__seq")) {
            (Some(g), Some(s), Some(t), Some(q)) => Some((g, s, t, q)),
            _ => None,
        }
    } else {
        None
    };
    for i in 0..batch.num_rows() {
        let mut row = Vec::with_capacity(cols.len() + 1);
        for (c, arr) in columns.iter().zip(&cols) {
            if arr.is_null(i) {
                continue;
            }
            let v = match arr.data_type() {
                DataType::Utf8 => arr.as_string::<i32>().value(i).to_string(),
                DataType::Utf8View => arr.as_string_view().value(i).to_string(),
                DataType::Float64 => format_num(
                    arr.as_primitive::<arrow_array::types::Float64Type>()
                        .value(i),
                ),
                DataType::Int64 => {
                    let v = arr.as_primitive::<arrow_array::types::Int64Type>().value(i);
                    if matches!(c.ty, value::Ty::Time) {
                        format_time(v)
                    } else {
                        v.to_string()
                    }
                }
                DataType::UInt64 => arr
                    .as_primitive::<arrow_array::types::UInt64Type>()
                    .value(i)
                    .to_string(),
                DataType::Boolean => {
                    if arr.as_boolean().value(i) {
                        "1".into()
                    } else {
                        "0".into()
                    }
                }
                _ => {
                    let cast = datafusion::arrow::compute::cast(&arr.slice(i, 1), &DataType::Utf8)
                        .map_err(|e| RunError::Execution(e.to_string()))?;
                    cast.as_string::<i32>().value(0).to_string()
                }
            };
            row.push((c.name.clone(), v));
        }
        if let Some((g, s, t, q)) = &ptr_cols {
            let g = g.as_string::<i32>().value(i);
            let s = s.as_string::<i32>().value(i);
            let t = t.as_primitive::<arrow_array::types::Int64Type>().value(i);
            let q = q.as_primitive::<arrow_array::types::UInt64Type>().value(i);
            row.push(("@ptr".to_string(), encode_pointer(g, s, t, q)));
        }
        rows.push(row);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_counts_by_json_fields_read_counted_scans() {
        let counted = |text: &str| counts_on_scan(&compile(text).expect(text));
        for yes in [
            "stats count(*)",
            "stats count()",
            "stats count(*) as n by status",
            "stats count(*) as n, count() as m by status, ip | sort n desc | limit 3",
            "stats count(*) by identity.sourceIp",
            "stats count(*) as n by status | stats count(*) as groups",
        ] {
            assert!(counted(yes), "{yes}");
        }
        for no in [
            // Rows must be seen one by one: a command before stats, an
            // aggregate other than count(*), a computed or system key.
            "filter status >= 500 | stats count(*) by status",
            "fields status | stats count(*) by status",
            "stats count(status) by ip",
            "stats count(*), sum(responseLength) by status",
            "stats count(*) * 2 as twice by status",
            "stats count(*) by bin(5m)",
            "stats count(*) by tolower(status)",
            "stats count(*) by @logStream",
            "stats count(*) by @log",
            "stats count(*) by @type",
            "fields @message | limit 5",
        ] {
            assert!(!counted(no), "{no}");
        }
    }
}
