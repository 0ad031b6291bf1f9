//! The JSONPath subset mapping templates use in `$input.json(path)` and
//! `$input.path(path)`: the root `$`, members (`.name`, `['name']`,
//! `["name"]`), array indexes (`[0]`, `[-1]` from the end) and wildcards
//! (`.*`, `[*]`, every member or element). A path that selects nothing
//! yields no value; one with a wildcard yields the list of what it found.

use serde_json::Value;

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// A member of an object.
    Member(String),
    /// An element of an array (negative: from the end).
    Index(i64),
    /// Every member or element.
    Wildcard,
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

impl JsonPath {
    /// Reads `text` (starting with `$`); `None` when it is not a path of
    /// this subset.
    pub fn parse(text: &str) -> Option<JsonPath> {
        let mut rest = text.trim().strip_prefix('$')?;
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                if let Some(after) = after.strip_prefix('*') {
                    steps.push(Step::Wildcard);
                    rest = after;
                    continue;
                }
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let name = &after[..end];
                if name.is_empty() {
                    return None;
                }
                steps.push(Step::Member(name.to_string()));
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let end = after.find(']')?;
                let inside = after[..end].trim();
                let step = if inside == "*" {
                    Step::Wildcard
                } else if let Some(name) = quoted(inside) {
                    Step::Member(name.to_string())
                } else {
                    Step::Index(inside.parse().ok()?)
                };
                steps.push(step);
                rest = &after[end + 1..];
            } else {
                return None;
            }
        }
        Some(JsonPath { steps })
    }

    /// Whether the path is `$` alone.
    pub fn is_root(&self) -> bool {
        self.steps.is_empty()
    }

    /// What the path selects in `root`: the value itself, or (with a
    /// wildcard) the array of what every branch found.
    pub fn select(&self, root: &Value) -> Option<Value> {
        let mut found = vec![root];
        let mut many = false;
        for step in &self.steps {
            let mut next = Vec::new();
            for value in found {
                match step {
                    Step::Member(name) => next.extend(value.get(name)),
                    Step::Index(i) => {
                        if let Some(items) = value.as_array() {
                            let at = if *i < 0 { items.len() as i64 + i } else { *i };
                            next.extend(usize::try_from(at).ok().and_then(|at| items.get(at)));
                        }
                    }
                    Step::Wildcard => {
                        many = true;
                        match value {
                            Value::Array(items) => next.extend(items.iter()),
                            Value::Object(members) => next.extend(members.values()),
                            _ => {}
                        }
                    }
                }
            }
            found = next;
        }
        if many {
            return Some(Value::Array(found.into_iter().cloned().collect()));
        }
        found.first().map(|v| (*v).clone())
    }
}

fn quoted(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    (b.len() >= 2 && (b[0] == b'\'' || b[0] == b'"') && b[b.len() - 1] == b[0])
        .then(|| &s[1..s.len() - 1])
}

/// A value as a template's text shows an object `$input.path` returned:
/// strings as they are, objects and arrays as Java's maps and lists print
/// (`{a=1, b=x}`, `[1, 2]`), numbers and booleans as JSON writes them,
/// null as nothing.
pub fn java_text(value: &Value) -> String {
    let mut out = String::new();
    push_java(&mut out, value);
    out
}

fn push_java(out: &mut String, value: &Value) {
    match value {
        Value::Null => {}
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                push_java(out, item);
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for (i, (name, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(name);
                out.push('=');
                push_java(out, item);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn select(path: &str, value: &Value) -> Option<Value> {
        JsonPath::parse(path).unwrap().select(value)
    }

    #[test]
    fn paths_select_members_indexes_and_wildcards() {
        let doc = json!({"pet": {"name": "ada", "tags": ["a", "b", "c"]}, "n": 3, "odd key": true});
        assert_eq!(select("$", &doc), Some(doc.clone()));
        assert_eq!(select("$.pet.name", &doc), Some(json!("ada")));
        assert_eq!(select("$['pet'][\"name\"]", &doc), Some(json!("ada")));
        assert_eq!(select("$.pet.tags[1]", &doc), Some(json!("b")));
        assert_eq!(select("$.pet.tags[-1]", &doc), Some(json!("c")));
        assert_eq!(select("$.pet.tags[*]", &doc), Some(json!(["a", "b", "c"])));
        assert_eq!(
            select("$.pet.*", &doc),
            Some(json!(["ada", ["a", "b", "c"]]))
        );
        assert_eq!(select("$['odd key']", &doc), Some(json!(true)));
        assert_eq!(select("$.missing", &doc), None);
        assert_eq!(select("$.pet.tags[9]", &doc), None);
        assert_eq!(select("$.n.deeper", &doc), None);
        for bad in ["", "pet", "$.", "$[", "$[x]", "$..name"] {
            assert_eq!(JsonPath::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn values_print_as_java_would() {
        let doc = json!({"a": 1, "b": "x", "c": [true, null, 2.5], "d": {}});
        assert_eq!(java_text(&doc), "{a=1, b=x, c=[true, , 2.5], d={}}");
        assert_eq!(java_text(&json!("plain")), "plain");
    }
}
