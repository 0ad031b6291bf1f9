//! Scalar functions and operators as DataFusion UDFs.
//!
//! One UDF type, [`Func`], covers every Insights scalar: the planner knows
//! each argument's [`Ty`] and the result's, so functions evaluate row by row
//! over [`Val`]s with Insights semantics (numeric-looking strings,
//! missing-value rules) instead of SQL's. Hot operators — comparisons,
//! substring and regex matches against a literal — have vectorised fast
//! paths.
//!
//! Choices where AWS is silent: a function given a missing value returns
//! missing (except `ispresent`, `isempty`, `isblank`, `coalesce`, `concat`,
//! which treats missing as empty); division or remainder by zero is missing;
//! `substr` clamps its start to the string; `concat` joins rendered values.

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    StructBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray, StringViewArray,
};
use arrow_schema::{DataType, Field, Fields};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::ast::{BinOp, Period, TimeUnit};
use crate::value::{natural_key, num_of, Out, Ty, Val};

/// The regex dialect: Insights writes `(?<name>...)`, which the `regex`
/// crate reads as is; dot matches newlines as in a message search.
pub fn regex_source(re: &str) -> String {
    re.to_string()
}

/// What a [`Func`] computes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `a op b` comparison.
    Cmp(BinOp),
    /// `a op b` arithmetic.
    Arith(BinOp),
    /// `-a`.
    Neg,
    /// Boolean from any value.
    Truthy,
    /// Substring test (`like "x"`).
    Contains,
    /// Regex search (`like /x/`).
    Matches,
    /// `a in [b, c]`.
    In,
    /// Natural-sort key (Binary).
    SortKey,
    /// Render as result text.
    Text,
    /// Floor a timestamp to a period (`bin`, `datefloor`).
    Floor(Period),
    /// Ceil a timestamp to a period (`dateceil`).
    Ceil(Period),
    /// `parse` with a regex (named groups) → struct of the names.
    Parse {
        /// Regex source.
        regex: String,
        /// Group names, in struct order.
        names: Vec<String>,
        /// Every match → list of structs.
        multi: bool,
    },
    /// `parse` with a glob pattern → struct of the names: its literal
    /// parts (the text between its `*`s) are found with substring
    /// searches (see `glob_captures`).
    Glob {
        /// The literal parts.
        parts: Vec<String>,
        /// Capture names, in struct order.
        names: Vec<String>,
    },
    /// `parse ... logfmt` → struct of the names asked for later.
    Logfmt(Vec<String>),
    /// `parse ... csv as a, b` → struct.
    Csv(Vec<String>),
    /// JSON array (or any value) → list of element texts (`unnest`).
    JsonList,
    /// One field of a `parse` struct. (DataFusion's own `get_field` would be
    /// moved under filters by its optimiser, running `parse` on every row.)
    StructField(String),
    /// Message → pattern template (`pattern`).
    PatternOf,
    /// Message → severity label (`pattern`).
    Severity,
    /// A named function (lower-case name).
    Call(String),
}

/// An Insights scalar as a DataFusion UDF.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Func {
    name: String,
    kind: Kind,
    ret: Ret,
    signature: Signature,
}

/// Result type of a [`Func`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Ret {
    Ty(Ty),
    Binary,
    Struct(Vec<String>),
    ListOfStruct(Vec<String>),
    ListOfStr,
}

impl Func {
    fn udf(kind: Kind, ret: Ret) -> ScalarUDF {
        let name = match &kind {
            Kind::Call(n) => format!("iq_{n}"),
            other => format!(
                "iq_{}",
                format!("{other:?}")
                    .to_ascii_lowercase()
                    .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
            ),
        };
        let name: String = name.chars().take(48).collect();
        ScalarUDF::new_from_impl(Func {
            name,
            kind,
            ret,
            signature: Signature::variadic_any(Volatility::Immutable),
        })
    }

    /// A UDF returning `ty`.
    pub fn scalar(kind: Kind, ty: Ty) -> ScalarUDF {
        Func::udf(kind, Ret::Ty(ty))
    }

    /// The natural-sort key UDF.
    pub fn sort_key() -> ScalarUDF {
        Func::udf(Kind::SortKey, Ret::Binary)
    }

    /// A `parse` UDF producing a struct (or a list of them with `multi`).
    pub fn parser(kind: Kind, names: Vec<String>, multi: bool) -> ScalarUDF {
        if multi {
            Func::udf(kind, Ret::ListOfStruct(names))
        } else {
            Func::udf(kind, Ret::Struct(names))
        }
    }

    /// The list UDF used by `unnest`/`expand`.
    pub fn json_list() -> ScalarUDF {
        Func::udf(Kind::JsonList, Ret::ListOfStr)
    }
}

fn struct_fields(names: &[String]) -> Fields {
    names
        .iter()
        .map(|n| Field::new(n, DataType::Utf8, true))
        .collect()
}

impl ScalarUDFImpl for Func {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match &self.ret {
            Ret::Ty(t) => t.data_type(),
            Ret::Binary => DataType::Binary,
            Ret::Struct(names) => DataType::Struct(struct_fields(names)),
            Ret::ListOfStruct(names) => DataType::List(Arc::new(Field::new(
                "item",
                DataType::Struct(struct_fields(names)),
                true,
            ))),
            Ret::ListOfStr => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        if let Kind::StructField(name) = &self.kind {
            let array = args.args[0].to_array(n)?;
            let st = array
                .as_struct_opt()
                .ok_or_else(|| DataFusionError::Internal("struct expected".into()))?;
            return st
                .column_by_name(name)
                .cloned()
                .map(ColumnarValue::Array)
                .ok_or_else(|| DataFusionError::Internal(format!("no field {name}")));
        }
        let cols: Vec<Col> = args.args.iter().map(Col::new).collect::<Result<_>>()?;
        let array = self.eval(&cols, n)?;
        Ok(ColumnarValue::Array(array))
    }
}

/// One argument, readable row by row.
pub(crate) enum Col {
    Str(StringArray),
    /// Text as string views (discovered fields).
    View(StringViewArray),
    Num(Float64Array),
    Time(Int64Array),
    Bool(BooleanArray),
    Null,
    Scalar(Out),
}

impl Col {
    fn new(v: &ColumnarValue) -> Result<Col> {
        match v {
            ColumnarValue::Scalar(s) => Ok(Col::Scalar(scalar_out(s))),
            ColumnarValue::Array(a) => Col::from_array(a),
        }
    }

    pub(crate) fn from_array(a: &ArrayRef) -> Result<Col> {
        Ok(match a.data_type() {
            DataType::Utf8 => Col::Str(a.as_string::<i32>().clone()),
            DataType::Utf8View => Col::View(a.as_string_view().clone()),
            DataType::Float64 => Col::Num(a.as_primitive().clone()),
            DataType::Int64 => Col::Time(a.as_primitive().clone()),
            DataType::Boolean => Col::Bool(a.as_boolean().clone()),
            DataType::Null => Col::Null,
            _ => {
                let cast = arrow::compute::cast(a, &DataType::Utf8)?;
                Col::Str(cast.as_string::<i32>().clone())
            }
        })
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> Val<'_> {
        match self {
            Col::Str(a) => {
                if a.is_null(i) {
                    Val::Null
                } else {
                    Val::Str(a.value(i))
                }
            }
            Col::View(a) => {
                if a.is_null(i) {
                    Val::Null
                } else {
                    Val::Str(a.value(i))
                }
            }
            Col::Num(a) => {
                if a.is_null(i) {
                    Val::Null
                } else {
                    Val::Num(a.value(i))
                }
            }
            Col::Time(a) => {
                if a.is_null(i) {
                    Val::Null
                } else {
                    Val::Time(a.value(i))
                }
            }
            Col::Bool(a) => {
                if a.is_null(i) {
                    Val::Null
                } else {
                    Val::Bool(a.value(i))
                }
            }
            Col::Null => Val::Null,
            Col::Scalar(o) => out_val(o),
        }
    }
}

use datafusion::arrow;

fn out_val(o: &Out) -> Val<'_> {
    match o {
        Out::Null => Val::Null,
        Out::Str(s) => Val::Str(s),
        Out::Num(n) => Val::Num(*n),
        Out::Time(t) => Val::Time(*t),
        Out::Bool(b) => Val::Bool(*b),
    }
}

fn scalar_out(s: &ScalarValue) -> Out {
    match s {
        ScalarValue::Utf8(Some(v))
        | ScalarValue::LargeUtf8(Some(v))
        | ScalarValue::Utf8View(Some(v)) => Out::Str(v.clone()),
        ScalarValue::Float64(Some(v)) => Out::Num(*v),
        ScalarValue::Int64(Some(v)) => Out::Time(*v),
        ScalarValue::Boolean(Some(v)) => Out::Bool(*v),
        ScalarValue::Dictionary(_, inner) => scalar_out(inner),
        _ => Out::Null,
    }
}

/// Appends computed values to a builder of the result type.
enum Builder {
    Str(StringBuilder),
    Num(Float64Builder),
    Time(Int64Builder),
    Bool(BooleanBuilder),
}

impl Builder {
    fn new(ty: Ty, n: usize) -> Builder {
        match ty {
            Ty::Str | Ty::Json => Builder::Str(StringBuilder::with_capacity(n, n * 16)),
            Ty::Num => Builder::Num(Float64Builder::with_capacity(n)),
            Ty::Time => Builder::Time(Int64Builder::with_capacity(n)),
            Ty::Bool => Builder::Bool(BooleanBuilder::with_capacity(n)),
        }
    }

    fn push(&mut self, v: Out) {
        match (self, v) {
            (Builder::Str(b), Out::Null) => b.append_null(),
            (Builder::Num(b), Out::Null) => b.append_null(),
            (Builder::Time(b), Out::Null) => b.append_null(),
            (Builder::Bool(b), Out::Null) => b.append_null(),
            (Builder::Str(b), Out::Str(s)) => b.append_value(s),
            (Builder::Str(b), other) => match out_val(&other).text() {
                Some(t) => b.append_value(t),
                None => b.append_null(),
            },
            (Builder::Num(b), other) => b.append_option(out_val(&other).num()),
            (Builder::Time(b), Out::Time(t)) => b.append_value(t),
            (Builder::Time(b), other) => b.append_option(out_val(&other).num().map(|n| n as i64)),
            (Builder::Bool(b), other) => b.append_option(out_val(&other).truthy()),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Builder::Str(mut b) => Arc::new(b.finish()),
            Builder::Num(mut b) => Arc::new(b.finish()),
            Builder::Time(mut b) => Arc::new(b.finish()),
            Builder::Bool(mut b) => Arc::new(b.finish()),
        }
    }
}

thread_local! {
    static REGEXES: std::cell::RefCell<Vec<(String, Arc<regex::Regex>)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A compiled regex, cached per thread.
pub(crate) fn cached_regex(src: &str) -> Result<Arc<regex::Regex>> {
    REGEXES.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((_, re)) = cache.iter().find(|(s, _)| s == src) {
            return Ok(Arc::clone(re));
        }
        let re = Arc::new(
            regex::Regex::new(&regex_source(src))
                .map_err(|e| DataFusionError::Execution(format!("invalid regex: {e}")))?,
        );
        if cache.len() > 64 {
            cache.clear();
        }
        cache.push((src.to_string(), Arc::clone(&re)));
        Ok(re)
    })
}

/// The captures of a glob `parse` pattern in `text`, pushed onto `caps` as
/// byte ranges of the text:
/// `finders` search for the pattern's literal parts, and each `*` between
/// two parts captures the text up to the first occurrence of the next part;
/// a final `*` takes the rest. These are exactly the captures of the lazy
/// regex a glob stands for, `(?s)L0(.*?)L1(.*?)...`: its leftmost match
/// starts at the first occurrence of `L0`, because a later start could
/// only find the following parts later still, and each lazy group stops at
/// the first place the rest can match, the next part's first occurrence.
/// False when the parts do not occur in order (`caps` may then hold the
/// captures found before the miss; callers discard them).
pub(crate) fn glob_captures(
    finders: &[memchr::memmem::Finder<'_>],
    text: &str,
    caps: &mut Vec<std::ops::Range<usize>>,
) -> bool {
    let Some((first, rest)) = finders.split_first() else {
        return false;
    };
    let Some(start) = first.find(text.as_bytes()) else {
        return false;
    };
    let mut pos = start + first.needle().len();
    for (k, finder) in rest.iter().enumerate() {
        let needle = finder.needle();
        if needle.is_empty() && k + 1 == rest.len() {
            caps.push(pos..text.len());
            return true;
        }
        let Some(at) = text.as_bytes().get(pos..).and_then(|t| finder.find(t)) else {
            return false;
        };
        // Parts are whole UTF-8 strings, so they start and end on
        // character boundaries of the text.
        caps.push(pos..pos + at);
        pos += at + needle.len();
    }
    true
}

impl Func {
    fn eval(&self, cols: &[Col], n: usize) -> Result<ArrayRef> {
        match &self.kind {
            Kind::Cmp(op) => Ok(self.eval_cmp(*op, cols, n)),
            Kind::Contains | Kind::Matches => self.eval_match(cols, n),
            Kind::SortKey => {
                let mut b = BinaryBuilder::with_capacity(n, n * 12);
                let mut key = Vec::with_capacity(32);
                for i in 0..n {
                    let v = cols[0].get(i);
                    if v.is_null() {
                        b.append_null();
                    } else {
                        key.clear();
                        natural_key(&v, &mut key);
                        b.append_value(&key);
                    }
                }
                Ok(Arc::new(b.finish()))
            }
            Kind::Glob { parts, names } => {
                let finders: Vec<memchr::memmem::Finder> = parts
                    .iter()
                    .map(|p| memchr::memmem::Finder::new(p.as_bytes()))
                    .collect();
                let mut sb = StructBuilder::from_fields(struct_fields(names), n);
                let mut caps: Vec<std::ops::Range<usize>> = Vec::with_capacity(parts.len());
                for i in 0..n {
                    let v = cols[0].get(i);
                    let text = v.text();
                    caps.clear();
                    let text = text
                        .as_deref()
                        .filter(|t| glob_captures(&finders, t, &mut caps));
                    for fi in 0..names.len() {
                        let val = text.and_then(|t| t.get(caps.get(fi)?.clone()));
                        sb.field_builder::<StringBuilder>(fi)
                            .expect("utf8 field")
                            .append_option(val);
                    }
                    sb.append(true);
                }
                Ok(Arc::new(sb.finish()))
            }
            Kind::Parse {
                regex,
                names,
                multi,
            } => {
                let re = cached_regex(regex)?;
                let fields = struct_fields(names);
                if *multi {
                    let mut lb = ListBuilder::new(StructBuilder::from_fields(fields.clone(), 4));
                    for i in 0..n {
                        let v = cols[0].get(i);
                        let text = v.text();
                        let mut any = false;
                        if let Some(t) = text.as_deref() {
                            for caps in re.captures_iter(t) {
                                any = true;
                                let sb = lb.values();
                                for (fi, name) in names.iter().enumerate() {
                                    let val = caps.name(name).map(|m| m.as_str());
                                    sb.field_builder::<StringBuilder>(fi)
                                        .expect("utf8 field")
                                        .append_option(val);
                                }
                                sb.append(true);
                            }
                        }
                        if !any {
                            // Non-matching rows flow on without the fields.
                            let sb = lb.values();
                            for fi in 0..names.len() {
                                sb.field_builder::<StringBuilder>(fi)
                                    .expect("utf8 field")
                                    .append_null();
                            }
                            sb.append(true);
                        }
                        lb.append(true);
                    }
                    return Ok(Arc::new(lb.finish()));
                }
                let mut sb = StructBuilder::from_fields(fields, n);
                for i in 0..n {
                    let v = cols[0].get(i);
                    let caps = v.text().and_then(|t| {
                        re.captures(&t).map(|c| {
                            names
                                .iter()
                                .map(|nm| c.name(nm).map(|m| m.as_str().to_string()))
                                .collect::<Vec<_>>()
                        })
                    });
                    for fi in 0..names.len() {
                        let val = caps.as_ref().and_then(|c| c[fi].clone());
                        sb.field_builder::<StringBuilder>(fi)
                            .expect("utf8 field")
                            .append_option(val);
                    }
                    sb.append(true);
                }
                Ok(Arc::new(sb.finish()))
            }
            Kind::Logfmt(names) | Kind::Csv(names) => {
                let is_csv = matches!(self.kind, Kind::Csv(_));
                let mut sb = StructBuilder::from_fields(struct_fields(names), n);
                for i in 0..n {
                    let v = cols[0].get(i);
                    let text = v.text();
                    let vals: Vec<Option<String>> = match text.as_deref() {
                        None => vec![None; names.len()],
                        Some(t) if is_csv => {
                            let mut parts = split_csv(t).into_iter();
                            names.iter().map(|_| parts.next()).collect()
                        }
                        Some(t) => {
                            let pairs = logfmt_pairs(t);
                            names
                                .iter()
                                .map(|nm| {
                                    pairs.iter().find(|(k, _)| k == nm).map(|(_, v)| v.clone())
                                })
                                .collect()
                        }
                    };
                    for (fi, val) in vals.into_iter().enumerate() {
                        sb.field_builder::<StringBuilder>(fi)
                            .expect("utf8 field")
                            .append_option(val);
                    }
                    sb.append(true);
                }
                Ok(Arc::new(sb.finish()))
            }
            Kind::JsonList => {
                let mut lb = ListBuilder::new(StringBuilder::new());
                for i in 0..n {
                    match cols[0].get(i) {
                        Val::Null => lb.append(false),
                        v => {
                            let text = v.text().unwrap_or_default();
                            match serde_json::from_str::<serde_json::Value>(&text) {
                                Ok(serde_json::Value::Array(items)) => {
                                    for it in items {
                                        lb.values().append_option(json_text(&it));
                                    }
                                }
                                Ok(other)
                                    if matches!(v, Val::Str(_))
                                        && text.trim_start().starts_with(['{', '[']) =>
                                {
                                    lb.values().append_option(json_text(&other));
                                }
                                _ => lb.values().append_value(&text),
                            }
                            lb.append(true);
                        }
                    }
                }
                Ok(Arc::new(lb.finish()))
            }
            // Numbers from text (every sum/avg/pct over a discovered field):
            // one pass, no per-row dispatch.
            Kind::Call(name)
                if (name == "tonumber" || name == "todouble")
                    && matches!(cols[0], Col::Str(_) | Col::View(_)) =>
            {
                let out: Float64Array = match &cols[0] {
                    Col::Str(a) => a.iter().map(|v| v.and_then(num_of)).collect(),
                    Col::View(a) => a.iter().map(|v| v.and_then(num_of)).collect(),
                    _ => return Err(DataFusionError::Internal("text expected".into())),
                };
                Ok(Arc::new(out))
            }
            // bin()/datefloor() over timestamps with a fixed period: one
            // vectorised pass (the common `by bin(5m)`).
            Kind::Floor(p)
                if matches!(cols[0], Col::Time(_))
                    && period_ms(*p).is_some()
                    && p.unit != TimeUnit::Week =>
            {
                let Col::Time(a) = &cols[0] else {
                    return Err(DataFusionError::Internal("timestamps expected".into()));
                };
                let ms = period_ms(*p).unwrap_or(1).max(1);
                let out: Int64Array = a.unary(|t| t.div_euclid(ms) * ms);
                Ok(Arc::new(out))
            }
            _ => {
                let Ret::Ty(ty) = &self.ret else {
                    return Err(DataFusionError::Internal("bad return".into()));
                };
                let mut b = Builder::new(*ty, n);
                let mut vals: Vec<Val> = Vec::with_capacity(cols.len());
                for i in 0..n {
                    vals.clear();
                    vals.extend(cols.iter().map(|c| c.get(i)));
                    b.push(self.row(&vals));
                }
                Ok(b.finish())
            }
        }
    }

    fn eval_cmp(&self, op: BinOp, cols: &[Col], n: usize) -> ArrayRef {
        let mut b = BooleanBuilder::with_capacity(n);
        // Fast path: a string column against a constant.
        if let Col::Scalar(s) = &cols[1] {
            let sv = out_val(s);
            let snum = sv.num();
            let stext = sv.text().map(|t| t.into_owned());
            let against = |v: Option<&str>| {
                let (v, text) = (v?, stext.as_deref()?);
                let ord = match (snum, num_of(v)) {
                    (Some(x), Some(y)) => y.partial_cmp(&x),
                    _ => Some(v.cmp(text)),
                };
                ord.map(|o| cmp_holds(op, o))
            };
            match &cols[0] {
                Col::Str(a) => {
                    b.extend(a.iter().map(against));
                    return Arc::new(b.finish());
                }
                Col::View(a) => {
                    b.extend(a.iter().map(against));
                    return Arc::new(b.finish());
                }
                _ => {}
            }
        }
        for i in 0..n {
            let (x, y) = (cols[0].get(i), cols[1].get(i));
            b.append_option(x.compare(&y).map(|o| cmp_holds(op, o)));
        }
        Arc::new(b.finish())
    }

    fn eval_match(&self, cols: &[Col], n: usize) -> Result<ArrayRef> {
        let mut b = BooleanBuilder::with_capacity(n);
        let pattern = match &cols[1] {
            Col::Scalar(Out::Str(p)) => p.clone(),
            _ => return Err(DataFusionError::Internal("pattern must be constant".into())),
        };
        let regex = if matches!(self.kind, Kind::Matches) {
            Some(cached_regex(&pattern)?)
        } else {
            None
        };
        let finder = memchr::memmem::Finder::new(pattern.as_bytes());
        let test = |s: &str| match &regex {
            Some(re) => re.is_match(s),
            None => finder.find(s.as_bytes()).is_some(),
        };
        match &cols[0] {
            Col::Str(a) => b.extend(a.iter().map(|v| v.map(test))),
            Col::View(a) => b.extend(a.iter().map(|v| v.map(test))),
            _ => {
                for i in 0..n {
                    match cols[0].get(i).text() {
                        None => b.append_null(),
                        Some(t) => b.append_value(test(&t)),
                    }
                }
            }
        }
        Ok(Arc::new(b.finish()))
    }

    /// One row of a row-wise function.
    fn row(&self, a: &[Val]) -> Out {
        match &self.kind {
            Kind::Arith(op) => arith(*op, a[0], a[1]),
            Kind::Neg => a[0].num().map_or(Out::Null, |x| Out::Num(-x)),
            Kind::Truthy => a[0].truthy().map_or(Out::Null, Out::Bool),
            Kind::In => {
                if a[0].is_null() {
                    return Out::Null;
                }
                Out::Bool(
                    a[1..]
                        .iter()
                        .any(|c| a[0].compare(c) == Some(std::cmp::Ordering::Equal)),
                )
            }
            Kind::Text => a[0].text().map_or(Out::Null, |t| Out::Str(t.into_owned())),
            Kind::Floor(p) => time_arg(a[0]).map_or(Out::Null, |t| Out::Time(floor_time(t, *p))),
            Kind::Ceil(p) => time_arg(a[0]).map_or(Out::Null, |t| {
                let f = floor_time(t, *p);
                Out::Time(if f == t { t } else { add_period(f, *p) })
            }),
            Kind::PatternOf => a[0]
                .text()
                .map_or(Out::Null, |t| Out::Str(crate::pattern::template(&t))),
            Kind::Severity => a[0]
                .text()
                .map_or(Out::Null, |t| Out::Str(crate::pattern::severity(&t).into())),
            Kind::Call(name) => call(name, a),
            _ => Out::Null,
        }
    }
}

fn cmp_holds(op: BinOp, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        BinOp::Eq => o == Equal,
        BinOp::Ne => o != Equal,
        BinOp::Lt => o == Less,
        BinOp::Le => o != Greater,
        BinOp::Gt => o == Greater,
        BinOp::Ge => o != Less,
        _ => false,
    }
}

fn arith(op: BinOp, a: Val, b: Val) -> Out {
    let (Some(x), Some(y)) = (a.num(), b.num()) else {
        return Out::Null;
    };
    let r = match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div => {
            if y == 0.0 {
                return Out::Null;
            }
            x / y
        }
        BinOp::Rem => {
            if y == 0.0 {
                return Out::Null;
            }
            x % y
        }
        BinOp::Pow => x.powf(y),
        _ => return Out::Null,
    };
    if r.is_finite() {
        Out::Num(r)
    } else {
        Out::Null
    }
}

fn time_arg(v: Val) -> Option<i64> {
    match v {
        Val::Time(t) => Some(t),
        other => other.num().map(|n| n as i64),
    }
}

/// Milliseconds of a fixed-length period (weeks, days and below).
pub fn period_ms(p: Period) -> Option<i64> {
    // Per-unit caps as AWS documents them for datetime functions.
    let c = p.count.max(1);
    Some(match p.unit {
        TimeUnit::Millisecond => c.min(1000),
        TimeUnit::Second => c.min(60) * 1000,
        TimeUnit::Minute => c.min(60) * 60_000,
        TimeUnit::Hour => c.min(24) * 3_600_000,
        TimeUnit::Day => c * 86_400_000,
        TimeUnit::Week => c * 7 * 86_400_000,
        _ => return None,
    })
}

/// Floors a timestamp to a period: epoch-aligned for fixed periods (weeks
/// start on Monday), calendar-aligned for months, quarters and years.
pub fn floor_time(t: i64, p: Period) -> i64 {
    if p.unit == TimeUnit::Week {
        // 1970-01-01 was a Thursday; Mondays are 4 days later.
        let monday = 4 * 86_400_000;
        let w = period_ms(p).unwrap_or(604_800_000);
        return (t - monday).div_euclid(w) * w + monday;
    }
    if let Some(ms) = period_ms(p) {
        return t.div_euclid(ms) * ms;
    }
    let months = match p.unit {
        TimeUnit::Month => p.count.max(1),
        TimeUnit::Quarter => 3 * p.count.max(1),
        _ => 12 * p.count.max(1),
    };
    let Ok(dt) = time::OffsetDateTime::from_unix_timestamp(t.div_euclid(1000)) else {
        return t;
    };
    let index = i64::from(dt.year()) * 12 + i64::from(u8::from(dt.month())) - 1;
    let floored = index.div_euclid(months) * months;
    month_start(floored)
}

fn month_start(index: i64) -> i64 {
    let year = index.div_euclid(12) as i32;
    let month = (index.rem_euclid(12) + 1) as u8;
    let Ok(m) = time::Month::try_from(month) else {
        return 0;
    };
    time::Date::from_calendar_date(year, m, 1)
        .map(|d| d.midnight().assume_utc().unix_timestamp() * 1000)
        .unwrap_or(0)
}

fn add_period(t: i64, p: Period) -> i64 {
    if let Some(ms) = period_ms(p) {
        return t + ms;
    }
    let months = match p.unit {
        TimeUnit::Month => p.count.max(1),
        TimeUnit::Quarter => 3 * p.count.max(1),
        _ => 12 * p.count.max(1),
    };
    let Ok(dt) = time::OffsetDateTime::from_unix_timestamp(t.div_euclid(1000)) else {
        return t;
    };
    let index = i64::from(dt.year()) * 12 + i64::from(u8::from(dt.month())) - 1;
    month_start(index + months)
}

fn json_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn split_csv(t: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn logfmt_pairs(t: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let b: Vec<char> = t.chars().collect();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_whitespace() {
            i += 1;
        }
        let ks = i;
        while i < b.len() && b[i] != '=' && !b[i].is_whitespace() {
            i += 1;
        }
        let key: String = b[ks..i].iter().collect();
        if i < b.len() && b[i] == '=' {
            i += 1;
            let mut val = String::new();
            if i < b.len() && b[i] == '"' {
                i += 1;
                while i < b.len() && b[i] != '"' {
                    if b[i] == '\\' && i + 1 < b.len() {
                        i += 1;
                    }
                    val.push(b[i]);
                    i += 1;
                }
                i += 1;
            } else {
                while i < b.len() && !b[i].is_whitespace() {
                    val.push(b[i]);
                    i += 1;
                }
            }
            if !key.is_empty() {
                out.push((key, val));
            }
        } else if !key.is_empty() {
            out.push((key, String::new()));
        }
    }
    out
}

/// Arity and result type of named functions: `(min args, max args)`.
pub fn signature_of(name: &str) -> Option<(usize, usize)> {
    Some(match name {
        "isempty" | "isblank" | "strlen" | "toupper" | "tolower" | "urlencode" | "urldecode"
        | "base64encode" | "base64decode" | "hextoascii" | "hextodec" | "dectohex" | "md5"
        | "sha256" | "abs" | "ceil" | "floor" | "log" | "sqrt" | "tonumber" | "toint"
        | "tolong" | "todouble" | "frommillis" | "tomillis" | "isnumeric" | "messagesize"
        | "isvalidip" | "isvalidipv4" | "isvalidipv6" | "ipv4tonumber" | "isprivateip"
        | "ispublicip" | "isreservedip" | "jsonparse" | "jsonstringify" | "jsonarraysize"
        | "unmask" => (1, 1),
        "ltrim" | "rtrim" | "trim" | "round" => (1, 2),
        "parsedate" | "formatdate" | "strftime" => (2, 3),
        "substr" => (2, 3),
        "replace" | "regexreplace" => (3, 3),
        "strcontains" => (2, 3),
        "startswith" | "endswith" | "split" | "isipinsubnet" | "isipv4insubnet"
        | "isipv6insubnet" | "jsonarraycontains" => (2, 2),
        "concat" | "greatest" | "least" | "coalesce" => (1, 64),
        "if" => (3, 3),
        "haversine" => (4, 4),
        "case" => (2, 21),
        _ => return None,
    })
}

/// Result type of a named function given its argument types.
pub fn result_of(name: &str, args: &[Ty]) -> Ty {
    match name {
        "isempty" | "isblank" | "strcontains" | "startswith" | "endswith" | "isnumeric"
        | "isvalidip" | "isvalidipv4" | "isvalidipv6" | "isipinsubnet" | "isipv4insubnet"
        | "isipv6insubnet" | "isprivateip" | "ispublicip" | "isreservedip"
        | "jsonarraycontains" => Ty::Bool,
        "strlen" | "hextodec" | "abs" | "ceil" | "floor" | "log" | "sqrt" | "round"
        | "tonumber" | "toint" | "tolong" | "todouble" | "tomillis" | "messagesize"
        | "parsedate" | "ipv4tonumber" | "jsonarraysize" | "greatest" | "least" => Ty::Num,
        "frommillis" => Ty::Time,
        "jsonparse" | "split" => Ty::Json,
        "coalesce" | "if" | "case" | "unmask" | "jsonstringify" => {
            let candidates: Vec<Ty> = match name {
                "if" => args.iter().skip(1).copied().collect(),
                "case" => args
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % 2 == 1 || (args.len() % 2 == 1 && *i == args.len() - 1))
                    .map(|(_, t)| *t)
                    .collect(),
                "jsonstringify" => return Ty::Str,
                _ => args.to_vec(),
            };
            match candidates.first() {
                Some(first) if candidates.iter().all(|t| t == first) => *first,
                _ => Ty::Str,
            }
        }
        _ => Ty::Str,
    }
}

fn bool_out(b: bool) -> Out {
    Out::Bool(b)
}

fn str_fn(a: &[Val], f: impl Fn(&str) -> String) -> Out {
    a[0].text().map_or(Out::Null, |t| Out::Str(f(&t)))
}

fn num_fn(a: &[Val], f: impl Fn(f64) -> f64) -> Out {
    a[0].num()
        .map(f)
        .filter(|r| r.is_finite())
        .map_or(Out::Null, Out::Num)
}

fn trim_set(s: &str, set: Option<&str>, left: bool, right: bool) -> String {
    let keep = |c: char| match set {
        Some(chars) => chars.contains(c),
        None => c.is_whitespace(),
    };
    let mut out = s;
    if left {
        out = out.trim_start_matches(keep);
    }
    if right {
        out = out.trim_end_matches(keep);
    }
    out.to_string()
}

fn parse_ip(s: &str) -> Option<std::net::IpAddr> {
    s.parse().ok()
}

fn in_subnet(ip: &str, cidr: &str, v4: Option<bool>) -> bool {
    let Some(addr) = parse_ip(ip) else {
        return false;
    };
    if let Some(want_v4) = v4 {
        if addr.is_ipv4() != want_v4 {
            return false;
        }
    }
    let Some((net, bits)) = cidr.split_once('/') else {
        return false;
    };
    let (Some(net), Ok(bits)) = (parse_ip(net), bits.parse::<u32>()) else {
        return false;
    };
    match (addr, net) {
        (std::net::IpAddr::V4(a), std::net::IpAddr::V4(n)) if bits <= 32 => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            (u32::from(a) & mask) == (u32::from(n) & mask)
        }
        (std::net::IpAddr::V6(a), std::net::IpAddr::V6(n)) if bits <= 128 => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            (u128::from(a) & mask) == (u128::from(n) & mask)
        }
        _ => false,
    }
}

fn is_private(addr: std::net::IpAddr) -> bool {
    match addr {
        std::net::IpAddr::V4(a) => a.is_private(),
        std::net::IpAddr::V6(a) => (a.segments()[0] & 0xfe00) == 0xfc00,
    }
}

fn is_reserved(addr: std::net::IpAddr) -> bool {
    match addr {
        std::net::IpAddr::V4(a) => {
            a.is_loopback()
                || a.is_link_local()
                || a.is_broadcast()
                || a.is_documentation()
                || a.is_unspecified()
                || a.is_multicast()
                || a.octets()[0] >= 240
                || (a.octets()[0] == 100 && (a.octets()[1] & 0xc0) == 64)
        }
        std::net::IpAddr::V6(a) => {
            a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (a.segments()[0] & 0xffc0) == 0xfe80
                || a.segments()[0] == 0x2001 && a.segments()[1] == 0x0db8
        }
    }
}

fn hex_digest(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Evaluates a named function on one row.
fn call(name: &str, a: &[Val]) -> Out {
    use base64::Engine as _;
    let text = |i: usize| a.get(i).and_then(|v| v.text());
    match name {
        "isempty" => bool_out(text(0).is_none_or(|t| t.is_empty())),
        "isblank" => bool_out(text(0).is_none_or(|t| t.trim().is_empty())),
        "concat" => Out::Str(
            a.iter()
                .filter_map(|v| v.text())
                .collect::<Vec<_>>()
                .concat(),
        ),
        "ltrim" => str_fn(a, |s| trim_set(s, text(1).as_deref(), true, false)),
        "rtrim" => str_fn(a, |s| trim_set(s, text(1).as_deref(), false, true)),
        "trim" => str_fn(a, |s| trim_set(s, text(1).as_deref(), true, true)),
        "strlen" => text(0).map_or(Out::Null, |t| Out::Num(t.chars().count() as f64)),
        "toupper" => str_fn(a, str::to_uppercase),
        "tolower" => str_fn(a, str::to_lowercase),
        "substr" => {
            let Some(t) = text(0) else { return Out::Null };
            let Some(start) = a[1].num() else {
                return Out::Null;
            };
            let start = start.max(0.0) as usize;
            let len = a.get(2).and_then(|v| v.num()).map(|l| l.max(0.0) as usize);
            let chars = t.chars().skip(start);
            Out::Str(match len {
                Some(l) => chars.take(l).collect(),
                None => chars.collect(),
            })
        }
        "replace" => match (text(0), text(1), text(2)) {
            (Some(s), Some(from), Some(to)) if !from.is_empty() => Out::Str(s.replace(&*from, &to)),
            (Some(s), Some(_), Some(_)) => Out::Str(s.into_owned()),
            _ => Out::Null,
        },
        "regexreplace" => match (text(0), text(1), text(2)) {
            (Some(s), Some(re), Some(to)) => match cached_regex(&re) {
                Ok(re) => Out::Str(re.replace_all(&s, &*to).into_owned()),
                Err(_) => Out::Null,
            },
            _ => Out::Null,
        },
        "strcontains" => {
            let (Some(s), Some(sub)) = (text(0), text(1)) else {
                return bool_out(false);
            };
            let ci = a.get(2).and_then(|v| v.truthy()).unwrap_or(false);
            bool_out(if ci {
                s.to_lowercase().contains(&sub.to_lowercase())
            } else {
                s.contains(&*sub)
            })
        }
        "startswith" => match (text(0), text(1)) {
            (Some(s), Some(p)) => bool_out(s.starts_with(&*p)),
            _ => bool_out(false),
        },
        "endswith" => match (text(0), text(1)) {
            (Some(s), Some(p)) => bool_out(s.ends_with(&*p)),
            _ => bool_out(false),
        },
        "split" => match (text(0), text(1)) {
            (Some(s), Some(d)) if !d.is_empty() => Out::Str(
                serde_json::Value::Array(
                    s.split(&*d)
                        .map(|p| serde_json::Value::String(p.to_string()))
                        .collect(),
                )
                .to_string(),
            ),
            _ => Out::Null,
        },
        "urlencode" => str_fn(a, |s| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        }),
        "urldecode" => str_fn(a, |s| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        }),
        "base64encode" => str_fn(a, |s| base64::engine::general_purpose::STANDARD.encode(s)),
        "base64decode" => text(0)
            .and_then(|t| {
                base64::engine::general_purpose::STANDARD
                    .decode(t.trim())
                    .ok()
            })
            .map_or(Out::Null, |b| {
                Out::Str(String::from_utf8_lossy(&b).into_owned())
            }),
        "hextoascii" => text(0)
            .and_then(|t| hex_bytes(t.trim_start_matches("0x")))
            .map_or(Out::Null, |b| {
                Out::Str(String::from_utf8_lossy(&b).into_owned())
            }),
        "hextodec" => text(0)
            .and_then(|t| i64::from_str_radix(t.trim().trim_start_matches("0x"), 16).ok())
            .map_or(Out::Null, |n| Out::Num(n as f64)),
        "dectohex" => a[0].num().map_or(Out::Null, |n| {
            let i = n.trunc() as i64;
            Out::Str(if i < 0 {
                format!("-0x{:x}", i.unsigned_abs())
            } else {
                format!("0x{i:x}")
            })
        }),
        "md5" => str_fn(a, |s| hex_digest(&md5_digest(s.as_bytes()))),
        "sha256" => str_fn(a, |s| {
            hex_digest(ring::digest::digest(&ring::digest::SHA256, s.as_bytes()).as_ref())
        }),
        "abs" => num_fn(a, f64::abs),
        "ceil" => num_fn(a, f64::ceil),
        "floor" => num_fn(a, f64::floor),
        "log" => num_fn(a, f64::ln),
        "sqrt" => num_fn(a, f64::sqrt),
        "round" => {
            let d = a.get(1).and_then(|v| v.num()).unwrap_or(0.0) as i32;
            let f = 10f64.powi(d);
            num_fn(a, |x| (x * f).round() / f)
        }
        "tonumber" | "todouble" => num_fn(a, |x| x),
        "toint" => num_fn(a, |x| (x.trunc() as i32) as f64),
        "tolong" => num_fn(a, |x| (x.trunc() as i64) as f64),
        "greatest" => a
            .iter()
            .filter_map(|v| v.num())
            .reduce(f64::max)
            .map_or(Out::Null, Out::Num),
        "least" => a
            .iter()
            .filter_map(|v| v.num())
            .reduce(f64::min)
            .map_or(Out::Null, Out::Num),
        "frommillis" => a[0].num().map_or(Out::Null, |n| Out::Time(n as i64)),
        "haversine" => match (a[0].num(), a[1].num(), a[2].num(), a[3].num()) {
            (Some(lat1), Some(lon1), Some(lat2), Some(lon2)) => {
                // Great-circle distance in km on a 6371 km sphere.
                let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
                let dp = (lat2 - lat1).to_radians();
                let dl = (lon2 - lon1).to_radians();
                let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
                Out::Num(2.0 * 6371.0 * h.sqrt().asin())
            }
            _ => Out::Null,
        },
        "parsedate" => match (text(0), text(1)) {
            (Some(s), Some(p)) => crate::datetime::parse(s.trim(), &p, text(2).as_deref())
                .map_or(Out::Null, |ms| Out::Num(ms as f64)),
            _ => Out::Null,
        },
        "formatdate" | "strftime" => match (time_arg(a[0]), text(1)) {
            (Some(ms), Some(p)) => {
                crate::datetime::format(ms, &p, text(2).as_deref()).map_or(Out::Null, Out::Str)
            }
            _ => Out::Null,
        },
        "tomillis" => time_arg(a[0]).map_or(Out::Null, |t| Out::Num(t as f64)),
        "coalesce" => a
            .iter()
            .find(|v| !v.is_null())
            .map_or(Out::Null, |v| v.to_out()),
        "if" => {
            if a[0].truthy().unwrap_or(false) {
                a[1].to_out()
            } else {
                a[2].to_out()
            }
        }
        "case" => {
            let mut i = 0;
            while i + 1 < a.len() {
                if a[i].truthy().unwrap_or(false) {
                    return a[i + 1].to_out();
                }
                i += 2;
            }
            if a.len() % 2 == 1 {
                a[a.len() - 1].to_out()
            } else {
                Out::Null
            }
        }
        "isnumeric" => bool_out(a[0].num().is_some()),
        "messagesize" => text(0).map_or(Out::Null, |t| Out::Num(t.len() as f64)),
        "isvalidip" => bool_out(text(0).and_then(|t| parse_ip(&t)).is_some()),
        "isvalidipv4" => bool_out(
            text(0)
                .and_then(|t| parse_ip(&t))
                .is_some_and(|i| i.is_ipv4()),
        ),
        "isvalidipv6" => bool_out(
            text(0)
                .and_then(|t| parse_ip(&t))
                .is_some_and(|i| i.is_ipv6()),
        ),
        "isipinsubnet" | "isipv4insubnet" | "isipv6insubnet" => {
            let v4 = match name {
                "isipv4insubnet" => Some(true),
                "isipv6insubnet" => Some(false),
                _ => None,
            };
            match (text(0), text(1)) {
                (Some(ip), Some(c)) => bool_out(in_subnet(&ip, &c, v4)),
                _ => bool_out(false),
            }
        }
        "ipv4tonumber" => match text(0).and_then(|t| t.parse::<std::net::Ipv4Addr>().ok()) {
            Some(ip) => Out::Num(f64::from(u32::from(ip))),
            None => Out::Null,
        },
        "isprivateip" => bool_out(text(0).and_then(|t| parse_ip(&t)).is_some_and(is_private)),
        "isreservedip" => bool_out(text(0).and_then(|t| parse_ip(&t)).is_some_and(is_reserved)),
        "ispublicip" => bool_out(
            text(0)
                .and_then(|t| parse_ip(&t))
                .is_some_and(|ip| !is_private(ip) && !is_reserved(ip)),
        ),
        "jsonparse" => match text(0) {
            Some(t) => match serde_json::from_str::<serde_json::Value>(&t) {
                Ok(v @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) => {
                    Out::Str(v.to_string())
                }
                _ => Out::Null,
            },
            None => Out::Null,
        },
        "jsonstringify" | "unmask" => a[0].to_out(),
        "jsonget" => {
            let (Some(doc), Some(key)) = (text(0), text(1)) else {
                return Out::Null;
            };
            match serde_json::from_str::<serde_json::Value>(&doc) {
                Ok(serde_json::Value::Object(map)) => map
                    .get(&*key)
                    .and_then(json_text)
                    .map_or(Out::Null, Out::Str),
                Ok(serde_json::Value::Array(items)) => key
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i))
                    .and_then(json_text)
                    .map_or(Out::Null, Out::Str),
                _ => Out::Null,
            }
        }
        "jsonarraysize" => {
            match text(0).and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok()) {
                Some(serde_json::Value::Array(v)) => Out::Num(v.len() as f64),
                _ => Out::Null,
            }
        }
        "jsonarraycontains" => {
            let found = text(0)
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| match v {
                    serde_json::Value::Array(items) => Some(items),
                    _ => None,
                })
                .is_some_and(|items| {
                    let want = a[1];
                    items.iter().any(|it| match (it, want) {
                        (serde_json::Value::String(s), w) => {
                            w.text().as_deref() == Some(s.as_str())
                        }
                        (serde_json::Value::Number(n), w) => {
                            n.as_f64().is_some() && n.as_f64() == w.num()
                        }
                        (serde_json::Value::Bool(b), w) => {
                            w.text().as_deref() == Some(if *b { "true" } else { "false" })
                        }
                        _ => false,
                    })
                });
            bool_out(found)
        }
        _ => Out::Null,
    }
}

fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// MD5 (RFC 1321), for the `md5()` function.
fn md5_digest(input: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let k: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32)
        .collect();
    let (mut a0, mut b0, mut c0, mut d0) =
        (0x67452301u32, 0xefcdab89u32, 0x98badcfeu32, 0x10325476u32);
    let mut msg = input.to_vec();
    let bit_len = (input.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_le_bytes());
    for chunk in msg.chunks(64) {
        let m: Vec<u32> = chunk
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        a0 = a0.wrapping_add(a);
        b0 = b0.wrapping_add(b);
        c0 = c0.wrapping_add(c);
        d0 = d0.wrapping_add(d);
    }
    let mut out = [0u8; 16];
    out[..4].copy_from_slice(&a0.to_le_bytes());
    out[4..8].copy_from_slice(&b0.to_le_bytes());
    out[8..12].copy_from_slice(&c0.to_le_bytes());
    out[12..].copy_from_slice(&d0.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(name: &str, args: &[Val]) -> Out {
        call(name, args)
    }

    #[test]
    fn string_functions() {
        assert_eq!(
            run(
                "substr",
                &[Val::Str("xyZfooxyZ"), Val::Num(3.0), Val::Num(3.0)]
            ),
            Out::Str("foo".into())
        );
        assert_eq!(
            run("ltrim", &[Val::Str("abbaXa"), Val::Str("ab")]),
            Out::Str("Xa".into())
        );
        assert_eq!(
            run("dectohex", &[Val::Num(-255.9)]),
            Out::Str("-0xff".into())
        );
        assert_eq!(
            run("md5", &[Val::Str("abc")]),
            Out::Str("900150983cd24fb0d6963f7d28e17f72".into())
        );
        assert_eq!(
            run("sha256", &[Val::Str("abc")]),
            Out::Str("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into())
        );
        assert_eq!(
            run("concat", &[Val::Str("GET"), Val::Str(" "), Val::Str("/a")]),
            Out::Str("GET /a".into())
        );
    }

    #[test]
    fn haversine_distance() {
        // Paris to London, about 344 km.
        let Out::Num(d) = run(
            "haversine",
            &[
                Val::Num(48.8566),
                Val::Num(2.3522),
                Val::Num(51.5074),
                Val::Num(-0.1278),
            ],
        ) else {
            panic!()
        };
        assert!((d - 343.5).abs() < 1.0, "{d}");
    }

    #[test]
    fn ip_functions() {
        assert_eq!(
            run(
                "isipv4insubnet",
                &[Val::Str("10.1.2.3"), Val::Str("10.0.0.0/8")]
            ),
            Out::Bool(true)
        );
        assert_eq!(
            run(
                "isipinsubnet",
                &[Val::Str("2001:db8::1"), Val::Str("2001:db8::/32")]
            ),
            Out::Bool(true)
        );
        assert_eq!(run("isvalidip", &[Val::Str("300.1.1.1")]), Out::Bool(false));
        assert_eq!(
            run("isprivateip", &[Val::Str("192.168.1.1")]),
            Out::Bool(true)
        );
        assert_eq!(run("ispublicip", &[Val::Str("8.8.8.8")]), Out::Bool(true));
    }

    #[test]
    fn periods_floor_and_ceil() {
        let p = |count, unit| Period { count, unit };
        let t = 1_764_057_901_964; // 2025-11-25 08:05:01.964
        assert_eq!(floor_time(t, p(5, TimeUnit::Minute)) % 300_000, 0);
        assert_eq!(
            crate::value::format_time(floor_time(t, p(1, TimeUnit::Month))),
            "2025-11-01 00:00:00.000"
        );
        assert_eq!(
            crate::value::format_time(floor_time(t, p(1, TimeUnit::Week))),
            "2025-11-24 00:00:00.000"
        );
        // 300s is capped to 60s, as AWS documents.
        assert_eq!(floor_time(t, p(300, TimeUnit::Second)) % 60_000, 0);
        assert_eq!(
            crate::value::format_time(add_period(
                floor_time(t, p(1, TimeUnit::Quarter)),
                p(1, TimeUnit::Quarter)
            )),
            "2026-01-01 00:00:00.000"
        );
    }

    /// The regex a glob `parse` pattern stands for, given its literal
    /// parts: each `*` a lazy group `g0`, `g1`, ..., except that a final
    /// `*` takes the rest.
    fn glob_regex(parts: &[&str]) -> String {
        let mut re = String::from("(?s)");
        for (i, part) in parts.iter().enumerate() {
            re.push_str(&regex::escape(part));
            if i + 1 < parts.len() {
                let greedy = i + 2 == parts.len() && parts[i + 1].is_empty();
                re.push_str(&format!("(?<g{i}>{})", if greedy { ".*" } else { ".*?" }));
            }
        }
        re
    }

    #[test]
    fn glob_captures_equal_the_globs_regex() {
        // Random texts and globs over a small alphabet (so parts occur,
        // overlap and repeat): the substring search must capture exactly
        // what the lazy regex captures, and fail where it fails.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        let alphabet = ['a', 'b', '"', ':', '\n', 'é'];
        let word = |max: u64, next: &mut dyn FnMut(u64) -> u64| -> String {
            (0..next(max + 1))
                .map(|_| alphabet[next(alphabet.len() as u64) as usize])
                .collect()
        };
        for _ in 0..20_000 {
            let stars = 1 + next(3) as usize;
            let parts: Vec<String> = (0..=stars).map(|_| word(2, &mut next)).collect();
            let text = word(14, &mut next);
            let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
            let re = regex::Regex::new(&glob_regex(&refs)).unwrap();
            let want: Option<Vec<&str>> = re.captures(&text).map(|c| {
                (0..stars)
                    .map(|i| c.name(&format!("g{i}")).unwrap().as_str())
                    .collect()
            });
            let finders: Vec<memchr::memmem::Finder> = parts
                .iter()
                .map(|p| memchr::memmem::Finder::new(p.as_bytes()))
                .collect();
            let mut caps = Vec::new();
            let got = glob_captures(&finders, &text, &mut caps)
                .then(|| caps.iter().map(|r| &text[r.clone()]).collect::<Vec<_>>());
            assert_eq!(got, want, "glob {:?} over {text:?}", parts.join("*"));
        }
    }
}
