//! Values written in directives: operands (references, literals, lists,
//! ranges, maps), arithmetic and conditions.

use super::*;

/// A value written in a directive: a reference, a quoted string (`"..."`
/// with its references rendered), a number, `true` / `false` / `null`, a
/// list (`[1, $a]`), a range (`[1..$n]`), a map (`{"k": $v}`), or
/// arithmetic (`$i + 1`, `-`, `*`, `/`, `%`; whole numbers stay whole,
/// division of whole numbers drops the remainder as in Java, and `+` joins
/// text when either side is text, as Velocity does).
pub(super) fn operand(text: &str, input: &TemplateInput, scope: &mut Scope) -> Option<Value> {
    if !scope.enter() {
        return None;
    }
    let value = operand_within(text, input, scope);
    scope.leave();
    value
}

pub(super) fn operand_within(
    text: &str,
    input: &TemplateInput,
    scope: &mut Scope,
) -> Option<Value> {
    let text = text.trim();
    if let Some(value) = arithmetic(text, input, scope) {
        return value;
    }
    if text.starts_with('$') {
        return reference_value(text, input, scope, true);
    }
    if let Some(inner) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        return Some(Value::String(inner.to_string()));
    }
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        let mut parser = Parser {
            text: inner,
            at: 0,
            depth: 0,
            too_deep: false,
        };
        let nodes = parser.block(&mut None);
        let mut out = String::new();
        run(&nodes, input, scope, &mut out);
        return scope
            .charge(out.len() as u64 / 16)
            .then_some(Value::String(out));
    }
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        if let Some([from, to]) = split_outside(inner, "..").as_deref() {
            let from = operand(from, input, scope)?.as_i64()?;
            let to = operand(to, input, scope)?.as_i64()?;
            let len = from.abs_diff(to).saturating_add(1);
            if len > MAX_LIST as u64 || !scope.charge(len) {
                return None;
            }
            let step = if to >= from { 1 } else { -1 };
            return Some(Value::Array(
                (0..len as i64)
                    .map(|i| Value::from(from + i * step))
                    .collect(),
            ));
        }
        let mut items = Vec::new();
        for item in arguments(inner) {
            items.push(operand(item, input, scope).unwrap_or(Value::Null));
        }
        return Some(Value::Array(items));
    }
    if let Some(inner) = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
        let mut map = serde_json::Map::new();
        for entry in arguments(inner) {
            let [key, value] = split_outside(entry, ":")?.try_into().ok()?;
            let key = text_of(&operand(key, input, scope)?);
            map.insert(key, operand(value, input, scope).unwrap_or(Value::Null));
        }
        return Some(Value::Object(map));
    }
    match text {
        "true" => Some(Value::Bool(true)),
        "false" => Some(Value::Bool(false)),
        "null" => Some(Value::Null),
        _ => serde_json::from_str::<serde_json::Number>(text)
            .ok()
            .map(Value::Number),
    }
}

/// `text` as arithmetic, when it is: `Some(result)` (`Some(None)` when an
/// operand is not a number, or on division by zero or overflow), `None`
/// when `text` has no operator outside quotes, brackets and parentheses.
/// `+` and `-` bind looser than `*`, `/` and `%`, all to the left, and
/// parentheses group; a `-` needs spaces around it (`$a-b` is a reference,
/// as in Velocity).
pub(super) fn arithmetic(
    text: &str,
    input: &TemplateInput,
    scope: &mut Scope,
) -> Option<Option<Value>> {
    // Most operands are a reference or a literal: no operator to look for
    // (a `-` can only subtract after a space or a closing bracket or quote).
    let bytes = text.as_bytes();
    let maybe = text.starts_with('(')
        || bytes.iter().any(|b| matches!(b, b'+' | b'*' | b'/' | b'%'))
        || bytes
            .windows(2)
            .any(|w| w[1] == b'-' && matches!(w[0], b' ' | b')' | b']' | b'}' | b'\'' | b'"'));
    if !maybe {
        return None;
    }
    if let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        if parenthesised(text).is_some_and(|(_, len)| len == text.len()) {
            return Some(operand(inner, input, scope));
        }
    }
    let mut cuts = operators(text, true);
    if cuts
        .first()
        .is_some_and(|&(at, _)| text[..at].trim().is_empty())
    {
        // A sign, not an operator (`-1` is a number literal).
        cuts.remove(0);
    }
    if cuts.is_empty() {
        cuts = operators(text, false);
    }
    if cuts.is_empty() {
        return None;
    }
    // Each part between operators of the lowest precedence present holds
    // only higher ones: evaluated on its own, then folded to the left.
    let mut result = operand(&text[..cuts[0].0], input, scope);
    for (i, &(at, op)) in cuts.iter().enumerate() {
        let end = cuts.get(i + 1).map_or(text.len(), |next| next.0);
        let right = operand(&text[at + 1..end], input, scope);
        result = calculate(result.as_ref(), right.as_ref(), op);
        if let Some(Value::String(joined)) = &result {
            if !scope.charge(joined.len() as u64 / 16) {
                return Some(None);
            }
        }
    }
    Some(result)
}

/// Where the operators of one precedence are, outside quotes, brackets,
/// braces and parentheses.
pub(super) fn operators(text: &str, additive: bool) -> Vec<(usize, u8)> {
    let bytes = text.as_bytes();
    top_level(text)
        .filter(|&(i, c)| match c {
            b'+' => additive,
            // A `-` right after a name is part of it (`$a-b`); after a
            // space it subtracts when a value ends before it (`$i -1`,
            // `$a - -1`), else it is a sign.
            b'-' => additive && (i == 0 || minus_operates(&bytes[..i])),
            b'*' | b'/' | b'%' => !additive,
            _ => false,
        })
        .collect()
}

/// Whether a `-` after `before` subtracts: it follows a space, a closing
/// bracket or a quote, and a value ends before it.
pub(super) fn minus_operates(before: &[u8]) -> bool {
    let Some(&last) = before.last() else {
        return false;
    };
    if matches!(last, b')' | b']' | b'}' | b'\'' | b'"') {
        return true;
    }
    if last != b' ' {
        return false;
    }
    before
        .iter()
        .rev()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b')' | b']' | b'}' | b'\'' | b'"' | b'_')
        })
}

pub(super) fn calculate(left: Option<&Value>, right: Option<&Value>, op: u8) -> Option<Value> {
    let (left, right) = (left?, right?);
    if op == b'+' && (left.is_string() || right.is_string()) {
        return Some(Value::String(text_of(left) + &text_of(right)));
    }
    if let (Some(a), Some(b)) = (left.as_i64(), right.as_i64()) {
        let whole = match op {
            b'+' => a.checked_add(b),
            b'-' => a.checked_sub(b),
            b'*' => a.checked_mul(b),
            b'/' => a.checked_div(b),
            _ => a.checked_rem(b),
        };
        return whole.map(Value::from);
    }
    let (a, b) = (left.as_f64()?, right.as_f64()?);
    let result = match op {
        b'+' => a + b,
        b'-' => a - b,
        b'*' => a * b,
        b'/' if b != 0.0 => a / b,
        b'%' if b != 0.0 => a % b,
        _ => return None,
    };
    serde_json::Number::from_f64(result).map(Value::Number)
}

/// `a || b`, `a && b`, `!a`, `a == b` (`!=`, `<`, `<=`, `>`, `>=`), or a
/// value's truth.
pub(super) fn condition(text: &str, input: &TemplateInput, scope: &mut Scope) -> bool {
    if !scope.enter() {
        return false;
    }
    let truth = condition_within(text, input, scope);
    scope.leave();
    truth
}

pub(super) fn condition_within(text: &str, input: &TemplateInput, scope: &mut Scope) -> bool {
    let text = text.trim();
    // A plain value (`$foreach.hasNext`): no operator to split at.
    if !text
        .bytes()
        .any(|b| matches!(b, b'|' | b'&' | b'=' | b'<' | b'>' | b'!' | b'('))
    {
        return !matches!(
            operand(text, input, scope),
            None | Some(Value::Null) | Some(Value::Bool(false))
        );
    }
    if let Some(parts) = split_outside(text, "||") {
        return parts.iter().any(|p| condition(p, input, scope));
    }
    if let Some(parts) = split_outside(text, "&&") {
        return parts.iter().all(|p| condition(p, input, scope));
    }
    if let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        if parenthesised(text).is_some_and(|(_, len)| len == text.len()) {
            return condition(inner, input, scope);
        }
    }
    if let Some(negated) = text.strip_prefix('!') {
        if !negated.starts_with('=') {
            return !condition(negated, input, scope);
        }
    }
    for op in ["==", "!=", "<=", ">=", "<", ">"] {
        if let Some(parts) = split_outside(text, op) {
            if let [left, right] = parts.as_slice() {
                let left = operand(left, input, scope).unwrap_or(Value::Null);
                let right = operand(right, input, scope).unwrap_or(Value::Null);
                return compare(&left, &right, op);
            }
        }
    }
    match operand(text, input, scope) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(_) => true,
    }
}

pub(super) fn compare(left: &Value, right: &Value, op: &str) -> bool {
    use std::cmp::Ordering;
    let ordering = match (left.as_f64(), right.as_f64()) {
        (Some(a), Some(b)) => a.partial_cmp(&b),
        _ => Some(text_of(left).cmp(&text_of(right))),
    };
    match (op, ordering) {
        ("==", o) => o == Some(Ordering::Equal),
        ("!=", o) => o != Some(Ordering::Equal),
        ("<", Some(o)) => o == Ordering::Less,
        ("<=", Some(o)) => o != Ordering::Greater,
        (">", Some(o)) => o == Ordering::Greater,
        (">=", Some(o)) => o != Ordering::Less,
        _ => false,
    }
}

pub(super) fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => java_text(other),
    }
}
