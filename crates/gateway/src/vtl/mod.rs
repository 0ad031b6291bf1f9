//! Velocity in mapping templates: directives (`#set`, `#if` / `#elseif` /
//! `#else` / `#end`, `#foreach` with `$foreach.hasNext`, `.index`,
//! `.count`, `.first`, `.last` and `$velocityCount`, `#break`, `##`
//! comments) over variables that hold JSON values
//! (`#set($root = $input.path('$'))`, then `$root.items`, `$item.id`,
//! `$list[0]`); list, range and map literals (`[1, 2]`, `[1..$n]`,
//! `{"k": $v}`); arithmetic (`$i + 1`, and `+` joins text when either side
//! is text); the maps `$input.params()` and `$stageVariables`; the methods
//! of Java's maps, lists and strings that templates call (`keySet()`,
//! `get($k)`, `add($x)`, `toLowerCase()`, `substring(0, 4)`, ...; see
//! [`call`]); and the overrides `#set($context.requestOverride.…)` /
//! `#set($context.responseOverride.…)`. Together these render the API
//! Gateway console's "Method Request passthrough" template.
//!
//! Templates that need none of this never come here: [`crate::template`]
//! renders them on its own, faster path. Here every reference the template
//! module knows (`$context`, `$input`, `$util`, `$stageVariables`) means
//! what it means there. As in Velocity 1.7: a reference without a value is
//! copied through whole (`$!` renders nothing); `#set` of a null value
//! leaves the variable as it was; `#if` is false only for a missing value,
//! null or `false`; the line break right after a directive is not written
//! (the spaces before it are). `$m.get('k').add(1)` changes the list inside
//! `$m`, and `#set($m.k = 1)` / `#set($l[0] = 1)` assign into a map or list;
//! but `#set($a = $b)` copies (a later change through `$a` does not show in
//! `$b`), and so does a `#foreach` variable. Map keys match exactly, except
//! in the header map of `$input.params()` (header names are matched without
//! regard to case, as the template module matches them). `#macro`,
//! `#parse`, `#include` and `#stop` are not supported: they are copied
//! through as text.
//!
//! Limits keep a template (or a request driving it) from taking the
//! server: a `#foreach` visits at most 1,000 items (API Gateway's quota),
//! directives and values nest at most [`MAX_DEPTH`] deep, lists hold at
//! most [`MAX_LIST`] items, and one render does at most [`BUDGET`] units of
//! work (a unit per directive, step and value copied, and per 16 bytes of
//! text made) and writes at most [`MAX_OUTPUT`] bytes. A render that
//! reaches a limit stops there and says so
//! ([`template::Overrides::limit`]); the integration answers 500.

use std::collections::HashMap;

use serde_json::Value;

use crate::jsonpath::{java_text, JsonPath};
use crate::template::{self, TemplateInput};

mod expr;
mod methods;
mod parse;
mod reference;

use expr::*;
use methods::*;
use parse::*;
use reference::*;

/// Whether `template` needs this module: it holds a directive, or a
/// reference the template module would read differently from Velocity
/// (see [`template::needs_interpreter`]).
pub(crate) fn uses_directives(template: &str) -> bool {
    let bytes = template.as_bytes();
    let directive = memchr::memchr(b'#', bytes).is_some()
        && [
            "#set",
            "#if",
            "#foreach",
            "#break",
            "#{set}",
            "#{if}",
            "#{foreach}",
            "#{break}",
            "##",
        ]
        .iter()
        .any(|d| template.contains(d));
    if directive {
        return true;
    }
    // References are skipped whole, so each byte is read about once.
    let mut at = 0;
    while let Some(found) = memchr::memchr(b'$', &bytes[at..]) {
        let dollar = at + found;
        match template::needs_interpreter(&template[dollar..]) {
            Some((_, true)) => return true,
            Some((len, false)) => at = dollar + len,
            None => at = dollar + 1,
        }
    }
    false
}

/// Renders a template that uses directives.
#[cfg(test)]
pub(crate) fn render(template: &str, input: &TemplateInput) -> String {
    render_with_overrides(template, input).0
}

/// Renders a template that uses directives, with what it overrode.
pub(crate) fn render_with_overrides(
    template: &str,
    input: &TemplateInput,
) -> (String, template::Overridden) {
    let (nodes, too_deep) = parsed(template);
    let mut out = String::with_capacity(template.len() + 32);
    let mut scope = Scope::new();
    if too_deep {
        scope.stop("directives nested too deeply");
    }
    run(&nodes, input, &mut scope, &mut out);
    let mut overrides = overrides_of(&scope.overrides);
    overrides.limit = scope.stopped;
    (out, (!overrides.is_empty()).then(|| Box::new(overrides)))
}

/// Templates whose nodes a thread keeps, found by their text.
const PARSED_PER_THREAD: usize = 16;

/// Largest template whose nodes are kept.
const MAX_PARSED_BYTES: usize = 64 * 1024;

thread_local! {
    /// The templates this thread rendered last, read into nodes.
    static PARSED: std::cell::RefCell<Vec<(Box<str>, Parsed)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// A template's nodes, and whether reading it stopped at [`MAX_DEPTH`].
type Parsed = (std::rc::Rc<Vec<Node>>, bool);

/// `template` read into nodes, once per thread for the
/// [`PARSED_PER_THREAD`] templates it read last (the oldest read is
/// dropped first).
fn parsed(template: &str) -> Parsed {
    let cached = PARSED.with(|cache| {
        cache
            .borrow()
            .iter()
            .find(|(text, _)| **text == *template)
            .map(|(_, parsed)| parsed.clone())
    });
    if let Some(found) = cached {
        return found;
    }
    let mut parser = Parser {
        text: template,
        at: 0,
        depth: 0,
        too_deep: false,
    };
    // A stray `#end` or `#else` ends nothing: what follows is still read.
    let mut nodes = Vec::new();
    loop {
        let mut ended = None;
        nodes.extend(parser.block(&mut ended));
        if matches!(ended, Some(Close::Eof) | None) {
            break;
        }
    }
    let parsed = (std::rc::Rc::new(nodes), parser.too_deep);
    if template.len() <= MAX_PARSED_BYTES {
        PARSED.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.len() >= PARSED_PER_THREAD {
                cache.remove(0);
            }
            cache.push((template.into(), parsed.clone()));
        });
    }
    parsed
}

/// Most iterations of one `#foreach` (API Gateway's quota).
const MAX_ITERATIONS: usize = 1_000;

/// Most items in a list a template builds (a range, `add`).
const MAX_LIST: usize = 10_000;

/// Deepest nesting of directives, of values in a directive, and of calls
/// in their arguments.
const MAX_DEPTH: usize = 64;

/// Units of work one render may do.
const BUDGET: u64 = 1_000_000;

/// Most bytes one render writes.
const MAX_OUTPUT: usize = 10 * 1024 * 1024;

/// What a render keeps: its variables, what it overrode, and how much of
/// its limits it has used.
/// A template's variables: a few names, so a list searched in order is
/// faster than hashing each name.
#[derive(Default)]
struct Vars(Vec<(String, Value)>);

impl Vars {
    fn position(&self, name: &str) -> Option<usize> {
        self.0.iter().position(|(n, _)| n == name)
    }

    fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        let at = self.position(name)?;
        Some(&mut self.0[at].1)
    }

    fn insert(&mut self, name: String, value: Value) -> Option<Value> {
        match self.position(&name) {
            Some(at) => Some(std::mem::replace(&mut self.0[at].1, value)),
            None => {
                self.0.push((name, value));
                None
            }
        }
    }

    fn remove(&mut self, name: &str) -> Option<Value> {
        let at = self.position(name)?;
        Some(self.0.swap_remove(at).1)
    }
}

struct Scope {
    vars: Vars,
    /// The `#foreach` loops being run, innermost last: the index of the
    /// item at hand and the items visited in all.
    loops: Vec<(usize, usize)>,
    /// Variables that hold the header map of `$input.params()`.
    header_vars: Vec<String>,
    /// `requestOverride` and `responseOverride`, as set (an object).
    overrides: Value,
    depth: usize,
    /// The limit that stopped the render.
    stopped: Option<&'static str>,
    /// The body, parsed once per render (`None` inside: not JSON).
    body: Option<Option<Value>>,
    work: Work,
}

/// The budget of a render, and the regular expressions it compiled (kept
/// apart from the variables, so a walk inside a variable can use them).
struct Work {
    budget: u64,
    patterns: HashMap<String, Option<regex::Regex>>,
}

impl Work {
    /// Takes `units` from the budget; `false` (the budget is then spent)
    /// when they are not there.
    fn charge(&mut self, units: u64) -> bool {
        if units > self.budget {
            self.budget = 0;
            return false;
        }
        self.budget -= units;
        true
    }

    /// `text` compiled as a regular expression (at most 64 KB of program),
    /// once per render.
    fn pattern(&mut self, text: &str) -> Option<regex::Regex> {
        if let Some(found) = self.patterns.get(text) {
            return found.clone();
        }
        if !self.charge(64 + text.len() as u64) {
            return None;
        }
        let compiled = regex::RegexBuilder::new(text)
            .size_limit(1 << 16)
            .build()
            .ok();
        self.patterns.insert(text.to_string(), compiled.clone());
        compiled
    }
}

impl Scope {
    fn new() -> Scope {
        Scope {
            vars: Vars::default(),
            loops: Vec::new(),
            header_vars: Vec::new(),
            overrides: Value::Null,
            depth: 0,
            stopped: None,
            body: None,
            work: Work {
                budget: BUDGET,
                patterns: HashMap::new(),
            },
        }
    }

    fn stop(&mut self, why: &'static str) {
        self.stopped.get_or_insert(why);
        self.work.budget = 0;
    }

    /// Takes `units` from the budget; `false` (and the render stops) when
    /// they are not there.
    fn charge(&mut self, units: u64) -> bool {
        if self.stopped.is_some() {
            return false;
        }
        if !self.work.charge(units) {
            self.stop("too much work");
            return false;
        }
        true
    }

    /// Notes that a walk spent the budget.
    fn check_budget(&mut self) {
        if self.work.budget == 0 {
            self.stop("too much work");
        }
    }

    /// One level deeper; `false` (and the render stops) past [`MAX_DEPTH`].
    fn enter(&mut self) -> bool {
        if self.depth >= MAX_DEPTH {
            self.stop("values nested too deeply");
            return false;
        }
        self.depth += 1;
        self.charge(1)
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// The request body as JSON (a blank body is `{}`), parsed once.
    fn body(&mut self, input: &TemplateInput) -> Option<&Value> {
        if self.body.is_none() {
            self.charge(input.body.len() as u64 / 16);
            self.body = Some(template::body_json(input.body));
        }
        self.body.as_ref()?.as_ref()
    }
}

/// The work a copy of `value` stands for: a unit per value and per 16
/// bytes of text; counting stops past `cap`.
fn weight(value: &Value, cap: u64) -> u64 {
    let mut total = 0;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        total += 1;
        match v {
            Value::String(s) => total += s.len() as u64 / 16,
            Value::Array(items) => stack.extend(items),
            Value::Object(members) => {
                total += members.len() as u64;
                stack.extend(members.values());
            }
            _ => {}
        }
        if total > cap {
            break;
        }
    }
    total
}

/// Records `#set($context.{kind}Override.{rest} = value)`; `false` when
/// `name` is not an override. Setting one parameter twice (a header's name
/// in any case) is noted, since overrides are final.
fn record_override(name: &str, value: &Value, scope: &mut Scope) -> bool {
    let Some(rest) = name.strip_prefix("context.") else {
        return false;
    };
    let (kind, rest) = match rest.split_once('.') {
        Some(("requestOverride", rest)) => ("requestOverride", rest),
        Some(("responseOverride", rest)) => ("responseOverride", rest),
        _ => return false,
    };
    let (place, key) = match (kind, rest.split_once('.')) {
        ("responseOverride", None) if rest == "status" => ("status", None),
        ("responseOverride", Some(("header", key))) => ("header", Some(key)),
        ("requestOverride", Some((place @ ("header" | "querystring" | "path"), key))) => {
            (place, Some(key))
        }
        // Not a parameter API Gateway lets a template override: ignored.
        _ => return true,
    };
    let text = Value::String(text_of(value));
    if !scope.overrides.is_object() {
        scope.overrides = serde_json::json!({});
    }
    let Value::Object(all) = &mut scope.overrides else {
        return true;
    };
    let Value::Object(section) = all.entry(kind).or_insert_with(|| serde_json::json!({})) else {
        return true;
    };
    let twice = match key {
        None => section.insert(place.to_string(), text).is_some(),
        Some(key) => match section
            .entry(place)
            .or_insert_with(|| serde_json::json!({}))
        {
            Value::Object(values) => {
                let before = values
                    .keys()
                    .any(|k| k == key || (place == "header" && k.eq_ignore_ascii_case(key)));
                values.insert(key.to_string(), text);
                before
            }
            _ => false,
        },
    };
    if twice {
        all.entry("repeated")
            .or_insert_with(|| Value::String(name.to_string()));
    }
    true
}

/// The overrides a render recorded.
fn overrides_of(recorded: &Value) -> template::Overrides {
    let pairs = |v: Option<&Value>| -> Vec<(String, String)> {
        v.and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), text_of(v))).collect())
            .unwrap_or_default()
    };
    let request = recorded.get("requestOverride");
    let response = recorded.get("responseOverride");
    template::Overrides {
        status: response.and_then(|r| r.get("status")).map(text_of),
        response_headers: pairs(response.and_then(|r| r.get("header"))),
        request_headers: pairs(request.and_then(|r| r.get("header"))),
        querystring: pairs(request.and_then(|r| r.get("querystring"))),
        path: pairs(request.and_then(|r| r.get("path"))),
        repeated: recorded.get("repeated").map(text_of),
        limit: None,
    }
}

/// Whether rendering goes on after a node list, leaves the loop, or stops.
#[derive(PartialEq)]
enum Flow {
    Next,
    Break,
    Stop,
}

fn run(nodes: &[Node], input: &TemplateInput, scope: &mut Scope, out: &mut String) -> Flow {
    for node in nodes {
        if !scope.charge(1) {
            return Flow::Stop;
        }
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Ref(raw) => {
                let quiet = raw.starts_with("$!");
                match reference_value(raw, input, scope, false) {
                    Some(Value::Null) | None if quiet => {}
                    Some(Value::Null) | None => out.push_str(raw),
                    Some(Value::String(s)) => out.push_str(&s),
                    Some(other) => out.push_str(&java_text(&other)),
                }
            }
            Node::Set(name, text) => {
                // As in Velocity 1.7, a value that is null or missing is not
                // assigned: the variable keeps what it held.
                match operand(text, input, scope) {
                    None | Some(Value::Null) => {}
                    Some(value) => {
                        if !record_override(name, &value, scope) {
                            note_header_map(name, text, scope);
                            assign(name, value, input, scope);
                        }
                    }
                }
            }
            Node::If(branches, otherwise) => {
                let chosen = branches
                    .iter()
                    .find(|(c, _)| condition(c, input, scope))
                    .map(|(_, body)| body)
                    .or(otherwise.as_ref());
                if let Some(body) = chosen {
                    match run(body, input, scope, out) {
                        Flow::Next => {}
                        flow => return flow,
                    }
                }
            }
            Node::Foreach(var, list, body) => {
                let items = match operand(list, input, scope) {
                    Some(Value::Array(items)) => items,
                    // A map is iterated over its values, as in Velocity.
                    Some(Value::Object(members)) => members.into_iter().map(|(_, v)| v).collect(),
                    _ => Vec::new(),
                };
                // The loop's variable is put back afterwards, and
                // `$foreach` means the innermost loop: an outer loop's
                // `$foreach.hasNext` after an inner loop is the outer one's.
                let saved_var = scope.vars.remove(var);
                // Variables named like the loop's own are set aside while it
                // runs (Velocity writes over them and puts them back).
                let saved_loop = scope.vars.remove("foreach");
                let saved_count = scope.vars.remove("velocityCount");
                let count = items.len().min(MAX_ITERATIONS);
                scope.loops.push((0, count));
                let mut flow = Flow::Next;
                for (index, item) in items.into_iter().take(count).enumerate() {
                    scope.vars.insert(var.clone(), item);
                    // The counter is the loop's again on each item.
                    scope.vars.remove("velocityCount");
                    if let Some(current) = scope.loops.last_mut() {
                        current.0 = index;
                    }
                    match run(body, input, scope, out) {
                        Flow::Next => {}
                        Flow::Break => break,
                        Flow::Stop => {
                            flow = Flow::Stop;
                            break;
                        }
                    }
                }
                scope.loops.pop();
                match saved_var {
                    Some(value) => scope.vars.insert(var.clone(), value),
                    None => scope.vars.remove(var),
                };
                match saved_count {
                    Some(value) => scope.vars.insert("velocityCount".into(), value),
                    None => scope.vars.remove("velocityCount"),
                };
                // A `$foreach` the body set stays, as in Velocity, unless one
                // was set aside.
                if let Some(value) = saved_loop {
                    scope.vars.insert("foreach".into(), value);
                }
                if flow == Flow::Stop {
                    return flow;
                }
            }
            Node::Break => return Flow::Break,
        }
        if out.len() > MAX_OUTPUT {
            scope.stop("output too large");
            return Flow::Stop;
        }
    }
    if scope.stopped.is_some() {
        Flow::Stop
    } else {
        Flow::Next
    }
}

/// Notes whether `#set($name = text)` makes `$name` the header map of
/// `$input.params()`, whose names are matched without regard to case.
fn note_header_map(name: &str, text: &str, scope: &mut Scope) {
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let is_headers = matches!(
        text.as_str(),
        "$input.params().header"
            | "$input.params().get('header')"
            | "$input.params().get(\"header\")"
            | "$input.params()['header']"
    );
    scope.header_vars.retain(|v| v != name);
    if is_headers {
        scope.header_vars.push(name.to_string());
    }
}

/// `#set($name = value)`: a variable, or a member or item inside one
/// (`#set($m.k = 1)`, `#set($l[0] = 1)`; an item past the end is not set).
fn assign(name: &str, value: Value, input: &TemplateInput, scope: &mut Scope) {
    let head_len = name.find(['.', '[']).unwrap_or(name.len());
    let (head, rest) = name.split_at(head_len);
    if rest.is_empty() {
        scope.vars.insert(head.to_string(), value);
        return;
    }
    let Some(steps) = evaluate_steps(rest, input, scope) else {
        return;
    };
    let Some((last, path)) = steps.split_last() else {
        return;
    };
    let Some(mut at) = scope.vars.get_mut(head) else {
        return;
    };
    for step in path {
        at = match step {
            Step::Member(name) => match member(at, name, false) {
                Some(inner) => inner,
                None => return,
            },
            Step::Index(index) => match index_mut(at, index) {
                Some(inner) => inner,
                None => return,
            },
            Step::Call(..) => return,
        };
    }
    match (at, last) {
        (Value::Object(members), Step::Member(key)) => {
            members.insert(key.to_string(), value);
        }
        (Value::Object(members), Step::Index(key)) => {
            members.insert(text_of(key), value);
        }
        (Value::Array(items), Step::Index(Value::Number(n))) => {
            if let Some(slot) = n
                .as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| items.get_mut(i))
            {
                *slot = value;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
