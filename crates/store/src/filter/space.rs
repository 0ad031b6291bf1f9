//! Space-delimited filter patterns: `[ip, user, ..., status = 4*, bytes > 1000]`.

use std::collections::HashMap;

use super::value::{parse_number, read_quoted, Op, Operand};

/// A condition on a named field.
#[derive(Debug, Clone)]
struct Condition {
    field: String,
    op: Op,
    operand: Operand,
}

/// Conditions of one slot: OR of AND groups.
#[derive(Debug, Clone, Default)]
struct Slot {
    name: Option<String>,
    any_of: Vec<Vec<Condition>>,
}

/// A parsed space-delimited pattern.
#[derive(Debug, Clone)]
pub struct SpacePattern {
    before: Vec<Slot>,
    /// Slots after `...`, when there is one.
    after: Option<Vec<Slot>>,
}

/// Splits a message into fields: spaces separate, `"..."` and `[...]` group.
pub fn fields(message: &str) -> Vec<&str> {
    let bytes = message.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' => i += 1,
            b'"' | b'[' => {
                let close = if bytes[i] == b'"' { b'"' } else { b']' };
                let end = bytes[i + 1..]
                    .iter()
                    .position(|b| *b == close)
                    .map(|p| i + 1 + p);
                match end {
                    Some(e) => {
                        out.push(&message[i + 1..e]);
                        i = e + 1;
                    }
                    None => {
                        out.push(&message[i..]);
                        break;
                    }
                }
            }
            _ => {
                let end = bytes[i..]
                    .iter()
                    .position(|b| *b == b' ' || *b == b'\t')
                    .map_or(bytes.len(), |p| i + p);
                out.push(&message[i..end]);
                i = end;
            }
        }
    }
    out
}

impl SpacePattern {
    /// True when the message has the pattern's shape and every condition holds.
    pub fn matches(&self, message: &str) -> bool {
        let values = fields(message);
        let mut named: HashMap<&str, &str> = HashMap::new();
        match &self.after {
            None => {
                if values.len() != self.before.len() {
                    return false;
                }
                bind(&mut named, &self.before, &values);
            }
            Some(after) => {
                if values.len() < self.before.len() + after.len() {
                    return false;
                }
                bind(&mut named, &self.before, &values[..self.before.len()]);
                bind(&mut named, after, &values[values.len() - after.len()..]);
            }
        }
        let slots = self.before.iter().chain(self.after.iter().flatten());
        slots.filter(|s| !s.any_of.is_empty()).all(|slot| {
            slot.any_of.iter().any(|group| {
                group.iter().all(|c| match named.get(c.field.as_str()) {
                    Some(v) => c.operand.compare(c.op, v, parse_number(v)),
                    None => false,
                })
            })
        })
    }
}

/// Names each value after its slot.
fn bind<'a>(named: &mut HashMap<&'a str, &'a str>, slots: &'a [Slot], values: &[&'a str]) {
    for (slot, v) in slots.iter().zip(values) {
        if let Some(n) = &slot.name {
            named.insert(n.as_str(), v);
        }
    }
}

/// Parses `[ ... ]`.
pub fn parse(text: &str) -> Result<SpacePattern, String> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or("a space-delimited pattern must be enclosed in [ ]")?;
    let mut before = Vec::new();
    let mut after: Option<Vec<Slot>> = None;
    for (n, raw) in split_top(inner, ",").into_iter().enumerate() {
        let raw = raw.trim();
        if raw.is_empty() {
            // A trailing comma (`[a, b,]`) is tolerated.
            continue;
        }
        if raw == "..." {
            if after.is_some() {
                return Err("'...' may appear only once".into());
            }
            after = Some(Vec::new());
            continue;
        }
        let slot = parse_slot(raw, n + 1)?;
        match &mut after {
            Some(list) => list.push(slot),
            None => before.push(slot),
        }
    }
    Ok(SpacePattern { before, after })
}

/// Splits on `sep` outside `"..."` and `%regex%`.
fn split_top(text: &str, sep: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quoted = false;
    let mut regex = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let free = !quoted && !regex && !escaped;
        if free && rest.starts_with(sep) {
            parts.push(String::new());
            rest = &rest[sep.len()..];
            continue;
        }
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '"' && !regex {
            quoted = !quoted;
        } else if c == '%' && !quoted {
            regex = !regex;
        }
        parts.last_mut().expect("non-empty").push(c);
        rest = &rest[c.len_utf8()..];
    }
    parts
}

fn parse_slot(raw: &str, position: usize) -> Result<Slot, String> {
    let name_end = raw
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '$'))
        .unwrap_or(raw.len());
    let name = raw[..name_end].trim_start_matches('$');
    if name.is_empty() {
        return Err(format!("field {position} needs a name"));
    }
    let mut slot = Slot {
        name: Some(name.to_string()),
        any_of: Vec::new(),
    };
    if raw[name_end..].trim().is_empty() {
        return Ok(slot);
    }
    for alternative in split_top(raw, "||") {
        let mut group = Vec::new();
        for cond in split_top(&alternative, "&&") {
            group.push(parse_condition(cond.trim())?);
        }
        slot.any_of.push(group);
    }
    Ok(slot)
}

fn parse_condition(text: &str) -> Result<Condition, String> {
    let chars: Vec<char> = text.chars().collect();
    let name_end = chars
        .iter()
        .position(|c| !(c.is_alphanumeric() || *c == '_' || *c == '-' || *c == '$'))
        .ok_or_else(|| format!("condition '{text}' needs an operator"))?;
    let field: String = chars[..name_end]
        .iter()
        .collect::<String>()
        .trim_start_matches('$')
        .to_string();
    let mut i = name_end;
    while chars.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    let (op, next) = Op::read(&chars, i)
        .ok_or_else(|| format!("condition '{text}' needs an operator (=, !=, <, <=, >, >=)"))?;
    let rest: String = chars[next..].iter().collect();
    let rest = rest.trim();
    let operand = if rest.starts_with('"') {
        let rc: Vec<char> = rest.chars().collect();
        let (s, _) = read_quoted(&rc, 0)?;
        Operand::from_token(&s, true)?
    } else {
        if rest.is_empty() {
            return Err(format!("condition '{text}' needs a value"));
        }
        Operand::from_token(rest, false)?
    };
    if !matches!(op, Op::Eq | Op::Ne) && !matches!(operand, Operand::Number(_)) {
        return Err(format!("condition '{text}': <, <=, > and >= need a number"));
    }
    Ok(Condition { field, op, operand })
}
