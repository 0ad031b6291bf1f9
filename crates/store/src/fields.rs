//! Fields of JSON messages, named as Logs Insights names them, and the
//! field columns that segments keep for them.
//!
//! A JSON object message has one field per leaf: objects flatten with dots,
//! arrays with indices, the first [`MAX_JSON_FIELDS`] leaves in document
//! order count, `null` is absent, and a key that starts with `@` is exposed
//! with one more `@` (so `{"@x":1}` has the field `@@x`). [`discover_json`]
//! finds the values of some fields in one pass over the text.
//!
//! **Field columns.** When events are compacted into a segment, the fields
//! that the segment's messages have (found in a sample of them, at most
//! [`MAX_FIELD_COLUMNS`]) are also stored as columns of their own, holding
//! exactly what [`discover_json`] finds for each message with all of those
//! fields wanted. A query that names only such fields then reads those
//! columns instead of parsing every message. Such a column's value equals
//! what a query asking for any subset of the fields would discover, except
//! for a message that starts like a JSON object and is broken: discovery
//! depends on how far it reads, so a segment with any such message keeps no
//! field columns and its queries parse the messages as before.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, StringViewArray};

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

/// JSON leaves taken per event.
pub const MAX_JSON_FIELDS: usize = 200;

/// Finds the values of `wanted` field names in a JSON object message,
/// one entry of `out` per wanted name. Returns false when the message
/// starts like a JSON object but the text read breaks JSON's rules (every
/// entry of `out` is then `None`); true otherwise, including for messages
/// that are not JSON at all.
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
) -> bool {
    for o in out.iter_mut() {
        *o = None;
    }
    let bytes = message.as_bytes();
    let mut i = skip_ws(bytes, 0);
    if bytes.get(i) != Some(&b'{') {
        return true;
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
        return false;
    }
    true
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

/// One nullable Utf8 column per wanted field, filled message by message
/// with what [`discover_json`] finds (segment field columns, scan batches).
pub(crate) struct FieldColumns(Vec<StringBuilder>);

impl FieldColumns {
    /// Columns for `fields` fields, with room for `rows` rows.
    pub(crate) fn new(fields: usize, rows: usize) -> FieldColumns {
        FieldColumns(
            (0..fields)
                .map(|_| StringBuilder::with_capacity(rows, rows * 8))
                .collect(),
        )
    }

    /// Appends the values of `wanted` in `message` (`found` is scratch
    /// space, one entry per wanted field). Returns what [`discover_json`]
    /// returns: false for broken JSON (the row then holds nulls).
    pub(crate) fn append<'a>(
        &mut self,
        message: &'a str,
        wanted: &[Vec<String>],
        found: &mut [Option<Cow<'a, str>>],
    ) -> bool {
        let valid = discover_json(message, wanted, found);
        for (b, v) in self.0.iter_mut().zip(found.iter_mut()) {
            b.append_option(v.take().as_deref());
        }
        valid
    }

    /// The columns so far; the builders start again empty.
    pub(crate) fn finish(&mut self) -> Vec<ArrayRef> {
        self.0
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect()
    }

    /// [`FieldColumns::finish`] as string views over the same text (the
    /// type of a scan batch's field columns).
    pub(crate) fn finish_views(&mut self) -> Vec<ArrayRef> {
        self.0
            .iter_mut()
            .map(|b| Arc::new(StringViewArray::from(&b.finish())) as ArrayRef)
            .collect()
    }
}

/// Most field columns one segment keeps.
pub const MAX_FIELD_COLUMNS: usize = 64;

/// Messages sampled (in full at the start, then every `SAMPLE_STRIDE`th) to
/// choose a segment's field columns.
const SAMPLE_HEAD: usize = 512;
const SAMPLE_STRIDE: usize = 16;

/// Calls `f` with the key path (`@`-prefixed keys doubled, array indices
/// as numbers) and value of each of the first 200 non-null leaves of a JSON
/// object message, in document order. Nothing for messages that are not
/// JSON objects.
pub fn for_each_leaf(message: &str, mut f: impl FnMut(&[String], &serde_json::Value)) {
    let trimmed = message.trim_start();
    if !trimmed.starts_with('{') {
        return;
    }
    let Ok(value) = serde_json::from_str::<serde_json::Value>(trimmed) else {
        return;
    };
    let mut path: Vec<String> = Vec::new();
    let mut leaves = 0;
    walk_leaves(&value, &mut path, &mut leaves, &mut f);
}

fn walk_leaves(
    v: &serde_json::Value,
    path: &mut Vec<String>,
    leaves: &mut usize,
    f: &mut impl FnMut(&[String], &serde_json::Value),
) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, child) in map {
                path.push(if k.starts_with('@') {
                    format!("@{k}")
                } else {
                    k.clone()
                });
                walk_leaves(child, path, leaves, f);
                path.pop();
            }
        }
        serde_json::Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push(i.to_string());
                walk_leaves(child, path, leaves, f);
                path.pop();
            }
        }
        serde_json::Value::Null => {}
        leaf => {
            *leaves += 1;
            if *leaves <= MAX_JSON_FIELDS {
                f(path, leaf);
            }
        }
    }
}

/// The field names (as dotted paths split on `.`, the way queries name
/// them) of the leaves of a JSON object message, first 200 leaves, in
/// document order. Nothing for messages that are not JSON objects.
pub fn leaf_paths(message: &str, out: &mut Vec<Vec<String>>) {
    for_each_leaf(message, |path, _| {
        // Queries split names on dots, keys with dots included.
        let joined = path.join(".");
        out.push(joined.split('.').map(str::to_string).collect());
    });
}

/// Chooses the field columns for a segment's messages: the fields found in
/// a sample of them, most frequent first (ties in order of appearance), at
/// most [`MAX_FIELD_COLUMNS`].
pub fn choose_field_columns<'a>(messages: impl Iterator<Item = &'a str>) -> Vec<Vec<String>> {
    let mut seen: HashMap<Vec<String>, (usize, usize)> = HashMap::new();
    let mut paths = Vec::new();
    for (i, m) in messages.enumerate() {
        if i >= SAMPLE_HEAD && i % SAMPLE_STRIDE != 0 {
            continue;
        }
        paths.clear();
        leaf_paths(m, &mut paths);
        for p in paths.drain(..) {
            let order = seen.len();
            seen.entry(p).or_insert((0, order)).0 += 1;
        }
    }
    let mut ranked: Vec<(Vec<String>, (usize, usize))> = seen.into_iter().collect();
    ranked.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.1 .1.cmp(&b.1 .1)));
    ranked
        .into_iter()
        .take(MAX_FIELD_COLUMNS)
        .map(|(p, _)| p)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn leaf_paths_name_fields_as_queries_do() {
        let mut out = Vec::new();
        leaf_paths(
            r#"{"a":{"b":[1,null,"x"]},"@t":1,"user.id":"u","n":null}"#,
            &mut out,
        );
        let names: Vec<String> = out.iter().map(|p| p.join(".")).collect();
        assert_eq!(names, ["a.b.0", "a.b.2", "@@t", "user.id"]);
        assert_eq!(out[3], ["user", "id"]);
        let mut none = Vec::new();
        leaf_paths("GET /pets 200", &mut none);
        leaf_paths(r#"{"broken":"#, &mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn field_columns_are_the_frequent_fields_first() {
        let msgs = [
            r#"{"status":"200","path":"/a"}"#,
            r#"{"status":"500","error":"x"}"#,
            "not json",
            r#"{"status":"200","path":"/b"}"#,
        ];
        let cols = choose_field_columns(msgs.iter().copied());
        let names: Vec<String> = cols.iter().map(|p| p.join(".")).collect();
        assert_eq!(names, ["status", "path", "error"]);
    }

    #[test]
    fn broken_json_is_reported() {
        let wanted = vec![vec!["a".to_string()]];
        let mut out = vec![None];
        assert!(discover_json(r#"{"a":"1"}"#, &wanted, &mut out));
        assert!(discover_json("plain", &wanted, &mut out));
        assert!(!discover_json(r#"{"b":"2","a":"#, &wanted, &mut out));
        assert_eq!(out, [None]);
    }
}
