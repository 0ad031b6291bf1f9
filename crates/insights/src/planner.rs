//! From a parsed query to a DataFusion logical plan.
//!
//! The pipeline is built command by command on a [`LogicalPlanBuilder`]. A
//! scope maps Insights field names to DataFusion expressions with a static
//! [`Ty`]; `fields`, `parse` and `unnest` add bindings, `stats` and `pattern`
//! replace the scope with their outputs. Fields the query names that are not
//! system fields are discovered from messages by the scan (see
//! [`crate::table`]); DataFusion's projection pushdown drops the ones no
//! command ends up using.
//!
//! Ordering: `sort` records the current order and `limit` applies it; the
//! final result is sorted by the current order, or by default `@timestamp`
//! descending (ingestion order breaking ties) for events, and for `stats`
//! by a `bin()` key descending when there is one, else by the keys
//! ascending in natural order.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use datafusion::common::UnnestOptions;
use datafusion::functions_aggregate::expr_fn as agg;
use datafusion::logical_expr::expr::{Sort as SortExpr, WindowFunction, WindowFunctionDefinition};
use datafusion::logical_expr::{
    col, lit, Expr as DfExpr, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder,
};
use datafusion::prelude::{cast, when};

use crate::agg::{Agg, AggKind};
use crate::ast::*;
use crate::func::{result_of, signature_of, Func, Kind};
use crate::tally::TallyNode;
use crate::value::Ty;
use crate::QueryError;

/// Facts the plan needs from the request.
#[derive(Debug, Clone)]
pub struct PlanInput {
    /// Query window start, ms.
    pub start_ms: i64,
    /// Query window end, ms.
    pub end_ms: i64,
    /// When the query started, ms.
    pub now_ms: i64,
    /// Account id (for `@log`).
    pub account: String,
    /// Most rows returned.
    pub limit: usize,
    /// For `diff`: the earlier window `(start, end)` compared with
    /// `start_ms..=end_ms` (the scan covers both).
    pub previous: Option<(i64, i64)>,
    /// The table is a counted scan (see [`crate::counts_on_scan`]): each
    /// row stands for as many events as its `count` column says, so the
    /// first `stats`' `count(*)` sums that column.
    pub counted: bool,
}

/// The earlier window `diff` compares a window with: the equally long range
/// just before it, or the same range a day, a week or 30 days earlier.
pub fn previous_window(period: DiffPeriod, start_ms: i64, end_ms: i64) -> (i64, i64) {
    let shift = match period {
        DiffPeriod::Previous => end_ms - start_ms + 1,
        DiffPeriod::Day => 86_400_000,
        DiffPeriod::Week => 7 * 86_400_000,
        DiffPeriod::Month => 30 * 86_400_000,
    };
    (start_ms - shift, end_ms - shift)
}

/// The `diff` period of a query, if it has one.
pub fn diff_period(q: &Query) -> Option<DiffPeriod> {
    q.commands.iter().find_map(|c| match c.kind {
        CommandKind::Diff(p) => Some(p),
        _ => None,
    })
}

/// One output column.
#[derive(Debug, Clone)]
pub struct OutputColumn {
    /// Field name shown in results.
    pub name: String,
    /// Column in the plan's output.
    pub column: String,
    /// Its type (how values render).
    pub ty: Ty,
}

/// A planned query.
pub struct Planned {
    /// The plan.
    pub plan: LogicalPlan,
    /// Result columns in order.
    pub columns: Vec<OutputColumn>,
    /// Rows carry `__group`, `__stream`, `__ts`, `__seq` for `@ptr`.
    pub pointers: bool,
    /// Rows that reached the terminal stage (`recordsMatched`).
    pub matched: Arc<AtomicU64>,
}

#[derive(Clone)]
struct Binding {
    expr: DfExpr,
    ty: Ty,
}

/// What `pattern` computes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PatternMode {
    /// `pattern`.
    Plain,
    /// `pattern | diff` or `diff`.
    Diff,
    /// `pattern | anomaly`.
    Anomaly,
}

/// Where expressions are compiled.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Ordinary expression.
    Row,
    /// A `stats` item: aggregate calls allowed.
    Stats,
}

struct Planner<'a> {
    input: &'a PlanInput,
    text: &'a str,
    builder: Option<LogicalPlanBuilder>,
    scope: HashMap<String, Binding>,
    /// Names the discovered columns carry.
    discovered: &'a HashMap<String, String>,
    /// `fields`/`stats` outputs, in first-appearance order.
    outputs: Vec<String>,
    display: Option<Vec<String>>,
    order: Option<Vec<SortExpr>>,
    default_order: Vec<SortExpr>,
    aggregated: bool,
    /// The outputs are a stats/pattern's columns, replaced by the next `fields`.
    outputs_from_aggregate: bool,
    stats_seen: usize,
    counter: usize,
    /// Aggregates collected while compiling a stats item.
    pending_aggs: Vec<DfExpr>,
    /// Pre-stats scope used inside aggregate arguments.
    inner_scope: Option<HashMap<String, Binding>>,
    matched: Arc<AtomicU64>,
    tallied: bool,
}

/// Field names a query mentions before its first aggregation (discovery
/// candidates), and the names `parse ... logfmt` should extract.
pub fn mentioned_fields(q: &Query) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut add = |f: &FieldRef| {
        if !out.contains(&f.path) {
            out.push(f.path.clone());
        }
    };
    for c in &q.commands {
        if matches!(c.kind, CommandKind::Stats { .. } | CommandKind::Pattern(_)) {
            // Arguments of the first aggregation still read raw fields.
            visit_command(c, &mut add);
            break;
        }
        visit_command(c, &mut add);
    }
    out
}

fn visit_command(c: &Command, f: &mut impl FnMut(&FieldRef)) {
    let items = |items: &[Item], f: &mut dyn FnMut(&FieldRef)| {
        for i in items {
            visit_expr(&i.expr, f);
        }
    };
    match &c.kind {
        CommandKind::Fields(i) | CommandKind::Display(i) => items(i, f),
        CommandKind::Filter(e)
        | CommandKind::FilterIndex(e)
        | CommandKind::Expand(e)
        | CommandKind::Pattern(e) => visit_expr(e, f),
        CommandKind::Stats { items: i, by } => {
            items(i, f);
            items(by, f);
        }
        CommandKind::Sort(keys) => {
            for k in keys {
                visit_expr(&k.expr, f);
            }
        }
        CommandKind::Dedup(keys) => {
            for k in keys {
                visit_expr(k, f);
            }
        }
        CommandKind::Parse { field, .. } => visit_expr(field, f),
        CommandKind::Unnest { field, .. } => visit_expr(field, f),
        _ => {}
    }
}

fn visit_expr(e: &Expr, f: &mut dyn FnMut(&FieldRef)) {
    match &e.kind {
        ExprKind::Field(r) => f(r),
        ExprKind::List(items) => items.iter().for_each(|i| visit_expr(i, f)),
        ExprKind::Not(x) | ExprKind::Neg(x) | ExprKind::Access(x, _) => visit_expr(x, f),
        ExprKind::Binary(_, a, b) => {
            visit_expr(a, f);
            visit_expr(b, f);
        }
        ExprKind::Like { expr, pattern, .. } => {
            visit_expr(expr, f);
            visit_expr(pattern, f);
        }
        ExprKind::In { expr, list, .. } => {
            visit_expr(expr, f);
            list.iter().for_each(|i| visit_expr(i, f));
        }
        ExprKind::Call { args, .. } => args.iter().for_each(|a| visit_expr(a, f)),
        _ => {}
    }
}

const AGGREGATES: &[&str] = &[
    "count",
    "count_distinct",
    "sum",
    "avg",
    "min",
    "max",
    "stddev",
    "pct",
    "earliest",
    "latest",
    "sortsfirst",
    "sortslast",
];

const NOT_YET: &[&str] = &[
    "rate",
    "count_over_time",
    "countovertime",
    "sum_over_time",
    "sumovertime",
    "histogram",
];

/// Whether the call `name(args)` is `count(*)` or `count()`, which count
/// rows rather than a field's values.
pub(crate) fn counts_rows(name: &str, args: &[Expr]) -> bool {
    name == "count"
        && args
            .first()
            .is_none_or(|a| matches!(a.kind, ExprKind::Star))
}

/// Checks the command order rules of the language.
pub fn check_structure(q: &Query, text: &str) -> Result<(), QueryError> {
    let stats: Vec<usize> = q
        .commands
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c.kind, CommandKind::Stats { .. }))
        .map(|(i, _)| i)
        .collect();
    if stats.len() > 2 {
        return Err(QueryError::new(
            "A query can have at most two stats commands",
            q.commands[stats[2]].span,
            text,
        ));
    }
    if stats.len() == 2 {
        for c in &q.commands[..stats[1]] {
            if matches!(c.kind, CommandKind::Sort(_) | CommandKind::Limit { .. }) {
                return Err(QueryError::new(
                    "sort and limit must come after the second stats command",
                    c.span,
                    text,
                ));
            }
        }
    }
    if let Some(d) = q
        .commands
        .iter()
        .position(|c| matches!(c.kind, CommandKind::Dedup(_)))
    {
        if let Some(c) = q.commands[d + 1..]
            .iter()
            .find(|c| !matches!(c.kind, CommandKind::Limit { .. }))
        {
            return Err(QueryError::new("Only limit may follow dedup", c.span, text));
        }
    }
    for (i, c) in q.commands.iter().enumerate() {
        if matches!(c.kind, CommandKind::Diff(_) | CommandKind::Anomaly) {
            if let Some(bad) = q.commands[i + 1..].iter().find(|n| {
                matches!(
                    n.kind,
                    CommandKind::Stats { .. }
                        | CommandKind::Pattern(_)
                        | CommandKind::Diff(_)
                        | CommandKind::Anomaly
                        | CommandKind::Parse { .. }
                        | CommandKind::Unnest { .. }
                        | CommandKind::Expand(_)
                )
            }) {
                return Err(QueryError::new(
                    "Only filter, fields, display, sort and limit may follow diff or anomaly",
                    bad.span,
                    text,
                ));
            }
        }
        if matches!(c.kind, CommandKind::Anomaly)
            && !(i > 0 && matches!(q.commands[i - 1].kind, CommandKind::Pattern(_)))
        {
            return Err(QueryError::new(
                "anomaly must directly follow a pattern command",
                c.span,
                text,
            ));
        }
    }
    Ok(())
}

/// Builds the plan over `scan` (a builder on the events table) for `q`.
pub fn plan(
    q: &Query,
    text: &str,
    scan: LogicalPlanBuilder,
    discovered: &HashMap<String, String>,
    input: &PlanInput,
) -> Result<Planned, QueryError> {
    check_structure(q, text)?;
    let mut p = Planner {
        input,
        text,
        builder: Some(scan),
        scope: HashMap::new(),
        discovered,
        outputs: Vec::new(),
        display: None,
        order: None,
        default_order: vec![
            SortExpr::new(col("timestamp"), false, false),
            SortExpr::new(col("seq"), false, false),
        ],
        aggregated: false,
        outputs_from_aggregate: false,
        stats_seen: 0,
        counter: 0,
        pending_aggs: Vec::new(),
        inner_scope: None,
        matched: Arc::new(AtomicU64::new(0)),
        tallied: false,
    };
    p.system_fields();
    if let Some((prev_start, prev_end)) = input.previous {
        // Rows of either window; everything before `diff` sees both.
        let ts = || col("timestamp");
        let keep = ts()
            .gt_eq(lit(input.start_ms))
            .and(ts().lt_eq(lit(input.end_ms)))
            .or(ts().gt_eq(lit(prev_start)).and(ts().lt_eq(lit(prev_end))));
        let b = p.take();
        p.builder = Some(
            b.filter(keep)
                .map_err(|e| internal(e, Span::default(), text))?,
        );
    }
    let mut i = 0;
    while i < q.commands.len() {
        let c = &q.commands[i];
        let next = q.commands.get(i + 1).map(|n| &n.kind);
        match (&c.kind, next) {
            (CommandKind::Pattern(e), Some(CommandKind::Diff(_))) => {
                p.pattern(e, c.span, PatternMode::Diff)?;
                i += 1;
            }
            (CommandKind::Pattern(e), Some(CommandKind::Anomaly)) => {
                p.pattern(e, c.span, PatternMode::Anomaly)?;
                i += 1;
            }
            (CommandKind::Diff(_), _) => {
                let message = Expr {
                    kind: ExprKind::Field(FieldRef {
                        path: vec!["@message".into()],
                    }),
                    span: c.span,
                };
                p.pattern(&message, c.span, PatternMode::Diff)?;
            }
            _ => p.command(c)?,
        }
        i += 1;
    }
    p.finish()
}

fn internal(e: impl std::fmt::Display, span: Span, text: &str) -> QueryError {
    QueryError::new(format!("Could not plan the query: {e}"), span, text)
}

impl Planner<'_> {
    fn err<T>(&self, msg: impl Into<String>, span: Span) -> Result<T, QueryError> {
        Err(QueryError::new(msg, span, self.text))
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}{}", self.counter)
    }

    fn take(&mut self) -> LogicalPlanBuilder {
        self.builder.take().expect("builder present")
    }

    fn system_fields(&mut self) {
        let text_of = |e: DfExpr| cast(e, arrow_schema::DataType::Utf8);
        let bind = |s: &mut HashMap<String, Binding>, n: &str, expr: DfExpr, ty: Ty| {
            s.insert(n.to_string(), Binding { expr, ty });
        };
        bind(&mut self.scope, "@timestamp", col("timestamp"), Ty::Time);
        bind(
            &mut self.scope,
            "@ingestionTime",
            col("ingestion_time"),
            Ty::Time,
        );
        bind(&mut self.scope, "@message", col("message"), Ty::Str);
        bind(
            &mut self.scope,
            "@logStream",
            text_of(col("stream")),
            Ty::Str,
        );
        let log = Func::scalar(Kind::Call("concat".into()), Ty::Str).call(vec![
            lit(format!("{}:", self.input.account)),
            text_of(col("group")),
        ]);
        bind(&mut self.scope, "@log", log, Ty::Str);
    }

    /// Adds `exprs` as new columns, keeping every existing one.
    fn add_columns(&mut self, exprs: Vec<(String, DfExpr)>, span: Span) -> Result<(), QueryError> {
        if exprs.is_empty() {
            return Ok(());
        }
        let b = self.take();
        let mut all: Vec<DfExpr> = b
            .schema()
            .columns()
            .into_iter()
            .map(DfExpr::Column)
            .collect();
        for (name, e) in exprs {
            all.push(e.alias(name));
        }
        self.builder = Some(b.project(all).map_err(|e| internal(e, span, self.text))?);
        Ok(())
    }

    fn command(&mut self, c: &Command) -> Result<(), QueryError> {
        let span = c.span;
        match &c.kind {
            CommandKind::Fields(items) | CommandKind::Display(items) => {
                let mut names = Vec::new();
                for item in items {
                    let name = item.name();
                    let (e, ty) = self.compile(&item.expr, Mode::Row)?;
                    let is_plain =
                        matches!(item.expr.kind, ExprKind::Field(_)) && item.alias.is_none();
                    if !is_plain {
                        let column = self.fresh("c");
                        self.add_columns(vec![(column.clone(), e)], span)?;
                        self.scope.insert(
                            name.clone(),
                            Binding {
                                expr: col(column),
                                ty,
                            },
                        );
                    } else if !self.scope.contains_key(&name) {
                        self.scope.insert(name.clone(), Binding { expr: e, ty });
                    }
                    names.push(name);
                }
                if matches!(c.kind, CommandKind::Display(_)) {
                    self.display = Some(names);
                } else {
                    if self.outputs_from_aggregate {
                        self.outputs.clear();
                        self.outputs_from_aggregate = false;
                    }
                    for n in names {
                        if !self.outputs.contains(&n) {
                            self.outputs.push(n);
                        }
                    }
                }
            }
            CommandKind::Filter(e) | CommandKind::FilterIndex(e) => {
                let (pred, ty) = self.compile(e, Mode::Row)?;
                let pred = self.as_bool(pred, ty);
                let b = self.take();
                self.builder = Some(b.filter(pred).map_err(|e| internal(e, span, self.text))?);
            }
            CommandKind::Stats { items, by } => self.stats(items, by, span)?,
            CommandKind::Sort(keys) => {
                let mut order = Vec::new();
                for k in keys {
                    let (e, ty) = self.compile(&k.expr, Mode::Row)?;
                    order.push(sort_expr(e, ty, k.desc));
                }
                // The default order breaks ties, so results are repeatable.
                order.extend(self.default_order.iter().cloned());
                self.order = Some(order);
            }
            CommandKind::Limit { n, any } => {
                let n = (*n as usize).min(10_000);
                if !*any {
                    self.tally_before_terminal(span)?;
                }
                if *any {
                    let b = self.take();
                    self.builder = Some(
                        b.limit(0, Some(n))
                            .map_err(|e| internal(e, span, self.text))?,
                    );
                } else {
                    let order = self.current_order();
                    self.apply_sort(order, Some(n), span)?;
                }
            }
            CommandKind::Parse { field, pattern } => self.parse(field, pattern, span)?,
            CommandKind::Dedup(keys) => {
                let mut exprs = Vec::new();
                for k in keys {
                    let (e, _) = self.compile(k, Mode::Row)?;
                    exprs.push(e);
                }
                self.tally_before_terminal(span)?;
                let order = self.current_order();
                let rn_name = self.fresh("rn");
                let window = datafusion::functions_window::expr_fn::row_number()
                    .partition_by(exprs.clone())
                    .order_by(order)
                    .build()
                    .map_err(|e| internal(e, span, self.text))?
                    .alias(rn_name.clone());
                let b = self.take();
                let b = b
                    .window(vec![window])
                    .map_err(|e| internal(e, span, self.text))?;
                let mut keep = col(rn_name).eq(lit(1u64));
                for e in exprs {
                    keep = keep.or(e.is_null());
                }
                self.builder = Some(b.filter(keep).map_err(|e| internal(e, span, self.text))?);
            }
            CommandKind::Unnest { field, into } => {
                let (e, _) = self.compile(field, Mode::Row)?;
                let list = self.fresh("l");
                self.unnest(e, &list, span)?;
                self.scope.insert(
                    into.clone(),
                    Binding {
                        expr: col(list),
                        ty: Ty::Json,
                    },
                );
            }
            CommandKind::Expand(field) => {
                let (e, _) = self.compile(field, Mode::Row)?;
                let list = self.fresh("l");
                self.unnest(e, &list, span)?;
                let name = match &field.kind {
                    ExprKind::Field(f) => f.name(),
                    _ => self.text_of(field.span),
                };
                self.scope.insert(
                    name,
                    Binding {
                        expr: col(list),
                        ty: Ty::Json,
                    },
                );
            }
            CommandKind::Pattern(e) => self.pattern(e, span, PatternMode::Plain)?,
            // Handled with the pattern before them (see `plan`).
            CommandKind::Diff(_) | CommandKind::Anomaly => {
                return self.err("anomaly must directly follow a pattern command", span)
            }
            CommandKind::Unmask => {}
        }
        Ok(())
    }

    fn text_of(&self, span: Span) -> String {
        self.text
            .chars()
            .skip(span.start)
            .take(span.end - span.start)
            .collect()
    }

    /// Sorts (with an optional row cap) by `order`, first materialising
    /// computed keys as columns so DataFusion sorts by plain columns.
    fn apply_sort(
        &mut self,
        order: Vec<SortExpr>,
        fetch: Option<usize>,
        span: Span,
    ) -> Result<(), QueryError> {
        if order.is_empty() {
            if let Some(n) = fetch {
                let b = self.take();
                self.builder = Some(
                    b.limit(0, Some(n))
                        .map_err(|e| internal(e, span, self.text))?,
                );
            }
            return Ok(());
        }
        let mut keys = Vec::new();
        let mut sorts = Vec::new();
        for s in order {
            match s.expr {
                DfExpr::Column(_) => sorts.push(s),
                other => {
                    let k = self.fresh("k");
                    keys.push((k.clone(), other));
                    sorts.push(SortExpr::new(col(k), s.asc, s.nulls_first));
                }
            }
        }
        self.add_columns(keys, span)?;
        let b = self.take();
        self.builder = Some(
            b.sort_with_limit(sorts, fetch)
                .map_err(|e| internal(e, span, self.text))?,
        );
        Ok(())
    }

    fn current_order(&self) -> Vec<SortExpr> {
        self.order
            .clone()
            .unwrap_or_else(|| self.default_order.clone())
    }

    /// Counts the rows reaching the end of the record stage, once.
    fn tally_before_terminal(&mut self, span: Span) -> Result<(), QueryError> {
        if self.tallied || self.aggregated {
            return Ok(());
        }
        self.tallied = true;
        let plan = self
            .take()
            .build()
            .map_err(|e| internal(e, span, self.text))?;
        self.builder = Some(LogicalPlanBuilder::from(TallyNode::plan(
            plan,
            Arc::clone(&self.matched),
        )));
        Ok(())
    }

    fn unnest(&mut self, e: DfExpr, list: &str, span: Span) -> Result<(), QueryError> {
        self.add_columns(
            vec![(list.to_string(), Func::json_list().call(vec![e]))],
            span,
        )?;
        let b = self.take();
        let options = UnnestOptions {
            null_handling: datafusion::common::NullHandling::Drop,
            recursions: vec![],
        };
        self.builder = Some(
            b.unnest_column_with_options(list, options)
                .map_err(|e| internal(e, span, self.text))?,
        );
        Ok(())
    }

    fn parse(
        &mut self,
        field: &Expr,
        pattern: &ParsePattern,
        span: Span,
    ) -> Result<(), QueryError> {
        let (source, _) = self.compile(field, Mode::Row)?;
        let (kind, names, multi) = match pattern {
            ParsePattern::Glob { glob, names } => {
                let group_names: Vec<String> = (0..names.len()).map(|i| format!("g{i}")).collect();
                (
                    Kind::Glob {
                        parts: glob.split('*').map(str::to_string).collect(),
                        names: group_names.clone(),
                    },
                    names
                        .iter()
                        .cloned()
                        .zip(group_names)
                        .collect::<Vec<(String, String)>>(),
                    false,
                )
            }
            ParsePattern::Regex { regex, multi } => {
                let re = match regex::Regex::new(regex) {
                    Ok(r) => r,
                    Err(e) => {
                        return self.err(
                            format!(
                                "Invalid regular expression: {}",
                                crate::parser::regex_error(&e)
                            ),
                            span,
                        )
                    }
                };
                let names: Vec<String> = re.capture_names().flatten().map(str::to_string).collect();
                if names.is_empty() {
                    return self.err(
                        "The regular expression needs named groups such as (?<name>...)",
                        span,
                    );
                }
                (
                    Kind::Parse {
                        regex: regex.clone(),
                        names: names.clone(),
                        multi: *multi,
                    },
                    names.iter().map(|n| (n.clone(), n.clone())).collect(),
                    *multi,
                )
            }
            ParsePattern::Csv { names } => (
                Kind::Csv(names.clone()),
                names.iter().map(|n| (n.clone(), n.clone())).collect(),
                false,
            ),
            ParsePattern::Logfmt => {
                // Extract every plain name the query mentions.
                let names: Vec<String> = self
                    .discovered
                    .keys()
                    .filter(|k| !k.starts_with('@') && !k.contains('.'))
                    .cloned()
                    .collect();
                (
                    Kind::Logfmt(names.clone()),
                    names.iter().map(|n| (n.clone(), n.clone())).collect(),
                    false,
                )
            }
        };
        let struct_names: Vec<String> = names.iter().map(|(_, s)| s.clone()).collect();
        let udf = Func::parser(kind, struct_names, multi);
        let sc = self.fresh("p");
        self.add_columns(vec![(sc.clone(), udf.call(vec![source]))], span)?;
        if multi {
            let b = self.take();
            let options = UnnestOptions {
                null_handling: datafusion::common::NullHandling::Drop,
                recursions: vec![],
            };
            self.builder = Some(
                b.unnest_column_with_options(sc.as_str(), options)
                    .map_err(|e| internal(e, span, self.text))?,
            );
        }
        let mut new_cols = Vec::new();
        let mut bindings = Vec::new();
        for (name, sname) in names {
            let extracted =
                Func::scalar(Kind::StructField(sname.clone()), Ty::Str).call(vec![col(sc.clone())]);
            let value = match self.scope.get(&name) {
                Some(prev) => {
                    let prev_text = match prev.ty {
                        Ty::Str | Ty::Json => prev.expr.clone(),
                        _ => Func::scalar(Kind::Text, Ty::Str).call(vec![prev.expr.clone()]),
                    };
                    Func::scalar(Kind::Call("coalesce".into()), Ty::Str)
                        .call(vec![extracted, prev_text])
                }
                None => extracted,
            };
            let c = self.fresh("x");
            new_cols.push((c.clone(), value));
            bindings.push((name, c));
        }
        self.add_columns(new_cols, span)?;
        for (name, c) in bindings {
            self.scope.insert(
                name,
                Binding {
                    expr: col(c),
                    ty: Ty::Str,
                },
            );
        }
        Ok(())
    }

    fn stats(&mut self, items: &[Item], by: &[Item], span: Span) -> Result<(), QueryError> {
        self.stats_seen += 1;
        self.tally_before_terminal(span)?;
        let mut group_exprs = Vec::new();
        let mut post_scope: HashMap<String, Binding> = HashMap::new();
        let mut out_names = Vec::new();
        let mut bin_key: Option<(DfExpr, Ty)> = None;
        let mut key_cols = Vec::new();
        for item in by {
            let (e, ty) = self.compile(&item.expr, Mode::Row)?;
            let name = item.name();
            let g = self.fresh("g");
            // Text keys are grouped as string views: DataFusion compares
            // views of up to 12 bytes (statuses, most addresses) as
            // integers instead of calling memcmp. Discovered fields already
            // are views; computed text (parse, functions) is viewed in place.
            let e = if ty == Ty::Str {
                cast(e, arrow_schema::DataType::Utf8View)
            } else {
                e
            };
            group_exprs.push(e.alias(g.clone()));
            let is_bin = matches!(&item.expr.kind, ExprKind::Call { name, .. } if name == "bin");
            if is_bin && bin_key.is_none() {
                bin_key = Some((col(g.clone()), ty));
            }
            key_cols.push((col(g.clone()), ty));
            post_scope.insert(name.clone(), Binding { expr: col(g), ty });
            out_names.push(name);
        }
        // Items: aggregate calls compile against the current scope; the
        // rest of each item against the keys and earlier items.
        self.inner_scope = Some(self.scope.clone());
        let saved_scope = std::mem::replace(&mut self.scope, post_scope);
        let mut item_exprs = Vec::new();
        for item in items {
            let (e, ty) = match self.compile(&item.expr, Mode::Stats) {
                Ok(r) => r,
                Err(err) => {
                    self.scope = saved_scope;
                    self.inner_scope = None;
                    return Err(err);
                }
            };
            let name = item.name();
            let s = self.fresh("s");
            item_exprs.push((s.clone(), e.clone(), ty));
            self.scope.insert(name.clone(), Binding { expr: e, ty });
            out_names.push(name);
        }
        self.inner_scope = None;
        let aggs = std::mem::take(&mut self.pending_aggs);
        if aggs.is_empty() {
            return self.err(
                "stats needs at least one aggregation function such as count()",
                span,
            );
        }
        let b = self.take();
        let b = b
            .aggregate(group_exprs, aggs)
            .map_err(|e| internal(e, span, self.text))?;
        // Project keys and computed items.
        let mut proj: Vec<DfExpr> = Vec::new();
        let mut new_scope = HashMap::new();
        for (name, item) in by.iter().map(|i| i.name()).zip(0..) {
            let _ = item;
            if let Some(bnd) = self.scope.get(&name) {
                if let DfExpr::Column(c) = &bnd.expr {
                    proj.push(col(c.name.clone()));
                }
                new_scope.insert(name, bnd.clone());
            }
        }
        for (s, e, _) in &item_exprs {
            proj.push(e.clone().alias(s.clone()));
        }
        for (item, (s, _, ty)) in items.iter().zip(&item_exprs) {
            new_scope.insert(
                item.name(),
                Binding {
                    expr: col(s.clone()),
                    ty: *ty,
                },
            );
        }
        let b = b.project(proj).map_err(|e| internal(e, span, self.text))?;
        self.builder = Some(b);
        self.scope = new_scope;
        self.outputs = out_names;
        self.outputs_from_aggregate = true;
        self.aggregated = true;
        self.order = None;
        let mut default_order = Vec::new();
        if let Some((e, ty)) = bin_key {
            default_order.push(sort_expr(e, ty, true));
        }
        default_order.extend(key_cols.into_iter().map(|(e, ty)| sort_expr(e, ty, false)));
        self.default_order = default_order;
        drop(saved_scope);
        Ok(())
    }

    fn pattern(&mut self, e: &Expr, span: Span, mode: PatternMode) -> Result<(), QueryError> {
        let (source, _) = self.compile(e, Mode::Row)?;
        self.tally_before_terminal(span)?;
        let (pc, sc) = (self.fresh("pat"), self.fresh("sev"));
        self.add_columns(
            vec![
                (
                    pc.clone(),
                    Func::scalar(Kind::PatternOf, Ty::Str).call(vec![source.clone()]),
                ),
                (
                    sc.clone(),
                    Func::scalar(Kind::Severity, Ty::Str).call(vec![source]),
                ),
            ],
            span,
        )?;
        let ierr = |e: datafusion::common::DataFusionError| internal(e, span, self.text);
        let count_f = || cast(agg::count(lit(1)), arrow_schema::DataType::Float64);
        let b = self
            .take()
            .filter(col(pc.clone()).is_not_null())
            .map_err(ierr)?;
        let n = self.fresh("n");
        let mut scope = HashMap::new();
        let bind = |scope: &mut HashMap<String, Binding>, name: &str, c: &str, ty: Ty| {
            scope.insert(name.to_string(), Binding { expr: col(c), ty });
        };
        let outputs: Vec<&str>;
        let b = match mode {
            PatternMode::Diff => {
                let ts = col("timestamp");
                let is_current = when(ts.gt_eq(lit(self.input.start_ms)), lit(1.0))
                    .otherwise(lit(0.0))
                    .map_err(ierr)?;
                let (cur, prev, change, kind) = (
                    self.fresh("cur"),
                    self.fresh("prev"),
                    self.fresh("chg"),
                    self.fresh("kind"),
                );
                let b = b
                    .aggregate(
                        vec![col(pc.clone()), col(sc.clone())],
                        vec![
                            agg::sum(is_current.clone()).alias(cur.clone()),
                            agg::sum(lit(1.0) - is_current).alias(prev.clone()),
                        ],
                    )
                    .map_err(ierr)?;
                let change_type = when(col(prev.clone()).eq(lit(0.0)), lit("NEW"))
                    .when(col(cur.clone()).eq(lit(0.0)), lit("REMOVED"))
                    .when(col(cur.clone()).eq(col(prev.clone())), lit("UNCHANGED"))
                    .otherwise(lit("CHANGED"))
                    .map_err(ierr)?;
                let b = b
                    .project(vec![
                        col(pc.clone()),
                        col(sc.clone()),
                        col(cur.clone()),
                        col(prev.clone()),
                        (col(cur.clone()) - col(prev.clone())).alias(change.clone()),
                        change_type.alias(kind.clone()),
                    ])
                    .map_err(ierr)?;
                bind(&mut scope, "@currentCount", &cur, Ty::Num);
                bind(&mut scope, "@previousCount", &prev, Ty::Num);
                bind(&mut scope, "@countChange", &change, Ty::Num);
                bind(&mut scope, "@changeType", &kind, Ty::Str);
                outputs = vec![
                    "@pattern",
                    "@currentCount",
                    "@previousCount",
                    "@countChange",
                    "@changeType",
                    "@severityLabel",
                ];
                self.default_order = vec![
                    SortExpr::new(col(cur), false, false),
                    SortExpr::new(col(pc.clone()), true, false),
                ];
                b
            }
            PatternMode::Plain | PatternMode::Anomaly => {
                let b = if mode == PatternMode::Anomaly {
                    // Counts per tenth of the window, then per pattern.
                    let range = (self.input.end_ms - self.input.start_ms + 1).max(1);
                    let bucket = self.fresh("bk");
                    let per = self.fresh("per");
                    let slot =
                        ((col("timestamp") - lit(self.input.start_ms)) * lit(10i64)) / lit(range);
                    let (peak, score, akind, desc) = (
                        self.fresh("peak"),
                        self.fresh("score"),
                        self.fresh("akind"),
                        self.fresh("desc"),
                    );
                    let b = b
                        .aggregate(
                            vec![col(pc.clone()), col(sc.clone()), slot.alias(bucket)],
                            vec![count_f().alias(per.clone())],
                        )
                        .and_then(|b| {
                            b.aggregate(
                                vec![col(pc.clone()), col(sc.clone())],
                                vec![
                                    agg::sum(col(per.clone())).alias(n.clone()),
                                    agg::max(col(per.clone())).alias(peak.clone()),
                                ],
                            )
                        })
                        .map_err(ierr)?;
                    let mean = col(n.clone()) / lit(10.0);
                    let flagged = col(peak.clone())
                        .gt_eq(lit(5.0))
                        .and(col(peak.clone()).gt_eq(mean.clone() * lit(3.0)));
                    let text = |e: DfExpr| Func::scalar(Kind::Text, Ty::Str).call(vec![e]);
                    let description =
                        Func::scalar(Kind::Call("concat".into()), Ty::Str).call(vec![
                            text(col(peak.clone())),
                            lit(" of "),
                            text(col(n.clone())),
                            lit(" events fell in one tenth of the time range ("),
                            text(
                                Func::scalar(Kind::Call("round".into()), Ty::Num)
                                    .call(vec![col(peak.clone()) / mean.clone(), lit(1.0)]),
                            ),
                            lit("× the average)"),
                        ]);
                    let b = b
                        .project(vec![
                            col(pc.clone()),
                            col(sc.clone()),
                            col(n.clone()),
                            when(flagged.clone(), lit("pattern-frequency"))
                                .end()
                                .map_err(ierr)?
                                .alias(akind.clone()),
                            when(flagged.clone(), col(peak.clone()) / mean)
                                .end()
                                .map_err(ierr)?
                                .alias(score.clone()),
                            when(flagged, description)
                                .end()
                                .map_err(ierr)?
                                .alias(desc.clone()),
                        ])
                        .map_err(ierr)?;
                    bind(&mut scope, "@anomalyType", &akind, Ty::Str);
                    bind(&mut scope, "@anomalyScore", &score, Ty::Num);
                    bind(&mut scope, "@description", &desc, Ty::Str);
                    b
                } else {
                    b.aggregate(
                        vec![col(pc.clone()), col(sc.clone())],
                        vec![count_f().alias(n.clone())],
                    )
                    .map_err(ierr)?
                };
                let total = self.fresh("t");
                let window = DfExpr::from(WindowFunction::new(
                    WindowFunctionDefinition::AggregateUDF(
                        datafusion::functions_aggregate::sum::sum_udaf(),
                    ),
                    vec![col(n.clone())],
                ))
                .alias(total.clone());
                let b = b.window(vec![window]).map_err(ierr)?;
                let ratio = self.fresh("r");
                let mut cols: Vec<DfExpr> = b
                    .schema()
                    .columns()
                    .into_iter()
                    .filter(|c| c.name != total)
                    .map(DfExpr::Column)
                    .collect();
                cols.push((col(n.clone()) / col(total)).alias(ratio.clone()));
                let b = b.project(cols).map_err(ierr)?;
                bind(&mut scope, "@ratio", &ratio, Ty::Num);
                bind(&mut scope, "@sampleCount", &n, Ty::Num);
                outputs = if mode == PatternMode::Anomaly {
                    vec![
                        "@pattern",
                        "@ratio",
                        "@sampleCount",
                        "@severityLabel",
                        "@anomalyType",
                        "@anomalyScore",
                        "@description",
                    ]
                } else {
                    vec!["@pattern", "@ratio", "@sampleCount", "@severityLabel"]
                };
                self.default_order = vec![
                    SortExpr::new(col(n), false, false),
                    SortExpr::new(col(pc.clone()), true, false),
                ];
                b
            }
        };
        self.builder = Some(b);
        bind(&mut scope, "@pattern", &pc, Ty::Str);
        bind(&mut scope, "@severityLabel", &sc, Ty::Str);
        self.scope = scope;
        self.outputs = outputs.into_iter().map(String::from).collect();
        self.outputs_from_aggregate = true;
        self.aggregated = true;
        self.order = None;
        Ok(())
    }

    fn finish(mut self) -> Result<Planned, QueryError> {
        let span = Span::new(0, self.text.chars().count());
        self.tally_before_terminal(span)?;
        let names: Vec<String> = match &self.display {
            Some(d) => d.clone(),
            None if !self.outputs.is_empty() => self.outputs.clone(),
            None => vec!["@timestamp".into(), "@message".into()],
        };
        let order = self.current_order();
        self.apply_sort(order, Some(self.input.limit), span)?;
        let b = self.take();
        let mut proj = Vec::new();
        let mut columns = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let Some(binding) = self
                .scope
                .get(name)
                .cloned()
                .or_else(|| self.lookup_discovered(name))
            else {
                // A name no row can have: an always-missing column.
                continue;
            };
            let column = format!("o{i}");
            proj.push(binding.expr.alias(column.clone()));
            columns.push(OutputColumn {
                name: name.clone(),
                column,
                ty: binding.ty,
            });
        }
        let pointers = !self.aggregated;
        if pointers {
            proj.push(cast(col("group"), arrow_schema::DataType::Utf8).alias("__group"));
            proj.push(cast(col("stream"), arrow_schema::DataType::Utf8).alias("__stream"));
            proj.push(col("timestamp").alias("__ts"));
            proj.push(col("seq").alias("__seq"));
        }
        let plan = b
            .project(proj)
            .and_then(|b| b.build())
            .map_err(|e| internal(e, span, self.text))?;
        Ok(Planned {
            plan,
            columns,
            pointers,
            matched: self.matched,
        })
    }

    fn lookup_discovered(&self, name: &str) -> Option<Binding> {
        if self.aggregated {
            return None;
        }
        self.discovered.get(name).map(|c| Binding {
            expr: col(c.clone()),
            ty: Ty::Str,
        })
    }

    fn as_bool(&self, e: DfExpr, ty: Ty) -> DfExpr {
        if ty == Ty::Bool {
            e
        } else {
            Func::scalar(Kind::Truthy, Ty::Bool).call(vec![e])
        }
    }

    fn as_num(&self, e: DfExpr, ty: Ty) -> DfExpr {
        if ty == Ty::Num {
            e
        } else {
            Func::scalar(Kind::Call("tonumber".into()), Ty::Num).call(vec![e])
        }
    }

    fn field(&self, f: &FieldRef, span: Span) -> Result<(DfExpr, Ty), QueryError> {
        let name = f.name();
        if let Some(b) = self.scope.get(&name) {
            return Ok((b.expr.clone(), b.ty));
        }
        // `j.key.sub` where `j` is a map from jsonParse.
        for split in (1..f.path.len()).rev() {
            let head = f.path[..split].join(".");
            if let Some(b) = self.scope.get(&head) {
                if b.ty == Ty::Json {
                    let mut e = b.expr.clone();
                    for key in &f.path[split..] {
                        e = Func::scalar(Kind::Call("jsonget".into()), Ty::Json)
                            .call(vec![e, lit(key.clone())]);
                    }
                    return Ok((e, Ty::Json));
                }
            }
        }
        if let Some(b) = self.lookup_discovered(&name) {
            return Ok((b.expr, b.ty));
        }
        if self.aggregated {
            return self.err(
                format!("Field '{name}' is not available here: after stats only the fields it produces can be used"),
                span,
            );
        }
        self.err(format!("Unknown field '{name}'"), span)
    }

    fn compile(&mut self, e: &Expr, mode: Mode) -> Result<(DfExpr, Ty), QueryError> {
        match &e.kind {
            ExprKind::Field(f) => self.field(f, e.span),
            ExprKind::Str(s) => Ok((lit(s.clone()), Ty::Str)),
            ExprKind::Num(n) => Ok((lit(*n), Ty::Num)),
            ExprKind::Regex(_) => self.err(
                "A regular expression can only be used with like, =~ or parse",
                e.span,
            ),
            ExprKind::Period(_) => self.err(
                "A time period can only be used in bin(), datefloor() or dateceil()",
                e.span,
            ),
            ExprKind::List(_) => self.err("A list can only be used after 'in'", e.span),
            ExprKind::Star => self.err("'*' can only be used in count(*)", e.span),
            ExprKind::Not(x) => {
                let (x, ty) = self.compile(x, mode)?;
                Ok((!self.as_bool(x, ty), Ty::Bool))
            }
            ExprKind::Neg(x) => {
                let (x, _) = self.compile(x, mode)?;
                Ok((Func::scalar(Kind::Neg, Ty::Num).call(vec![x]), Ty::Num))
            }
            ExprKind::Binary(op, a, b) => {
                let (ea, ta) = self.compile(a, mode)?;
                let (eb, tb) = self.compile(b, mode)?;
                match op {
                    BinOp::And => Ok((self.as_bool(ea, ta).and(self.as_bool(eb, tb)), Ty::Bool)),
                    BinOp::Or => Ok((self.as_bool(ea, ta).or(self.as_bool(eb, tb)), Ty::Bool)),
                    op if op.is_comparison() => {
                        let numeric = |t: Ty| t == Ty::Num;
                        let timeish = |t: Ty| t == Ty::Time;
                        if (numeric(ta) && numeric(tb)) || (timeish(ta) && timeish(tb)) {
                            let df = match op {
                                BinOp::Eq => ea.eq(eb),
                                BinOp::Ne => ea.not_eq(eb),
                                BinOp::Lt => ea.lt(eb),
                                BinOp::Le => ea.lt_eq(eb),
                                BinOp::Gt => ea.gt(eb),
                                _ => ea.gt_eq(eb),
                            };
                            return Ok((df, Ty::Bool));
                        }
                        Ok((
                            Func::scalar(Kind::Cmp(*op), Ty::Bool).call(vec![ea, eb]),
                            Ty::Bool,
                        ))
                    }
                    op => Ok((
                        Func::scalar(Kind::Arith(*op), Ty::Num).call(vec![ea, eb]),
                        Ty::Num,
                    )),
                }
            }
            ExprKind::Like {
                expr,
                pattern,
                negated,
            } => {
                let (x, _) = self.compile(expr, mode)?;
                let m = match &pattern.kind {
                    ExprKind::Regex(r) => {
                        Func::scalar(Kind::Matches, Ty::Bool).call(vec![x, lit(r.clone())])
                    }
                    ExprKind::Str(s) => {
                        Func::scalar(Kind::Contains, Ty::Bool).call(vec![x, lit(s.clone())])
                    }
                    _ => return self.err("like takes a string or a /regex/", pattern.span),
                };
                Ok((if *negated { !m } else { m }, Ty::Bool))
            }
            ExprKind::In {
                expr,
                list,
                negated,
            } => {
                let (x, _) = self.compile(expr, mode)?;
                let mut args = vec![x];
                for item in list {
                    args.push(self.compile(item, mode)?.0);
                }
                let m = Func::scalar(Kind::In, Ty::Bool).call(args);
                Ok((if *negated { !m } else { m }, Ty::Bool))
            }
            ExprKind::Access(inner, key) => {
                let (x, _) = self.compile(inner, mode)?;
                Ok((
                    Func::scalar(Kind::Call("jsonget".into()), Ty::Json)
                        .call(vec![x, lit(key.clone())]),
                    Ty::Json,
                ))
            }
            ExprKind::Call { name, args } => self.call(name, args, e.span, mode),
        }
    }

    fn period_arg(
        &self,
        args: &[Expr],
        i: usize,
        fname: &str,
        span: Span,
    ) -> Result<Period, QueryError> {
        match args.get(i).map(|a| &a.kind) {
            Some(ExprKind::Period(p)) => Ok(*p),
            _ => self.err(
                format!(
                    "{fname}() needs a time period such as 5m as argument {}",
                    i + 1
                ),
                args.get(i).map_or(span, |a| a.span),
            ),
        }
    }

    fn call(
        &mut self,
        name: &str,
        args: &[Expr],
        span: Span,
        mode: Mode,
    ) -> Result<(DfExpr, Ty), QueryError> {
        if AGGREGATES.contains(&name) {
            if mode != Mode::Stats {
                return self.err(
                    format!("The aggregation function '{name}' can only be used in stats"),
                    span,
                );
            }
            return self.aggregate(name, args, span);
        }
        if NOT_YET.contains(&name) {
            return self.err(
                format!("The function '{name}' is not supported yet by Gatewatch"),
                span,
            );
        }
        match name {
            "ispresent" => {
                if args.len() != 1 {
                    return self.err("ispresent() takes one field", span);
                }
                let (x, _) = self.compile(&args[0], mode)?;
                return Ok((x.is_not_null(), Ty::Bool));
            }
            "bin" => {
                if args.len() != 1 {
                    return self.err("bin() takes one time period, such as bin(5m)", span);
                }
                let p = self.period_arg(args, 0, "bin", span)?;
                let Some(ts) = self.scope.get("@timestamp").cloned() else {
                    return self.err(
                        "bin() reads @timestamp, which is not available here; carry a timestamp from the first stats (for example max(@timestamp) as @t) and use datefloor(@t, ...)",
                        span,
                    );
                };
                return Ok((
                    Func::scalar(Kind::Floor(p), Ty::Time).call(vec![ts.expr]),
                    Ty::Time,
                ));
            }
            "datefloor" | "dateceil" => {
                if args.len() != 2 {
                    return self.err(
                        format!("{name}() takes a timestamp and a time period"),
                        span,
                    );
                }
                let p = self.period_arg(args, 1, name, span)?;
                let (x, _) = self.compile(&args[0], mode)?;
                let kind = if name == "datefloor" {
                    Kind::Floor(p)
                } else {
                    Kind::Ceil(p)
                };
                return Ok((Func::scalar(kind, Ty::Time).call(vec![x]), Ty::Time));
            }
            "now" => return Ok((lit((self.input.now_ms / 1000) as f64), Ty::Num)),
            "querystarttime" => return Ok((lit(self.input.start_ms as f64), Ty::Num)),
            "queryendtime" => return Ok((lit(self.input.end_ms as f64), Ty::Num)),
            "querytimerange" => {
                return Ok((
                    lit((self.input.end_ms - self.input.start_ms) as f64),
                    Ty::Num,
                ))
            }
            _ => {}
        }
        let Some((min, max)) = signature_of(name) else {
            return self.err(format!("Unknown function '{name}'"), span);
        };
        if args.len() < min || args.len() > max {
            let want = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            return self.err(
                format!("{name}() takes {want} arguments, not {}", args.len()),
                span,
            );
        }
        let mut exprs = Vec::new();
        let mut tys = Vec::new();
        for a in args {
            let (e, t) = self.compile(a, mode)?;
            exprs.push(e);
            tys.push(t);
        }
        let ty = result_of(name, &tys);
        Ok((
            Func::scalar(Kind::Call(name.to_string()), ty).call(exprs),
            ty,
        ))
    }

    /// Compiles an aggregate call's arguments in the pre-stats scope.
    fn aggregate(
        &mut self,
        name: &str,
        args: &[Expr],
        span: Span,
    ) -> Result<(DfExpr, Ty), QueryError> {
        let inner = self.inner_scope.clone().unwrap_or_default();
        let outer = std::mem::replace(&mut self.scope, inner);
        let result = self.aggregate_inner(name, args, span);
        self.scope = outer;
        let (e, ty) = result?;
        let a = self.fresh("a");
        self.pending_aggs.push(e.alias(a.clone()));
        if self.sums_counts(name, args) {
            // A sum over no rows is null where count(*) gives 0.
            let zero = when(col(a.clone()).is_null(), lit(0.0))
                .otherwise(col(a))
                .map_err(|e| internal(e, span, self.text))?;
            return Ok((zero, ty));
        }
        Ok((col(a), ty))
    }

    /// Whether the aggregate `name(args)` is a `count(*)` over a counted
    /// scan's rows, computed as the sum of their counts.
    fn sums_counts(&self, name: &str, args: &[Expr]) -> bool {
        self.input.counted && !self.aggregated && counts_rows(name, args)
    }

    fn aggregate_inner(
        &mut self,
        name: &str,
        args: &[Expr],
        span: Span,
    ) -> Result<(DfExpr, Ty), QueryError> {
        if counts_rows(name, args) {
            if args.len() > 1 {
                return self.err("count() takes at most one argument", span);
            }
            if self.sums_counts(name, args) {
                return Ok((
                    cast(
                        agg::sum(col(gatewatch_store::scan::columns::COUNT)),
                        arrow_schema::DataType::Float64,
                    ),
                    Ty::Num,
                ));
            }
            return Ok((
                cast(agg::count(lit(1)), arrow_schema::DataType::Float64),
                Ty::Num,
            ));
        }
        let want = if name == "pct" { 2 } else { 1 };
        if args.len() != want {
            return self.err(
                format!(
                    "{name}() takes {want} argument{}",
                    if want == 1 { "" } else { "s" }
                ),
                span,
            );
        }
        let (x, ty) = self.compile(&args[0], Mode::Row)?;
        Ok(match name {
            "count" => (
                cast(agg::count(x), arrow_schema::DataType::Float64),
                Ty::Num,
            ),
            "count_distinct" => (
                cast(agg::count_distinct(x), arrow_schema::DataType::Float64),
                Ty::Num,
            ),
            "sum" => (agg::sum(self.as_num(x, ty)), Ty::Num),
            "avg" => (agg::avg(self.as_num(x, ty)), Ty::Num),
            "stddev" => (agg::stddev(self.as_num(x, ty)), Ty::Num),
            "min" | "max" => match ty {
                Ty::Num | Ty::Time => (
                    if name == "min" {
                        agg::min(x)
                    } else {
                        agg::max(x)
                    },
                    ty,
                ),
                _ => (
                    Agg::udaf(if name == "min" {
                        AggKind::Min
                    } else {
                        AggKind::Max
                    })
                    .call(vec![x]),
                    Ty::Str,
                ),
            },
            "pct" => {
                let p = match &args[1].kind {
                    ExprKind::Num(p) if (0.0..=100.0).contains(p) => *p,
                    _ => {
                        return self.err("pct() takes a percentile between 0 and 100", args[1].span)
                    }
                };
                (
                    Agg::udaf(AggKind::Pct((p * 1000.0).round() as i64)).call(vec![x]),
                    Ty::Num,
                )
            }
            "earliest" | "latest" => {
                let Some(ts) = self.scope.get("@timestamp").cloned() else {
                    return self.err(
                        format!("{name}() needs @timestamp, which is not available here"),
                        span,
                    );
                };
                let kind = if name == "earliest" {
                    AggKind::Earliest
                } else {
                    AggKind::Latest
                };
                (Agg::udaf(kind).call(vec![x, ts.expr]), Ty::Str)
            }
            _ => {
                let kind = if name == "sortsfirst" {
                    AggKind::SortsFirst
                } else {
                    AggKind::SortsLast
                };
                (Agg::udaf(kind).call(vec![x]), Ty::Str)
            }
        })
    }
}

fn sort_expr(e: DfExpr, ty: Ty, desc: bool) -> SortExpr {
    let key = match ty {
        Ty::Str | Ty::Json => Func::sort_key().call(vec![e]),
        _ => e,
    };
    SortExpr::new(key, !desc, false)
}
