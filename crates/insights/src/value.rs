//! Insights values: their static types, how they compare, sort and render,
//! and how fields are discovered in messages.
//!
//! Choices where AWS's behaviour is not documented (see the spec's open
//! questions):
//! - A string is *numeric-looking* when it is entirely a decimal number
//!   (`-12`, `3.5`, `1e3`; no spaces, no `inf`/`NaN`). Two values compare
//!   numerically when both are numbers or numeric-looking, otherwise as text
//!   (code-point order). Missing values never compare (the row is dropped).
//! - Numbers render without a decimal point when integral (below 1e15),
//!   otherwise in the shortest form that reads back exactly; booleans render
//!   `1`/`0`; timestamps `YYYY-MM-DD HH:MM:SS.mmm` in UTC.
//! - JSON discovery: objects flatten with dots, arrays with indices, the
//!   first 200 leaves in document order count; `null` is absent; a key that
//!   starts with `@` is exposed with one more `@`.

use std::cmp::Ordering;

use arrow_schema::DataType;

/// The static type of an expression in a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ty {
    /// Text (most fields; may look numeric). Utf8.
    Str,
    /// A number. Float64.
    Num,
    /// A timestamp, ms since the epoch. Int64.
    Time,
    /// A boolean. Boolean.
    Bool,
    /// A map or list from `jsonParse`, held as JSON text. Utf8.
    Json,
}

impl Ty {
    /// The Arrow type that holds it.
    pub fn data_type(self) -> DataType {
        match self {
            Ty::Str | Ty::Json => DataType::Utf8,
            Ty::Num => DataType::Float64,
            Ty::Time => DataType::Int64,
            Ty::Bool => DataType::Boolean,
        }
    }
}

/// One value read from a column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val<'a> {
    /// Missing.
    Null,
    /// Text.
    Str(&'a str),
    /// Number.
    Num(f64),
    /// Timestamp (ms).
    Time(i64),
    /// Boolean.
    Bool(bool),
}

/// A computed value.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    /// Missing.
    Null,
    /// Text.
    Str(String),
    /// Number.
    Num(f64),
    /// Timestamp (ms).
    Time(i64),
    /// Boolean.
    Bool(bool),
}

pub use gatewatch_store::fields::num_of;

impl<'a> Val<'a> {
    /// True when missing.
    pub fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }

    /// As a number, when it is one or looks like one.
    pub fn num(&self) -> Option<f64> {
        match *self {
            Val::Null => None,
            Val::Str(s) => num_of(s),
            Val::Num(n) => Some(n),
            Val::Time(t) => Some(t as f64),
            Val::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
        }
    }

    /// As text (rendered like a result value).
    pub fn text(&self) -> Option<std::borrow::Cow<'a, str>> {
        use std::borrow::Cow;
        match *self {
            Val::Null => None,
            Val::Str(s) => Some(Cow::Borrowed(s)),
            Val::Num(n) => Some(Cow::Owned(format_num(n))),
            Val::Time(t) => Some(Cow::Owned(format_time(t))),
            Val::Bool(b) => Some(Cow::Borrowed(if b { "1" } else { "0" })),
        }
    }

    /// Truthiness for boolean contexts: booleans, non-zero numbers.
    pub fn truthy(&self) -> Option<bool> {
        match *self {
            Val::Null => None,
            Val::Bool(b) => Some(b),
            Val::Num(n) => Some(n != 0.0),
            Val::Time(_) => Some(true),
            Val::Str(s) => Some(match num_of(s) {
                Some(n) => n != 0.0,
                None => !s.is_empty() && !s.eq_ignore_ascii_case("false"),
            }),
        }
    }

    /// Insights comparison: numeric when both sides are (or look) numeric,
    /// otherwise text. `None` when either side is missing.
    pub fn compare(&self, other: &Val<'_>) -> Option<Ordering> {
        if self.is_null() || other.is_null() {
            return None;
        }
        if let (Some(a), Some(b)) = (self.num(), other.num()) {
            return a.partial_cmp(&b);
        }
        let (a, b) = (self.text()?, other.text()?);
        Some(a.as_ref().cmp(b.as_ref()))
    }

    /// Owned copy.
    pub fn to_out(&self) -> Out {
        match *self {
            Val::Null => Out::Null,
            Val::Str(s) => Out::Str(s.to_string()),
            Val::Num(n) => Out::Num(n),
            Val::Time(t) => Out::Time(t),
            Val::Bool(b) => Out::Bool(b),
        }
    }
}

/// Renders a number as a result value.
pub fn format_num(n: f64) -> String {
    if n.is_finite() && n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Renders a timestamp (ms) as `YYYY-MM-DD HH:MM:SS.mmm` UTC.
pub fn format_time(ms: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return ms.to_string();
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// A byte string whose byte order is the "natural sort" order of AWS:
/// non-numeric values first (split into runs of digits and non-digits;
/// non-digit runs by code point, digit runs by length then value), then
/// entirely numeric values in numeric order.
pub fn natural_key(v: &Val<'_>, out: &mut Vec<u8>) {
    if let Some(n) = match v {
        Val::Str(s) => num_of(s),
        Val::Num(n) => Some(*n),
        Val::Time(t) => Some(*t as f64),
        Val::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Val::Null => None,
    } {
        out.push(2);
        let bits = n.to_bits();
        let ordered = if n.is_sign_negative() {
            !bits
        } else {
            bits ^ (1 << 63)
        };
        out.extend_from_slice(&ordered.to_be_bytes());
        return;
    }
    let Val::Str(s) = v else {
        return;
    };
    out.push(1);
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            // Digits sit between '/' and ':' among code points.
            out.push(b'0');
            out.extend_from_slice(&((i - start) as u32).to_be_bytes());
            out.extend_from_slice(&bytes[start..i]);
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
}

/// Compares two values in natural sort order.
pub fn natural_cmp(a: &Val<'_>, b: &Val<'_>) -> Ordering {
    let (mut ka, mut kb) = (Vec::new(), Vec::new());
    natural_key(a, &mut ka);
    natural_key(b, &mut kb);
    ka.cmp(&kb)
}

pub use gatewatch_store::fields::{discover_json, for_each_leaf, MAX_JSON_FIELDS};

/// Every discovered JSON field of a message (first 200 leaves), flattened.
pub fn flatten_json(message: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for_each_leaf(message, |path, leaf| {
        if let Some(t) = leaf_text(leaf) {
            out.push((path.join("."), t));
        }
    });
    out
}

fn leaf_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// Fields Insights discovers in Lambda platform lines (`START`, `END`,
/// `REPORT`): `@type`, `@requestId`, `@duration`, `@billedDuration`,
/// `@initDuration` (ms) and `@memorySize`, `@maxMemoryUsed` (bytes).
pub fn discover_lambda(message: &str, name: &str) -> Option<String> {
    let kind = ["START", "END", "REPORT", "INIT_START"]
        .into_iter()
        .find(|k| message.starts_with(k) && message[k.len()..].starts_with(' '))?;
    let after = |label: &str| -> Option<&str> {
        let at = message.find(label)? + label.len();
        let rest = &message[at..];
        let end = rest.find(['\t', '\n', ' ']).unwrap_or(rest.len());
        Some(&rest[..end])
    };
    let mb_to_bytes = |v: &str| num_of(v).map(|n| format_num(n * 1_000_000.0));
    match name {
        "@type" => Some(kind.to_string()),
        "@requestId" => after("RequestId: ").map(str::to_string),
        "@duration" if kind == "REPORT" => after("\tDuration: ").map(str::to_string),
        "@billedDuration" if kind == "REPORT" => after("Billed Duration: ").map(str::to_string),
        "@initDuration" if kind == "REPORT" => after("Init Duration: ").map(str::to_string),
        "@memorySize" if kind == "REPORT" => after("Memory Size: ").and_then(mb_to_bytes),
        "@maxMemoryUsed" if kind == "REPORT" => after("Max Memory Used: ").and_then(mb_to_bytes),
        _ => None,
    }
}

/// True for the names [`discover_lambda`] knows.
pub fn is_lambda_field(name: &str) -> bool {
    matches!(
        name,
        "@type"
            | "@requestId"
            | "@duration"
            | "@billedDuration"
            | "@initDuration"
            | "@memorySize"
            | "@maxMemoryUsed"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_matches_the_documented_example() {
        let sorted = [
            "!:",
            "#",
            "*%04",
            "0#",
            "5A",
            "111A",
            "2345_",
            "@",
            "@_",
            "A",
            "A9876fghj",
            "a12345hfh",
            "0",
        ];
        let mut shuffled = sorted.to_vec();
        shuffled.reverse();
        shuffled.sort_by(|a, b| natural_cmp(&Val::Str(a), &Val::Str(b)));
        assert_eq!(shuffled, sorted);
    }

    #[test]
    fn numbers_sort_numerically_after_text() {
        let mut v = vec!["10", "9", "-1", "abc", "2.5"];
        v.sort_by(|a, b| natural_cmp(&Val::Str(a), &Val::Str(b)));
        assert_eq!(v, ["abc", "-1", "2.5", "9", "10"]);
    }

    #[test]
    fn numeric_looking_strings_compare_as_numbers() {
        assert_eq!(
            Val::Str("200").compare(&Val::Num(400.0)),
            Some(Ordering::Less)
        );
        assert_eq!(
            Val::Str("1000").compare(&Val::Str("999")),
            Some(Ordering::Greater)
        );
        assert_eq!(Val::Str("-").compare(&Val::Num(1.0)), Some(Ordering::Less));
        assert_eq!(Val::Null.compare(&Val::Num(1.0)), None);
        assert_eq!(num_of("inf"), None);
        assert_eq!(num_of("1e3"), Some(1000.0));
        assert_eq!(num_of(" 1"), None);
    }

    #[test]
    fn renders_like_insights() {
        assert_eq!(format_num(42.0), "42");
        assert_eq!(format_num(2.5), "2.5");
        assert_eq!(format_time(1_764_057_601_964), "2025-11-25 08:00:01.964");
    }

    #[test]
    fn discovers_lambda_report_fields() {
        let line = "REPORT RequestId: 8f5\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 70 MB\t\n";
        assert_eq!(discover_lambda(line, "@type").as_deref(), Some("REPORT"));
        assert_eq!(discover_lambda(line, "@requestId").as_deref(), Some("8f5"));
        assert_eq!(discover_lambda(line, "@duration").as_deref(), Some("12.34"));
        assert_eq!(
            discover_lambda(line, "@memorySize").as_deref(),
            Some("128000000")
        );
        assert_eq!(
            discover_lambda(line, "@maxMemoryUsed").as_deref(),
            Some("70000000")
        );
        let end = "END RequestId: 8f5\n";
        assert_eq!(discover_lambda(end, "@type").as_deref(), Some("END"));
        assert_eq!(discover_lambda(end, "@requestId").as_deref(), Some("8f5"));
        assert_eq!(discover_lambda("hello", "@type"), None);
    }
}
