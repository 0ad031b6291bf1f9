//! Loading an API definition document (YAML or JSON) into a JSON value while
//! remembering where each node sits in the text.
//!
//! Every node of the document is addressed by its JSON pointer (RFC 6901); the
//! [`Document`] maps pointers to 1-based line numbers so that a problem found
//! by the importer can say "line 42" as well as `/paths/~1pets/get`.
//!
//! YAML is parsed with `yaml-rust2`'s event parser and converted to a
//! `serde_json::Value` by hand, which is what gives us the positions. Keys that
//! YAML types as numbers or booleans (`200:` in a responses map) become strings,
//! as OpenAPI requires.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::Yaml;

/// A parsed document and the line of every node in it.
#[derive(Debug, Clone)]
pub struct Document {
    /// The document as JSON.
    pub value: Value,
    lines: HashMap<String, usize>,
}

/// Why a document could not be parsed at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (line {line}, column {column})")]
pub struct SyntaxError {
    /// What the parser objected to.
    pub message: String,
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column of the problem.
    pub column: usize,
}

impl Document {
    /// A document built from a value (no source positions), for checking
    /// one piece of an API sent as JSON.
    pub fn from_value(value: Value) -> Document {
        Document {
            value,
            lines: HashMap::new(),
        }
    }

    /// Parses YAML or JSON text. JSON is recognised by its leading `{` or `[`
    /// and parsed with `serde_json` (exact error messages); positions are
    /// still taken from the YAML event stream, which reads JSON too.
    pub fn parse(text: &str) -> Result<Document, SyntaxError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let looks_like_json = matches!(text.trim_start().chars().next(), Some('{' | '['));
        if looks_like_json {
            let value: Value = serde_json::from_str(text).map_err(|e| SyntaxError {
                message: format!("invalid JSON: {}", strip_position(&e.to_string())),
                line: e.line(),
                column: e.column(),
            })?;
            // Positions are a convenience: a JSON file the YAML parser cannot
            // read (rare escapes) simply has no line numbers.
            let lines = build_yaml(text).map(|(_, lines)| lines).unwrap_or_default();
            return Ok(Document { value, lines });
        }
        let (value, lines) = build_yaml(text)?;
        Ok(Document { value, lines })
    }

    /// The 1-based line where the node at `pointer` starts, if known. Falls
    /// back to the nearest ancestor that has a position.
    pub fn line_of(&self, pointer: &str) -> Option<usize> {
        let mut p = pointer;
        loop {
            if let Some(line) = self.lines.get(p) {
                return Some(*line);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return None,
            }
        }
    }
}

/// Escapes one JSON-pointer reference token (`~` → `~0`, `/` → `~1`).
pub fn escape_pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn build_yaml(text: &str) -> Result<(Value, HashMap<String, usize>), SyntaxError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| SyntaxError {
        message: format!("invalid YAML: {}", e.info()),
        line: e.marker().line(),
        column: e.marker().col() + 1,
    })?;
    if let Some(err) = builder.error {
        return Err(err);
    }
    let value = builder.root.unwrap_or(Value::Null);
    Ok((value, builder.lines))
}

/// A container being filled while events arrive.
enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
        pointer: String,
    },
    Map {
        map: Map<String, Value>,
        pending_key: Option<String>,
        anchor: usize,
        pointer: String,
    },
}

/// Most nodes that alias expansion may copy: a document of nested aliases
/// ("billion laughs") is refused instead of exhausting memory.
const ALIAS_NODE_BUDGET: usize = 1_000_000;

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Value>,
    anchors: HashMap<usize, Value>,
    lines: HashMap<String, usize>,
    error: Option<SyntaxError>,
    alias_nodes: usize,
}

/// Nodes in a value, counting up to `limit` (enough to enforce the budget).
fn node_count(value: &Value, limit: usize) -> usize {
    let mut count = 1;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        if count > limit {
            break;
        }
        match v {
            Value::Array(items) => {
                count += items.len();
                stack.extend(items);
            }
            Value::Object(map) => {
                count += map.len();
                stack.extend(map.values());
            }
            _ => {}
        }
    }
    count
}

impl Builder {
    /// The pointer of the node about to be added to the current container.
    fn child_pointer(&self) -> String {
        match self.stack.last() {
            None => String::new(),
            Some(Frame::Seq { items, pointer, .. }) => format!("{pointer}/{}", items.len()),
            Some(Frame::Map {
                pending_key: Some(k),
                pointer,
                ..
            }) => format!("{pointer}/{}", escape_pointer_token(k)),
            Some(Frame::Map { pointer, .. }) => pointer.clone(),
        }
    }

    fn expecting_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame::Map {
                pending_key: None,
                ..
            })
        )
    }

    fn push_value(&mut self, value: Value, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(value);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map {
                map, pending_key, ..
            }) => match pending_key.take() {
                Some(k) => {
                    map.insert(k, value);
                }
                None => {
                    // A mapping or sequence used as a key: not valid in OpenAPI.
                    *pending_key = Some(key_text(&value));
                }
            },
        }
    }
}

fn key_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_string(),
        other => other.to_string(),
    }
}

fn scalar_value(text: String, style: TScalarStyle) -> Value {
    if style != TScalarStyle::Plain {
        return Value::String(text);
    }
    match Yaml::from_str(&text) {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Integer(i) => Value::Number(i.into()),
        Yaml::Real(r) => match r.parse::<f64>().ok().and_then(Number::from_f64) {
            Some(n) => Value::Number(n),
            None => Value::String(text),
        },
        _ => Value::String(text),
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::Scalar(text, style, anchor, _tag) => {
                if self.expecting_key() {
                    if let Some(Frame::Map {
                        pending_key,
                        pointer,
                        map,
                        ..
                    }) = self.stack.last_mut()
                    {
                        if map.contains_key(&text) {
                            self.error = Some(SyntaxError {
                                message: format!("duplicate key '{text}'"),
                                line: mark.line(),
                                column: mark.col() + 1,
                            });
                            return;
                        }
                        let child = format!("{pointer}/{}", escape_pointer_token(&text));
                        self.lines.insert(child, mark.line());
                        *pending_key = Some(text);
                    }
                    return;
                }
                let pointer = self.child_pointer();
                self.lines.entry(pointer).or_insert(mark.line());
                let value = scalar_value(text, style);
                self.push_value(value, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                let pointer = self.child_pointer();
                self.lines.entry(pointer.clone()).or_insert(mark.line());
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    anchor,
                    pointer,
                });
            }
            Event::MappingStart(anchor, _) => {
                let pointer = self.child_pointer();
                self.lines.entry(pointer.clone()).or_insert(mark.line());
                self.stack.push(Frame::Map {
                    map: Map::new(),
                    pending_key: None,
                    anchor,
                    pointer,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, anchor) = match self.stack.pop() {
                    Some(Frame::Seq { items, anchor, .. }) => (Value::Array(items), anchor),
                    Some(Frame::Map { map, anchor, .. }) => (Value::Object(map), anchor),
                    None => return,
                };
                self.push_value(value, anchor);
            }
            Event::Alias(id) => {
                let nodes = self
                    .anchors
                    .get(&id)
                    .map_or(1, |v| node_count(v, ALIAS_NODE_BUDGET));
                self.alias_nodes += nodes;
                if self.alias_nodes > ALIAS_NODE_BUDGET {
                    self.error = Some(SyntaxError {
                        message: format!("aliases expand to more than {ALIAS_NODE_BUDGET} nodes"),
                        line: mark.line(),
                        column: mark.col() + 1,
                    });
                    return;
                }
                let value = self.anchors.get(&id).cloned().unwrap_or(Value::Null);
                if self.expecting_key() {
                    if let Some(Frame::Map { pending_key, .. }) = self.stack.last_mut() {
                        *pending_key = Some(key_text(&value));
                    }
                    return;
                }
                self.push_value(value, 0);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_positions_and_numeric_keys() {
        let doc = Document::parse(
            "openapi: 3.0.1\npaths:\n  /pets:\n    get:\n      responses:\n        200:\n          description: ok\n",
        )
        .unwrap();
        assert_eq!(doc.value["openapi"], Value::String("3.0.1".into()));
        assert_eq!(
            doc.value["paths"]["/pets"]["get"]["responses"]["200"]["description"],
            "ok"
        );
        assert_eq!(doc.line_of("/paths/~1pets/get"), Some(4));
        assert_eq!(doc.line_of("/paths/~1pets/get/responses/200"), Some(6));
        // Unknown child falls back to the nearest known ancestor.
        assert_eq!(doc.line_of("/paths/~1pets/get/nothing/here"), Some(4));
    }

    #[test]
    fn json_keeps_positions() {
        let doc =
            Document::parse("{\n  \"swagger\": \"2.0\",\n  \"paths\": {\n    \"/a\": {}\n  }\n}")
                .unwrap();
        assert_eq!(doc.value["swagger"], "2.0");
        assert_eq!(doc.line_of("/paths/~1a"), Some(4));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = Document::parse("a: [1, 2\nb: c\n").unwrap_err();
        assert!(err.message.starts_with("invalid YAML"), "{err}");
        assert!(err.line >= 1);
        let err = Document::parse("{\"a\": 1,\n \"b\": }").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.starts_with("invalid JSON"), "{err}");
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = Document::parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("duplicate key 'a'"));
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        let err = Document::parse(&text).unwrap_err();
        assert!(err.message.contains("aliases expand"), "{err}");
    }

    #[test]
    fn anchors_and_quoted_scalars() {
        let doc = Document::parse("x: &v {a: 1}\ny: *v\nz: '42'\nw: 42\n").unwrap();
        assert_eq!(doc.value["y"]["a"], 1);
        assert_eq!(doc.value["z"], "42");
        assert_eq!(doc.value["w"], 42);
    }
}
