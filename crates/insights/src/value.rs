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

/// Parses a numeric-looking string.
pub fn num_of(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let first = *b.first()?;
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
        return None;
    }
    let last = *b.last()?;
    if !(last.is_ascii_digit() || last == b'.') {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

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

/// JSON leaves taken per event.
pub const MAX_JSON_FIELDS: usize = 200;

/// Finds the values of `wanted` field names in a JSON object message.
/// Returns one entry per wanted name.
///
/// A single pass over the text, allocating only for the values it returns:
/// keys are compared in place, an object is only walked while a wanted name
/// could still lie below it (leaves are still counted everywhere, for the
/// 200-field limit), and reading stops once every wanted field is found — so
/// a message whose JSON breaks after those fields still yields them.
pub fn discover_json<'a>(
    message: &'a str,
    wanted: &[Vec<String>],
    out: &mut [Option<std::borrow::Cow<'a, str>>],
) {
    for o in out.iter_mut() {
        *o = None;
    }
    let bytes = message.as_bytes();
    let mut i = skip_ws(bytes, 0);
    if bytes.get(i) != Some(&b'{') {
        return;
    }
    let mut scanner = Scanner {
        text: message,
        bytes,
        wanted,
        out,
        leaves: 0,
        path: Vec::new(),
        found: 0,
        dotted: wanted.iter().flatten().any(|seg| seg.contains('.')),
        path_dots: 0,
    };
    if scanner.value(&mut i) == Err(Stop::Invalid) {
        // Not valid JSON after all: no fields.
        for o in scanner.out.iter_mut() {
            *o = None;
        }
    }
}

/// Why the scanner stopped early.
#[derive(Debug, PartialEq, Eq)]
enum Stop {
    /// Every wanted field has its value: nothing left to read.
    Done,
    /// The text is not valid JSON.
    Invalid,
}

struct Scanner<'a, 'w> {
    text: &'a str,
    bytes: &'a [u8],
    wanted: &'w [Vec<String>],
    out: &'w mut [Option<std::borrow::Cow<'a, str>>],
    leaves: usize,
    /// Current key path (`@`-prefixed keys already doubled; borrowed from
    /// the message unless unescaped or doubled).
    path: Vec<std::borrow::Cow<'a, str>>,
    found: usize,
    /// Some wanted segment has a dot in it (keys with dots need the slow
    /// joined-name comparisons).
    dotted: bool,
    /// Segments of the current path that have a dot in them.
    path_dots: usize,
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

impl<'a> Scanner<'a, '_> {
    /// Index of the end of the string starting at `i` (on the quote), and
    /// whether it has escapes.
    fn string_end(&self, i: usize) -> Result<(usize, bool), Stop> {
        let b = self.bytes;
        let mut j = i + 1;
        let mut escaped = false;
        loop {
            match memchr::memchr2(b'"', b'\\', b.get(j..).ok_or(Stop::Invalid)?) {
                None => return Err(Stop::Invalid),
                Some(k) => {
                    j += k;
                    if b[j] == b'\\' {
                        escaped = true;
                        j += 2;
                    } else {
                        return Ok((j + 1, escaped));
                    }
                }
            }
        }
    }

    fn string_value(
        &self,
        start: usize,
        end: usize,
        escaped: bool,
    ) -> Option<std::borrow::Cow<'a, str>> {
        if escaped {
            serde_json::from_str::<String>(&self.text[start..end])
                .ok()
                .map(std::borrow::Cow::Owned)
        } else {
            Some(std::borrow::Cow::Borrowed(&self.text[start + 1..end - 1]))
        }
    }

    /// Which wanted names equal the current path, and whether any lies below it.
    fn interest(&self) -> (bool, bool) {
        let mut exact = false;
        let mut below = false;
        let slow = self.dotted || self.path_dots > 0;
        for (k, w) in self.wanted.iter().enumerate() {
            if self.out[k].is_some() {
                continue;
            }
            if w.len() >= self.path.len() && w.iter().zip(&self.path).all(|(a, b)| a == b) {
                if w.len() == self.path.len() {
                    exact = true;
                } else {
                    below = true;
                }
            } else if slow {
                // Keys with dots: compare the joined forms.
                let joined = self.path.join(".");
                let wj = w.join(".");
                if wj == joined {
                    exact = true;
                } else if wj.len() > joined.len()
                    && wj.starts_with(&joined)
                    && wj.as_bytes()[joined.len()] == b'.'
                {
                    below = true;
                }
            }
        }
        (exact, below)
    }

    fn record(&mut self, value: Option<std::borrow::Cow<'a, str>>) -> Result<(), Stop> {
        for k in 0..self.wanted.len() {
            if self.out[k].is_none() && matches_path(&self.wanted[k], &self.path) {
                self.out[k] = value.clone();
                if value.is_some() {
                    self.found += 1;
                }
            }
        }
        if self.found == self.wanted.len() {
            return Err(Stop::Done);
        }
        Ok(())
    }

    /// Skips a value without looking inside, counting its leaves.
    fn skip(&mut self, i: &mut usize) -> Result<(), Stop> {
        let b = self.bytes;
        *i = skip_ws(b, *i);
        match b.get(*i) {
            Some(b'"') => {
                let (end, _) = self.string_end(*i)?;
                *i = end;
                self.leaves += 1;
            }
            Some(b'{') | Some(b'[') => {
                let mut depth = 0usize;
                let mut expect_leaf = true;
                while *i < b.len() {
                    match b[*i] {
                        b'"' => {
                            let (end, _) = self.string_end(*i)?;
                            // A string after ':' or in an array is a leaf.
                            let after = skip_ws(b, end);
                            if b.get(after) != Some(&b':') {
                                self.leaves += 1;
                            }
                            *i = end;
                            expect_leaf = false;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                *i += 1;
                                return Ok(());
                            }
                        }
                        b',' | b':' => expect_leaf = true,
                        c if expect_leaf && !c.is_ascii_whitespace() => {
                            // number, true, false (null is not a field)
                            if c != b'n' {
                                self.leaves += 1;
                            }
                            expect_leaf = false;
                        }
                        _ => {}
                    }
                    *i += 1;
                }
                return Err(Stop::Invalid);
            }
            Some(_) => {
                let start = *i;
                while *i < b.len()
                    && !matches!(b[*i], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                {
                    *i += 1;
                }
                if &b[start..*i] != b"null" {
                    self.leaves += 1;
                }
            }
            None => return Err(Stop::Invalid),
        }
        Ok(())
    }

    /// Reads the member or element `segment` (skipping it past the limit).
    fn child(&mut self, segment: std::borrow::Cow<'a, str>, i: &mut usize) -> Result<(), Stop> {
        let dotted = segment.contains('.');
        self.path_dots += usize::from(dotted);
        self.path.push(segment);
        let r = if self.leaves >= MAX_JSON_FIELDS {
            self.skip(i)
        } else {
            self.value(i)
        };
        self.path.pop();
        self.path_dots -= usize::from(dotted);
        r
    }

    fn value(&mut self, i: &mut usize) -> Result<(), Stop> {
        let b = self.bytes;
        *i = skip_ws(b, *i);
        let (exact, below) = if self.path.is_empty() {
            (false, true)
        } else {
            self.interest()
        };
        if !exact && !below {
            return self.skip(i);
        }
        match b.get(*i) {
            Some(b'"') => {
                let (end, escaped) = self.string_end(*i)?;
                self.leaves += 1;
                if exact && self.leaves <= MAX_JSON_FIELDS {
                    let v = self.string_value(*i, end, escaped);
                    *i = end;
                    return self.record(v);
                }
                *i = end;
            }
            Some(b'{') => {
                let start = *i;
                *i += 1;
                let mut first = true;
                loop {
                    *i = skip_ws(b, *i);
                    if b.get(*i) == Some(&b'}') {
                        *i += 1;
                        break;
                    }
                    if !first {
                        if b.get(*i) != Some(&b',') {
                            return Err(Stop::Invalid);
                        }
                        *i = skip_ws(b, *i + 1);
                    }
                    first = false;
                    if b.get(*i) != Some(&b'"') {
                        return Err(Stop::Invalid);
                    }
                    let (kend, kesc) = self.string_end(*i)?;
                    let key = self.string_value(*i, kend, kesc).ok_or(Stop::Invalid)?;
                    *i = skip_ws(b, kend);
                    if b.get(*i) != Some(&b':') {
                        return Err(Stop::Invalid);
                    }
                    *i += 1;
                    let segment = if key.starts_with('@') {
                        std::borrow::Cow::Owned(format!("@{key}"))
                    } else {
                        key
                    };
                    self.child(segment, i)?;
                }
                if exact {
                    let raw = &self.text[start..*i];
                    self.record(Some(std::borrow::Cow::Borrowed(raw)))?;
                }
            }
            Some(b'[') => {
                let start = *i;
                *i += 1;
                let mut index = 0usize;
                loop {
                    *i = skip_ws(b, *i);
                    if b.get(*i) == Some(&b']') {
                        *i += 1;
                        break;
                    }
                    if index > 0 {
                        if b.get(*i) != Some(&b',') {
                            return Err(Stop::Invalid);
                        }
                        *i += 1;
                    }
                    self.child(std::borrow::Cow::Owned(index.to_string()), i)?;
                    index += 1;
                }
                if exact {
                    let raw = &self.text[start..*i];
                    self.record(Some(std::borrow::Cow::Borrowed(raw)))?;
                }
            }
            Some(_) => {
                let start = *i;
                while *i < b.len()
                    && !matches!(b[*i], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                {
                    *i += 1;
                }
                let raw = &self.text[start..*i];
                if raw == "null" {
                    return Ok(());
                }
                if raw != "true" && raw != "false" && num_of(raw).is_none() {
                    return Err(Stop::Invalid);
                }
                self.leaves += 1;
                if exact && self.leaves <= MAX_JSON_FIELDS {
                    self.record(Some(std::borrow::Cow::Borrowed(raw)))?;
                }
            }
            None => return Err(Stop::Invalid),
        }
        Ok(())
    }
}

/// Every discovered JSON field of a message (first 200 leaves), flattened.
pub fn flatten_json(message: &str) -> Vec<(String, String)> {
    let trimmed = message.trim_start();
    if !trimmed.starts_with('{') {
        return Vec::new();
    }
    let Ok(value) = serde_json::from_str::<serde_json::Value>(trimmed) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut path = Vec::new();
    flatten(&value, &mut path, &mut out);
    out
}

fn flatten(v: &serde_json::Value, path: &mut Vec<String>, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, child) in map {
                path.push(if k.starts_with('@') {
                    format!("@{k}")
                } else {
                    k.clone()
                });
                flatten(child, path, out);
                path.pop();
            }
        }
        serde_json::Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push(i.to_string());
                flatten(child, path, out);
                path.pop();
            }
        }
        leaf => {
            if out.len() < MAX_JSON_FIELDS {
                if let Some(t) = leaf_text(leaf) {
                    out.push((path.join("."), t));
                }
            }
        }
    }
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

/// A wanted dotted name matches a path when the joined names agree (keys
/// may themselves contain dots).
fn matches_path<P: AsRef<str>>(wanted: &[String], path: &[P]) -> bool {
    if wanted.len() == path.len() {
        return wanted.iter().zip(path).all(|(a, b)| a == b.as_ref());
    }
    let path: Vec<&str> = path.iter().map(AsRef::as_ref).collect();
    let joined_w = wanted.join(".");
    let joined_p = path.join(".");
    joined_w == joined_p
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
    fn discovers_flattened_json_fields() {
        let msg = r#"{"a":{"b":[{"c":1},{"c":"x"}]},"@k":true,"n":null,"s":"200"}"#;
        let wanted: Vec<Vec<String>> = ["a.b.1.c", "@@k", "n", "s", "a.b"]
            .iter()
            .map(|w| w.split('.').map(str::to_string).collect())
            .collect();
        let mut out = vec![None; wanted.len()];
        discover_json(msg, &wanted, &mut out);
        assert_eq!(
            out,
            [
                Some("x".into()),
                Some("true".into()),
                None,
                Some("200".into()),
                Some(r#"[{"c":1},{"c":"x"}]"#.into())
            ]
        );
    }

    #[test]
    fn discovery_edge_cases() {
        let names = |ws: &[&str]| -> Vec<Vec<String>> {
            ws.iter()
                .map(|w| w.split('.').map(str::to_string).collect())
                .collect()
        };
        let run = |msg: &str, ws: &[&str]| -> Vec<Option<String>> {
            let wanted = names(ws);
            let mut out = vec![None; wanted.len()];
            discover_json(msg, &wanted, &mut out);
            out.into_iter().map(|v| v.map(|c| c.into_owned())).collect()
        };
        // Escapes in keys and values, whitespace, nested arrays.
        assert_eq!(
            run(
                r#" { "a\"b" : "x\ny" , "n" : [ 1 , { "m" : -2.5e1 } ] } "#,
                &["a\"b", "n.1.m", "n.0"]
            ),
            [Some("x\ny".into()), Some("-2.5e1".into()), Some("1".into())]
        );
        // Not JSON, or broken JSON: nothing.
        assert_eq!(run("plain text", &["a"]), [None]);
        assert_eq!(run(r#"{"b":"2","a":"#, &["a"]), [None]);
        // Reading stops once every wanted field is found.
        assert_eq!(run(r#"{"a":"1","b":"#, &["a"]), [Some("1".into())]);
        assert_eq!(run(r#"{"a":tru}"#, &["a"]), [None]);
        // Keys with dots are matched by their flattened name.
        assert_eq!(
            run(r#"{"user.id":"u1","x":{"y.z":2}}"#, &["user.id", "x.y.z"]),
            [Some("u1".into()), Some("2".into())]
        );
        // Only the first 200 leaves count.
        let mut msg = String::from("{");
        for k in 0..250 {
            msg.push_str(&format!("\"k{k}\":{k},"));
        }
        msg.push_str("\"last\":1}");
        assert_eq!(
            run(&msg, &["k0", "k199", "k200", "last"]),
            [Some("0".into()), Some("199".into()), None, None]
        );
        // Leaves skipped inside unwanted containers still count.
        let mut msg = String::from("{\"skip\":[");
        for k in 0..199 {
            msg.push_str(&format!("{k},"));
        }
        msg.push_str("0],\"after\":\"x\",\"later\":\"y\"}");
        assert_eq!(run(&msg, &["after", "later"]), [None, None]);
    }

    #[test]
    fn discovers_lambda_report_fields() {
        let line = "REPORT RequestId: 8f5\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 70 MB\t";
        assert_eq!(discover_lambda(line, "@type").as_deref(), Some("REPORT"));
        assert_eq!(discover_lambda(line, "@requestId").as_deref(), Some("8f5"));
        assert_eq!(discover_lambda(line, "@duration").as_deref(), Some("12.34"));
        assert_eq!(
            discover_lambda(line, "@memorySize").as_deref(),
            Some("128000000")
        );
        assert_eq!(discover_lambda("hello", "@type"), None);
    }
}
