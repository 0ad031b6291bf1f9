//! The methods of Java's maps, lists and strings that templates call.

use super::*;

/// The methods of Java's maps, lists and strings that templates use.
///
/// Maps: `get`, `containsKey`, `keySet`, `values`, `entrySet` (items with
/// `key` and `value`), `size`, `isEmpty`, `put` and `remove` (which change
/// the variable). Lists: `get`, `size`, `isEmpty`, `contains`, `add` (which
/// changes the variable; at most [`MAX_LIST`] items). Strings: `length`,
/// `isEmpty`, `toLowerCase`, `toUpperCase`, `trim`, `substring`, `charAt`,
/// `indexOf`, `lastIndexOf`, `contains`, `startsWith`, `endsWith`,
/// `equals`, `equalsIgnoreCase`, `concat`, `replace`, `replaceAll`,
/// `replaceFirst`, `matches` and `split` (the last four with regular
/// expressions in the `regex` crate's syntax, which agrees with Java's for
/// common patterns; `$1` in a replacement is the first group, as in Java).
/// Any value: `toString`. Text positions count characters. Anything else
/// has no value, so the reference is copied through, as Velocity does with
/// a method it cannot call.
pub(super) fn call(
    value: &mut Value,
    name: &str,
    args: &[Value],
    work: &mut Work,
) -> Option<Value> {
    let text_arg = |i: usize| args.get(i).map(text_of);
    let made = match (&mut *value, name, args.len()) {
        (_, "toString", 0) => Value::String(text_of(value)),
        (Value::Object(m), "size", 0) => Value::from(m.len()),
        (Value::Object(m), "isEmpty", 0) => Value::Bool(m.is_empty()),
        (Value::Object(m), "containsKey", 1) => Value::Bool(m.contains_key(&text_arg(0)?)),
        (Value::Object(m), "keySet", 0) => {
            Value::Array(m.keys().map(|k| Value::String(k.clone())).collect())
        }
        (Value::Object(m), "values", 0) => Value::Array(m.values().cloned().collect()),
        (Value::Object(m), "entrySet", 0) => Value::Array(
            m.iter()
                .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
                .collect(),
        ),
        (Value::Object(m), "put", 2) => m
            .insert(text_arg(0)?, args[1].clone())
            .unwrap_or(Value::Null),
        (Value::Object(m), "remove", 1) => m.shift_remove(&text_arg(0)?)?,
        (Value::Array(items), "size", 0) => Value::from(items.len()),
        (Value::Array(items), "isEmpty", 0) => Value::Bool(items.is_empty()),
        (Value::Array(items), "contains", 1) => Value::Bool(items.contains(&args[0])),
        (Value::Array(items), "add", 1) => {
            if items.len() >= MAX_LIST {
                return None;
            }
            items.push(args[0].clone());
            Value::Bool(true)
        }
        (Value::String(s), _, _) => match pattern_call(s, name, args, work) {
            Some(made) => made?,
            None => string_call(s, name, args)?,
        },
        _ => return None,
    };
    work.charge(weight(&made, work.budget)).then_some(made)
}

pub(super) fn string_call(s: &str, name: &str, args: &[Value]) -> Option<Value> {
    let text_arg = |i: usize| args.get(i).map(text_of);
    let int_arg = |i: usize| {
        args.get(i)
            .and_then(|a| a.as_i64().or_else(|| text_of(a).parse().ok()))
    };
    let text = |t: String| Some(Value::String(t));
    let chars = || s.chars().count();
    // A char position as a byte offset (`None` past the end).
    let byte_at = |n: i64| -> Option<usize> {
        let n = usize::try_from(n).ok()?;
        if n == chars() {
            return Some(s.len());
        }
        s.char_indices().nth(n).map(|(b, _)| b)
    };
    let position =
        |found: Option<usize>| Value::from(found.map_or(-1, |b| s[..b].chars().count() as i64));
    match (name, args.len()) {
        ("length", 0) => Some(Value::from(chars())),
        ("isEmpty", 0) => Some(Value::Bool(s.is_empty())),
        ("toLowerCase", 0) => text(s.to_lowercase()),
        ("toUpperCase", 0) => text(s.to_uppercase()),
        ("trim", 0) => text(s.trim().to_string()),
        ("substring", 1) => text(s[byte_at(int_arg(0)?)?..].to_string()),
        ("substring", 2) => {
            let (from, to) = (byte_at(int_arg(0)?)?, byte_at(int_arg(1)?)?);
            (from <= to).then(|| Value::String(s[from..to].to_string()))
        }
        ("charAt", 1) => s
            .chars()
            .nth(usize::try_from(int_arg(0)?).ok()?)
            .map(|c| Value::String(c.to_string())),
        ("indexOf", 1) => Some(position(s.find(&text_arg(0)?))),
        ("lastIndexOf", 1) => Some(position(s.rfind(&text_arg(0)?))),
        ("contains", 1) => Some(Value::Bool(s.contains(&text_arg(0)?))),
        ("startsWith", 1) => Some(Value::Bool(s.starts_with(&text_arg(0)?))),
        ("endsWith", 1) => Some(Value::Bool(s.ends_with(&text_arg(0)?))),
        ("equals", 1) => Some(Value::Bool(matches!(&args[0], Value::String(t) if t == s))),
        ("equalsIgnoreCase", 1) => Some(Value::Bool(
            matches!(&args[0], Value::String(t) if t.to_lowercase() == s.to_lowercase()),
        )),
        ("concat", 1) => text(format!("{s}{}", text_arg(0)?)),
        ("replace", 2) => {
            let (from, to) = (text_arg(0)?, text_arg(1)?);
            // An empty target would put the replacement between every
            // character; refused past a bounded result.
            let grows = if from.is_empty() {
                chars() + 1
            } else {
                s.len() / from.len()
            };
            if grows.saturating_mul(to.len()) > MAX_OUTPUT {
                return None;
            }
            text(s.replace(&from, &to))
        }
        _ => None,
    }
}

/// The string methods that take a regular expression (`replaceAll`,
/// `replaceFirst`, `matches`, `split`), with the render's compiled
/// patterns.
pub(super) fn pattern_call(
    s: &str,
    name: &str,
    args: &[Value],
    work: &mut Work,
) -> Option<Option<Value>> {
    let text_arg = |i: usize| args.get(i).map(text_of);
    let result = match (name, args.len()) {
        ("replaceAll" | "replaceFirst", 2) => {
            let re = work.pattern(&text_arg(0)?)?;
            let with = java_replacement(&text_arg(1)?);
            let out = if name == "replaceAll" {
                re.replace_all(s, with.as_str())
            } else {
                re.replace(s, with.as_str())
            };
            if !work.charge(out.len() as u64 / 16) {
                return Some(None);
            }
            Value::String(out.into_owned())
        }
        ("matches", 1) => {
            let re = work.pattern(&format!("^(?:{})$", text_arg(0)?))?;
            Value::Bool(re.is_match(s))
        }
        ("split", 1) => {
            let re = work.pattern(&text_arg(0)?)?;
            if re.find(s).is_none() {
                // No match: the whole text, as Java gives it.
                return Some(Some(Value::Array(vec![Value::String(s.to_string())])));
            }
            let mut parts: Vec<&str> = re.split(s).collect();
            // Java drops a leading empty part made by a zero-width match at
            // the start, and every empty part at the end.
            if re.find(s).is_some_and(|m| m.start() == 0 && m.end() == 0)
                && parts.first() == Some(&"")
            {
                parts.remove(0);
            }
            while parts.last() == Some(&"") {
                parts.pop();
            }
            if !work.charge(parts.len() as u64 + s.len() as u64 / 16) {
                return Some(None);
            }
            Value::Array(
                parts
                    .into_iter()
                    .map(|p| Value::String(p.to_string()))
                    .collect(),
            )
        }
        _ => return None,
    };
    Some(Some(result))
}

/// A Java replacement string (`$1`, `\$`) in the `regex` crate's syntax
/// (`${1}`, `$$`).
pub(super) fn java_replacement(java: &str) -> String {
    let mut out = String::with_capacity(java.len() + 8);
    let mut chars = java.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(other) => out.push(other),
                None => {}
            },
            '$' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    out.push_str("$$");
                } else {
                    out.push_str("${");
                    out.push_str(&digits);
                    out.push('}');
                }
            }
            other => out.push(other),
        }
    }
    out
}
