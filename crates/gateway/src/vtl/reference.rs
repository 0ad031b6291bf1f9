//! References: what a `$...` names (variables, `$input`, `$context`,
//! `$stageVariables`, `$util`) and the steps after it, walked in place so
//! a method that changes a value changes the variable.

use super::*;

/// The value of a reference (from its `$`): what the template overrode so
/// far (`$context.responseOverride.status`); a variable and the steps
/// after it (members, `[index]`, method calls; see [`call`]);
/// `$input.params()`, `$stageVariables`, `$input.json(...)`,
/// `$input.path(...)` and `$util.parseJson(...)`, with or without steps
/// after them; `$util.fn(...)` of a value only this module knows; or a
/// reference the template module knows, alone or followed by steps
/// (`$context.requestId.length()`).
pub(super) fn reference_value(
    raw: &str,
    input: &TemplateInput,
    scope: &mut Scope,
    operand_use: bool,
) -> Option<Value> {
    let expr = raw.trim_start_matches('$').trim_start_matches('!');
    let expr = expr
        .strip_prefix('{')
        .and_then(|e| e.strip_suffix('}'))
        .unwrap_or(expr);
    let head_len = expr.find(['.', '[', '(']).unwrap_or(expr.len());
    let head = &expr[..head_len];
    if let Some(rest) = expr.strip_prefix("context.") {
        // What the template overrode so far reads back.
        if rest.starts_with("requestOverride.") || rest.starts_with("responseOverride.") {
            // `.requestOverride...`: the steps after `context`.
            let steps = evaluate_steps(&expr["context".len()..], input, scope)?;
            let mut recorded = scope.overrides.clone();
            // Not set yet: empty, as the template module renders it.
            return walk(&mut recorded, &steps, None, scope).or(Some(Value::String(String::new())));
        }
    }
    if let Some((mut value, rest)) = loop_value(head, &expr[head_len..], scope) {
        let steps = evaluate_steps(rest, input, scope)?;
        return walk(&mut value, &steps, None, scope);
    }
    if scope.vars.contains_key(head) {
        let steps = evaluate_steps(&expr[head_len..], input, scope)?;
        let insensitive = scope.header_vars.iter().any(|v| v == head).then_some(0);
        if scope.stopped.is_some() {
            return None;
        }
        // Walked in place, so `$m.get('l').add(1)` changes `$m`.
        let Scope { vars, work, .. } = scope;
        let value = walk_in(vars.get_mut(head)?, &steps, insensitive, work);
        scope.check_budget();
        return value;
    }
    for call in [
        "input.path(",
        "input.json(",
        "util.parseJson(",
        "input.params(",
    ] {
        let Some(args) = expr.strip_prefix(call) else {
            continue;
        };
        // The call's parentheses, from the `(` that ends `call`.
        let (inside, len) = parenthesised(&expr[call.len() - 1..])?;
        let rest = &args[len - 1..];
        let arg = inside.trim().trim_matches(['\'', '"']);
        let mut insensitive = None;
        let mut value = match call {
            // The whole body, as it came: the template module's.
            "input.json(" if arg == "$" && rest.is_empty() => break,
            "input.path(" if arg == "$" && rest.is_empty() && !operand_use => break,
            "input.path(" | "input.json(" => {
                let path = JsonPath::parse(arg)?;
                let json = call == "input.json(";
                let selected = scope.body(input).and_then(|body| path.select(body));
                match (selected, json) {
                    (selected, true) => Value::String(template::json_text(selected.as_ref())),
                    (Some(v), false) => v,
                    (None, false) if rest.is_empty() => Value::String(String::new()),
                    (None, false) => return None,
                }
            }
            "util.parseJson(" => {
                let text = operand(inside, input, scope)?;
                let text = text_of(&text);
                scope.charge(text.len() as u64 / 16);
                serde_json::from_str(&text).ok()?
            }
            // `$input.params('name')`: the template module's.
            _ if !inside.trim().is_empty() && rest.is_empty() => break,
            _ if !inside.trim().is_empty() => {
                let named = format!("$input.params({inside})");
                Value::String(template::reference_value(&named, input)?.into_owned())
            }
            _ => {
                if rest.is_empty() && !operand_use {
                    break;
                }
                insensitive = header_step(rest);
                parameters(input)?
            }
        };
        scope.charge(weight(&value, BUDGET));
        let steps = evaluate_steps(rest, input, scope)?;
        return walk(&mut value, &steps, insensitive, scope);
    }
    if head == "stageVariables" {
        let rest = &expr[head_len..];
        // `$stageVariables.name` alone is the template module's.
        let named = rest.len() > 1
            && rest[1..]
                .bytes()
                .all(|b| b != b'.' && b != b'(' && b != b'[');
        if !named && (operand_use || !rest.is_empty()) {
            let request = input.request?;
            let mut value = Value::Object(
                request
                    .stage
                    .variables
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            );
            let steps = evaluate_steps(rest, input, scope)?;
            return walk(&mut value, &steps, None, scope);
        }
    }
    // `$util.fn(argument)` whose argument only this module knows (a
    // variable, a quoted string with references).
    if let Some((name, args)) = expr.strip_prefix("util.").and_then(|c| c.split_once('(')) {
        let (inside, len) = parenthesised(&expr[expr.len() - args.len() - 1..])?;
        let rest = &args[len - 1..];
        let argument = operand(inside, input, scope)?;
        let text = template::apply_util(name, &text_of(&argument))?;
        if !scope.charge(text.len() as u64 / 16) {
            return None;
        }
        let steps = evaluate_steps(rest, input, scope)?;
        return walk(&mut Value::String(text), &steps, None, scope);
    }
    // A reference the template module reads whole.
    if let Some(text) = template::whole_reference_value(raw, input) {
        return Some(Value::String(text.into_owned()));
    }
    // A reference the template module knows, then steps: the longest such
    // start, among the first few places a step can begin.
    let cuts: Vec<usize> = expr
        .char_indices()
        .filter(|&(_, c)| c == '.' || c == '[')
        .map(|(i, _)| i)
        .take(8)
        .collect();
    for &cut in cuts.iter().rev() {
        let start = format!("${}", &expr[..cut]);
        let mut rest = &expr[cut..];
        let text = if &expr[..cut] == "context.authorizer.claims" && rest.starts_with('[') {
            // `$context.authorizer.claims['cognito:username']`.
            let (inside, len) = bracketed(rest)?;
            rest = &rest[len..];
            let key = text_of(&operand(inside, input, scope)?);
            template::reference_value(&format!("$context.authorizer.claims.{key}"), input)
        } else {
            template::whole_reference_value(&start, input)
        };
        if let Some(text) = text {
            let steps = evaluate_steps(rest, input, scope)?;
            return walk(&mut Value::String(text.into_owned()), &steps, None, scope);
        }
    }
    None
}

/// `$foreach` (`hasNext`, `index`, `count`, `first`, `last`) and
/// `$velocityCount` inside a `#foreach`, unless a variable has the name:
/// the value and the steps left after it (a member named here is read
/// straight from the loop), or `None` when `head` is not the loop's.
fn loop_value<'e>(head: &str, rest: &'e str, scope: &Scope) -> Option<(Value, &'e str)> {
    if !matches!(head, "foreach" | "velocityCount") || scope.vars.contains_key(head) {
        return None;
    }
    let &(index, count) = scope.loops.last()?;
    if head == "velocityCount" {
        return Some((Value::from(index + 1), rest));
    }
    let name_len = rest
        .get(1..)
        .map_or(0, |r| r.find(['.', '[', '(']).unwrap_or(r.len()));
    let name = rest.get(1..1 + name_len);
    let after = &rest[(1 + name_len).min(rest.len())..];
    let members = loop_members(index, count);
    match members.iter().find(|(n, _)| Some(*n) == name) {
        Some((_, value)) if !after.starts_with('(') => Some((value.clone(), after)),
        _ => Some((
            Value::Object(
                members
                    .into_iter()
                    .map(|(n, v)| (n.to_string(), v))
                    .collect(),
            ),
            rest,
        )),
    }
}

/// The members of `$foreach` at item `index` of `count`.
fn loop_members(index: usize, count: usize) -> [(&'static str, Value); 5] {
    [
        ("hasNext", Value::Bool(index + 1 < count)),
        ("index", Value::from(index)),
        ("count", Value::from(index + 1)),
        ("first", Value::Bool(index == 0)),
        ("last", Value::Bool(index + 1 == count)),
    ]
}

/// Which step of `steps` (after `$input.params()`) looks into the header
/// map, whose names are matched without regard to case.
pub(super) fn header_step(steps: &str) -> Option<usize> {
    let compact: String = steps.chars().filter(|c| !c.is_whitespace()).collect();
    [
        ".header",
        ".get('header')",
        ".get(\"header\")",
        "['header']",
    ]
    .iter()
    .any(|p| compact.starts_with(p))
    .then_some(1)
}

/// `$input.params()`: `{path: {...}, querystring: {...}, header: {...}}`,
/// each in the order the request has them (a query parameter's last
/// value; the headers as [`crate::request::MethodRequest::front_end_headers`]
/// presents them, a repeated name's first value). `None` without a method
/// request.
pub(super) fn parameters(input: &TemplateInput) -> Option<Value> {
    let request = input.request?;
    let text = |v: &str| Value::String(v.to_string());
    let path: serde_json::Map<String, Value> = request
        .path_parameter_pairs()
        .map(|(k, v)| (k.to_string(), text(v)))
        .collect();
    let mut query = serde_json::Map::new();
    for (k, v) in request.query_pairs() {
        query.insert(k.to_string(), text(v));
    }
    let mut header = serde_json::Map::new();
    request.visit_front_end_headers(input.context, |k, v| {
        header.entry(k.to_string()).or_insert_with(|| text(v));
    });
    Some(serde_json::json!({
        "path": path,
        "querystring": query,
        "header": header,
    }))
}

/// One step after a value, its arguments evaluated.
#[derive(Debug)]
pub(super) enum Step<'t> {
    /// `.name`.
    Member(&'t str),
    /// `[index]` or `[key]`.
    Index(Value),
    /// `.name(arguments)`.
    Call(&'t str, Vec<Value>),
}

/// The steps in `text` (`.a.get('b')[0].size()`), their arguments
/// evaluated; `None` when `text` is not a run of steps.
pub(super) fn evaluate_steps<'t>(
    mut text: &'t str,
    input: &TemplateInput,
    scope: &mut Scope,
) -> Option<Vec<Step<'t>>> {
    let mut steps = Vec::new();
    while !text.is_empty() {
        if !scope.charge(1) {
            return None;
        }
        if text.starts_with('[') {
            let (inside, len) = bracketed(text)?;
            steps.push(Step::Index(operand(inside, input, scope)?));
            text = &text[len..];
            continue;
        }
        let rest = text.strip_prefix('.')?;
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(rest.len());
        if len == 0 {
            return None;
        }
        let name = &rest[..len];
        let after = &rest[len..];
        match parenthesised(after).filter(|_| after.starts_with('(')) {
            Some((inside, args_len)) => {
                let mut values = Vec::new();
                for argument in arguments(inside) {
                    values.push(operand(argument, input, scope).unwrap_or(Value::Null));
                }
                steps.push(Step::Call(name, values));
                text = &after[args_len..];
            }
            None => {
                steps.push(Step::Member(name));
                text = after;
            }
        }
    }
    Some(steps)
}

/// Where a walk through a value is: still inside the variable (so a call
/// such as `.add(...)` changes it), or at a value made on the way.
pub(super) enum At<'v> {
    Inside(&'v mut Value),
    Made(Value),
}

/// Follows `steps` from `value`, charging the render for what it copies;
/// `None` when a step has no value. The lookup of step `insensitive`
/// ignores case.
pub(super) fn walk(
    value: &mut Value,
    steps: &[Step],
    insensitive: Option<usize>,
    scope: &mut Scope,
) -> Option<Value> {
    if scope.stopped.is_some() {
        return None;
    }
    let found = walk_in(value, steps, insensitive, &mut scope.work);
    scope.check_budget();
    found
}

/// [`walk`] with the render's budget alone (the variables may be borrowed).
pub(super) fn walk_in(
    value: &mut Value,
    steps: &[Step],
    insensitive: Option<usize>,
    work: &mut Work,
) -> Option<Value> {
    let mut at = At::Inside(value);
    for (i, step) in steps.iter().enumerate() {
        let fold = insensitive == Some(i);
        at = match at {
            At::Inside(v) => take_step(v, step, fold, work)?,
            At::Made(mut v) => match take_step(&mut v, step, fold, work)? {
                At::Inside(inner) => At::Made(std::mem::take(inner)),
                At::Made(made) => At::Made(made),
            },
        };
    }
    Some(match at {
        At::Inside(v) => {
            if !work.charge(weight(v, work.budget)) {
                return None;
            }
            v.clone()
        }
        At::Made(v) => v,
    })
}

pub(super) fn take_step<'v>(
    value: &'v mut Value,
    step: &Step,
    fold: bool,
    work: &mut Work,
) -> Option<At<'v>> {
    match step {
        Step::Member(name) => member(value, name, fold).map(At::Inside),
        Step::Index(index) => index_mut(value, index).map(At::Inside),
        // `get` leaves the walk inside the variable, so a change after it
        // (`$m.get('l').add(1)`) lands in the variable.
        Step::Call(name, args) if *name == "get" && args.len() == 1 => {
            let inner = match value {
                Value::Array(_) => index_mut(value, &args[0]),
                _ => member(value, &text_of(&args[0]), fold),
            };
            inner.map(At::Inside)
        }
        Step::Call(name, args) => call(value, name, args, work).map(At::Made),
    }
}

/// `value[index]`: an item of a list, or a member of a map.
pub(super) fn index_mut<'v>(value: &'v mut Value, index: &Value) -> Option<&'v mut Value> {
    match (value, index) {
        (Value::Array(items), _) => {
            let i = index.as_u64().or_else(|| text_of(index).parse().ok())?;
            items.get_mut(usize::try_from(i).ok()?)
        }
        (map @ Value::Object(_), key) => member(map, &text_of(key), false),
        _ => None,
    }
}

/// A map's member; with `fold`, one whose name differs only in case will
/// do (header names).
pub(super) fn member<'v>(value: &'v mut Value, name: &str, fold: bool) -> Option<&'v mut Value> {
    let Value::Object(members) = value else {
        return None;
    };
    if fold && !members.contains_key(name) {
        let key = members
            .keys()
            .find(|k| k.eq_ignore_ascii_case(name))?
            .clone();
        return members.get_mut(&key);
    }
    members.get_mut(name)
}
