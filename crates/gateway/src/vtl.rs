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
        let rest = &template[dollar..];
        if template::needs_interpreter(rest) {
            return true;
        }
        at = dollar + template::reference_len(rest).unwrap_or(1);
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
) -> (String, template::Overrides) {
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
    let mut out = String::with_capacity(template.len() + 32);
    let mut scope = Scope::new();
    if parser.too_deep {
        scope.stop("directives nested too deeply");
    }
    run(&nodes, input, &mut scope, &mut out);
    let mut overrides = overrides_of(&scope.overrides);
    overrides.limit = scope.stopped;
    (out, overrides)
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
struct Scope {
    vars: HashMap<String, Value>,
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
            vars: HashMap::new(),
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
            let parsed = if input.body.iter().all(u8::is_ascii_whitespace) {
                Some(Value::Object(Default::default()))
            } else {
                serde_json::from_slice(input.body).ok()
            };
            self.body = Some(parsed);
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

#[derive(Debug)]
enum Node {
    Text(String),
    /// A reference, as written (from its `$`).
    Ref(String),
    Set(String, String),
    If(Vec<(String, Vec<Node>)>, Option<Vec<Node>>),
    Foreach(String, String, Vec<Node>),
    /// `#break`: leaves the innermost `#foreach` (outside one, the
    /// template).
    Break,
}

/// How a block ended.
#[derive(Debug, PartialEq)]
enum Close {
    /// The text ran out.
    Eof,
    /// `#end`.
    End,
    /// `#else`.
    Else,
    /// `#elseif(condition)`.
    ElseIf(String),
}

struct Parser<'t> {
    text: &'t str,
    at: usize,
    /// How many blocks the one being read is inside.
    depth: usize,
    /// Whether blocks nested deeper than [`MAX_DEPTH`] cut the reading short.
    too_deep: bool,
}

impl Parser<'_> {
    /// Nodes up to the end of the text or of the block; `ended` says which.
    fn block(&mut self, ended: &mut Option<Close>) -> Vec<Node> {
        let mut nodes = Vec::new();
        let mut text = String::new();
        loop {
            let rest = &self.text[self.at..];
            let Some(next) = rest.find(['#', '$']) else {
                text.push_str(rest);
                self.at = self.text.len();
                break;
            };
            text.push_str(&rest[..next]);
            self.at += next;
            let rest = &self.text[self.at..];
            if rest.starts_with('$') {
                match reference_len(rest) {
                    Some(len) => {
                        flush(&mut text, &mut nodes);
                        nodes.push(Node::Ref(rest[..len].to_string()));
                        self.at += len;
                    }
                    None => {
                        text.push('$');
                        self.at += 1;
                    }
                }
                continue;
            }
            // A directive, a comment, or a plain `#`.
            if rest.starts_with("##") {
                let end = rest.find('\n').map_or(rest.len(), |n| n + 1);
                self.at += end;
                continue;
            }
            // `#name` or `#{name}`.
            let (word, word_len) = match rest[1..].strip_prefix('{') {
                Some(braced) => match braced.find('}') {
                    Some(end) => (&braced[..end], end + 2),
                    None => ("", 0),
                },
                None => {
                    let len = rest[1..]
                        .find(|c: char| !c.is_ascii_alphabetic())
                        .unwrap_or(rest.len() - 1);
                    (&rest[1..1 + len], len)
                }
            };
            let after = self.at + 1 + word_len;
            match word {
                "set" | "if" | "elseif" | "foreach" => {
                    let Some((args, len)) = parenthesised(&self.text[after..]) else {
                        text.push('#');
                        self.at += 1;
                        continue;
                    };
                    flush(&mut text, &mut nodes);
                    if matches!(word, "if" | "foreach") && self.depth >= MAX_DEPTH {
                        // Deeper than any real template: reading stops, and
                        // the render reports a limit.
                        self.too_deep = true;
                        self.at = self.text.len();
                        *ended = Some(Close::Eof);
                        return nodes;
                    }
                    self.at = after + len;
                    self.skip_line_break();
                    match word {
                        "set" => {
                            if let Some((name, value)) = args.split_once('=') {
                                let name = name.trim().trim_start_matches('$');
                                let name = name.trim_matches(['{', '}']).to_string();
                                nodes.push(Node::Set(name, value.trim().to_string()));
                            }
                        }
                        "if" => nodes.push(self.conditional(args.to_string())),
                        "elseif" => {
                            *ended = Some(Close::ElseIf(args.to_string()));
                            return nodes;
                        }
                        _ => {
                            let (var, list) = args.split_once(" in ").unwrap_or((args, ""));
                            let var = var.trim().trim_start_matches('$').to_string();
                            let mut inner = None;
                            self.depth += 1;
                            let body = self.block(&mut inner);
                            self.depth -= 1;
                            nodes.push(Node::Foreach(var, list.trim().to_string(), body));
                        }
                    }
                }
                "break" => {
                    flush(&mut text, &mut nodes);
                    // `#break($foreach)` names the loop it leaves; only the
                    // innermost can be left here.
                    self.at = after + parenthesised(&self.text[after..]).map_or(0, |(_, len)| len);
                    self.skip_line_break();
                    nodes.push(Node::Break);
                }
                "else" | "end" => {
                    flush(&mut text, &mut nodes);
                    self.at = after;
                    self.skip_line_break();
                    *ended = Some(if word == "else" {
                        Close::Else
                    } else {
                        Close::End
                    });
                    return nodes;
                }
                _ => {
                    text.push('#');
                    self.at += 1;
                }
            }
        }
        flush(&mut text, &mut nodes);
        *ended = Some(Close::Eof);
        nodes
    }

    /// An `#if` whose condition is `condition`, read up to its `#end`.
    fn conditional(&mut self, condition: String) -> Node {
        let mut branches = Vec::new();
        let mut otherwise = None;
        let mut condition = Some(condition);
        loop {
            let mut ended = None;
            self.depth += 1;
            let body = self.block(&mut ended);
            self.depth -= 1;
            match condition.take() {
                Some(c) => branches.push((c, body)),
                None => otherwise = Some(body),
            }
            match ended {
                Some(Close::ElseIf(c)) => condition = Some(c),
                Some(Close::Else) if otherwise.is_none() => {}
                _ => break,
            }
        }
        Node::If(branches, otherwise)
    }

    fn skip_line_break(&mut self) {
        let rest = &self.text[self.at..];
        if rest.starts_with("\r\n") {
            self.at += 2;
        } else if rest.starts_with('\n') {
            self.at += 1;
        }
    }
}

/// The bytes of the reference at the start of `s`, with Velocity 1.7's
/// index notation after it (`$list[0]`, `$rows[1].name`).
fn reference_len(s: &str) -> Option<usize> {
    let mut len = template::reference_len(s)?;
    if s[..len].ends_with('}') {
        return Some(len);
    }
    loop {
        let rest = &s[len..];
        if rest.starts_with('[') {
            let Some(end) = rest.find(']') else { break };
            len += end + 1;
        } else if rest.starts_with('.') && rest[1..].starts_with(|c: char| c.is_ascii_alphabetic())
        {
            match template::reference_len(&format!("${}", &rest[1..])) {
                // `$name` is as long as `.name`.
                Some(more) => len += more,
                None => break,
            }
        } else {
            break;
        }
    }
    Some(len)
}

fn flush(text: &mut String, nodes: &mut Vec<Node>) {
    if !text.is_empty() {
        nodes.push(Node::Text(std::mem::take(text)));
    }
}

/// The inside of the parenthesised group at the start of `s` (after
/// optional spaces) and the bytes it takes.
fn parenthesised(s: &str) -> Option<(&str, usize)> {
    let open = s.len() - s.trim_start_matches(' ').len();
    if !s[open..].starts_with('(') {
        return None;
    }
    let mut depth = 0;
    let mut quote = None;
    for (i, c) in s[open..].char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth -= 1;
                if depth == 0 {
                    return Some((&s[open + 1..open + i], open + i + 1));
                }
            }
            _ => {}
        }
    }
    None
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
                // The loop's variable and `$foreach` are put back
                // afterwards, so an outer loop's `$foreach.hasNext` still
                // means the outer loop after an inner one.
                let saved_var = scope.vars.remove(var);
                let saved_loop = scope.vars.remove("foreach");
                let saved_count = scope.vars.remove("velocityCount");
                let count = items.len().min(MAX_ITERATIONS);
                let mut flow = Flow::Next;
                for (index, item) in items.into_iter().take(count).enumerate() {
                    scope.vars.insert(var.clone(), item);
                    scope.vars.insert(
                        "foreach".into(),
                        serde_json::json!({
                            "hasNext": index + 1 < count,
                            "index": index,
                            "count": index + 1,
                            "first": index == 0,
                            "last": index + 1 == count,
                        }),
                    );
                    scope
                        .vars
                        .insert("velocityCount".into(), Value::from(index + 1));
                    match run(body, input, scope, out) {
                        Flow::Next => {}
                        Flow::Break => break,
                        Flow::Stop => {
                            flow = Flow::Stop;
                            break;
                        }
                    }
                }
                for (name, saved) in [
                    (var.as_str(), saved_var),
                    ("foreach", saved_loop),
                    ("velocityCount", saved_count),
                ] {
                    match saved {
                        Some(value) => scope.vars.insert(name.to_string(), value),
                        None => scope.vars.remove(name),
                    };
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
            members.insert(key.clone(), value);
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

/// A value written in a directive: a reference, a quoted string (`"..."`
/// with its references rendered), a number, `true` / `false` / `null`, a
/// list (`[1, $a]`), a range (`[1..$n]`), a map (`{"k": $v}`), or
/// arithmetic (`$i + 1`, `-`, `*`, `/`, `%`; whole numbers stay whole,
/// division of whole numbers drops the remainder as in Java, and `+` joins
/// text when either side is text, as Velocity does).
fn operand(text: &str, input: &TemplateInput, scope: &mut Scope) -> Option<Value> {
    if !scope.enter() {
        return None;
    }
    let value = operand_within(text, input, scope);
    scope.leave();
    value
}

fn operand_within(text: &str, input: &TemplateInput, scope: &mut Scope) -> Option<Value> {
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
fn arithmetic(text: &str, input: &TemplateInput, scope: &mut Scope) -> Option<Option<Value>> {
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
fn operators(text: &str, additive: bool) -> Vec<(usize, u8)> {
    let bytes = text.as_bytes();
    let mut depth = 0i32;
    let mut quote = None;
    let mut found = Vec::new();
    for (i, &c) in bytes.iter().enumerate() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' => quote = Some(c),
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => depth -= 1,
                b'+' if additive && depth == 0 => found.push((i, c)),
                // A `-` right after a name is part of it (`$a-b`); after a
                // space it subtracts when a value ends before it (`$i -1`,
                // `$a - -1`), else it is a sign.
                b'-' if additive && depth == 0 && (i == 0 || minus_operates(&bytes[..i])) => {
                    found.push((i, c))
                }
                b'*' | b'/' | b'%' if !additive && depth == 0 => found.push((i, c)),
                _ => {}
            },
        }
    }
    found
}

/// Whether a `-` after `before` subtracts: it follows a space, a closing
/// bracket or a quote, and a value ends before it.
fn minus_operates(before: &[u8]) -> bool {
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

fn calculate(left: Option<&Value>, right: Option<&Value>, op: u8) -> Option<Value> {
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

/// The comma-separated items of an argument list or literal (none when it
/// is blank).
fn arguments(inner: &str) -> Vec<&str> {
    if inner.trim().is_empty() {
        return Vec::new();
    }
    split_outside(inner, ",").unwrap_or_else(|| vec![inner])
}

/// `a || b`, `a && b`, `!a`, `a == b` (`!=`, `<`, `<=`, `>`, `>=`), or a
/// value's truth.
fn condition(text: &str, input: &TemplateInput, scope: &mut Scope) -> bool {
    if !scope.enter() {
        return false;
    }
    let truth = condition_within(text, input, scope);
    scope.leave();
    truth
}

fn condition_within(text: &str, input: &TemplateInput, scope: &mut Scope) -> bool {
    let text = text.trim();
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

fn compare(left: &Value, right: &Value, op: &str) -> bool {
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

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => java_text(other),
    }
}

/// `text` split at every `separator` outside quotes and parentheses, or
/// `None` when there is none.
fn split_outside<'a>(text: &'a str, separator: &str) -> Option<Vec<&'a str>> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut quote = None;
    let mut start = 0;
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' => quote = Some(c),
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => depth -= 1,
                // Bytes compared, so a multi-byte character is never cut.
                _ if depth == 0 && bytes[i..].starts_with(separator.as_bytes()) => {
                    // `<` is not the start of `<=` here, nor `!` of `!=`.
                    let longer = matches!(separator, "<" | ">") && bytes[i + 1..].starts_with(b"=");
                    if !longer {
                        parts.push(&text[start..i]);
                        i += separator.len();
                        start = i;
                        continue;
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    if parts.is_empty() {
        return None;
    }
    parts.push(&text[start..]);
    Some(parts)
}

/// The value of a reference (from its `$`): what the template overrode so
/// far (`$context.responseOverride.status`); a variable and the steps
/// after it (members, `[index]`, method calls; see [`call`]);
/// `$input.params()`, `$stageVariables`, `$input.json(...)`,
/// `$input.path(...)` and `$util.parseJson(...)`, with or without steps
/// after them; `$util.fn(...)` of a value only this module knows; or a
/// reference the template module knows, alone or followed by steps
/// (`$context.requestId.length()`).
fn reference_value(
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
            let steps = evaluate_steps(&format!(".{rest}"), input, scope)?;
            let mut recorded = scope.overrides.clone();
            // Not set yet: empty, as the template module renders it.
            return walk(&mut recorded, &steps, None, scope).or(Some(Value::String(String::new())));
        }
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
        let call_text = format!("({args}");
        let (inside, len) = parenthesised(&call_text)?;
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
                    (Some(v), true) => Value::String(v.to_string()),
                    (Some(v), false) => v,
                    (None, true) => Value::String("\"\"".into()),
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
        let call_text = format!("({args}");
        let (inside, len) = parenthesised(&call_text)?;
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
    if template::reference_len(raw) == Some(raw.len()) {
        if let Some(text) = template::reference_value(raw, input) {
            return Some(Value::String(text.into_owned()));
        }
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
        if template::reference_len(&start) != Some(start.len()) {
            continue;
        }
        let mut rest = &expr[cut..];
        let text = if &expr[..cut] == "context.authorizer.claims" && rest.starts_with('[') {
            // `$context.authorizer.claims['cognito:username']`.
            let (inside, len) = bracketed(rest)?;
            rest = &rest[len..];
            let key = text_of(&operand(inside, input, scope)?);
            template::reference_value(&format!("$context.authorizer.claims.{key}"), input)
        } else {
            template::reference_value(&start, input)
        };
        if let Some(text) = text {
            let steps = evaluate_steps(rest, input, scope)?;
            return walk(&mut Value::String(text.into_owned()), &steps, None, scope);
        }
    }
    None
}

/// Which step of `steps` (after `$input.params()`) looks into the header
/// map, whose names are matched without regard to case.
fn header_step(steps: &str) -> Option<usize> {
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
fn parameters(input: &TemplateInput) -> Option<Value> {
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
enum Step {
    /// `.name`.
    Member(String),
    /// `[index]` or `[key]`.
    Index(Value),
    /// `.name(arguments)`.
    Call(String, Vec<Value>),
}

/// The steps in `text` (`.a.get('b')[0].size()`), their arguments
/// evaluated; `None` when `text` is not a run of steps.
fn evaluate_steps(mut text: &str, input: &TemplateInput, scope: &mut Scope) -> Option<Vec<Step>> {
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
        let name = rest[..len].to_string();
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

/// The inside of the `[...]` at the start of `s` and the bytes it takes.
fn bracketed(s: &str) -> Option<(&str, usize)> {
    let mut depth = 0;
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') => {
                depth -= 1;
                if depth == 0 {
                    return Some((&s[1..i], i + 1));
                }
            }
            _ => {}
        }
    }
    None
}

/// Where a walk through a value is: still inside the variable (so a call
/// such as `.add(...)` changes it), or at a value made on the way.
enum At<'v> {
    Inside(&'v mut Value),
    Made(Value),
}

/// Follows `steps` from `value`, charging the render for what it copies;
/// `None` when a step has no value. The lookup of step `insensitive`
/// ignores case.
fn walk(
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
fn walk_in(
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

fn take_step<'v>(value: &'v mut Value, step: &Step, fold: bool, work: &mut Work) -> Option<At<'v>> {
    match step {
        Step::Member(name) => member(value, name, fold).map(At::Inside),
        Step::Index(index) => index_mut(value, index).map(At::Inside),
        // `get` leaves the walk inside the variable, so a change after it
        // (`$m.get('l').add(1)`) lands in the variable.
        Step::Call(name, args) if name == "get" && args.len() == 1 => {
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
fn index_mut<'v>(value: &'v mut Value, index: &Value) -> Option<&'v mut Value> {
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
fn member<'v>(value: &'v mut Value, name: &str, fold: bool) -> Option<&'v mut Value> {
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
fn call(value: &mut Value, name: &str, args: &[Value], work: &mut Work) -> Option<Value> {
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

fn string_call(s: &str, name: &str, args: &[Value]) -> Option<Value> {
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
fn pattern_call(s: &str, name: &str, args: &[Value], work: &mut Work) -> Option<Option<Value>> {
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
fn java_replacement(java: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::RequestContext;

    fn rendered(template: &str, body: &[u8]) -> String {
        let ctx = RequestContext {
            request_id: "r-1".into(),
            ..Default::default()
        };
        let input = TemplateInput {
            context: &ctx,
            request: None,
            body,
        };
        render(template, &input)
    }

    /// The limit a render of `template` reached.
    fn limit_of(template: &str, body: &[u8]) -> Option<&'static str> {
        let ctx = RequestContext::default();
        let input = TemplateInput {
            context: &ctx,
            request: None,
            body,
        };
        render_with_overrides(template, &input).1.limit
    }

    fn method_request() -> crate::request::MethodRequest {
        let mut stage = gatewatch_model::Stage::new("dev");
        stage.variables.insert("color".into(), "blue".into());
        stage.variables.insert("size".into(), "L".into());
        let mut headers = http::HeaderMap::new();
        headers.insert("host", "api.example.test:8080".parse().unwrap());
        headers.insert("content-type", "application/json".parse().unwrap());
        headers.insert("x-note", "say \"hi\"".parse().unwrap());
        crate::request::MethodRequest {
            method: http::Method::POST,
            path_parameters: vec![("id".into(), "7".into())],
            query: vec![("q".into(), "a b".into()), ("page".into(), "2".into())],
            raw_query: Some("q=a+b&page=2".into()),
            headers,
            body: bytes::Bytes::from_static(br#"{"n": 3}"#),
            stage: std::sync::Arc::new(stage),
            greedy_parameter: None,
        }
    }

    fn context() -> RequestContext {
        let mut ctx = RequestContext {
            request_id: "r-1".into(),
            http_method: "POST".into(),
            resource_path: Some("/items/{id}".into()),
            stage: "dev".into(),
            ..Default::default()
        };
        ctx.identity.source_ip = "192.0.2.9".into();
        ctx
    }

    fn rendered_with_request(template: &str) -> String {
        let ctx = context();
        let request = method_request();
        let input = TemplateInput {
            context: &ctx,
            request: Some(&request),
            body: &request.body,
        };
        crate::template::render(template, &input)
    }

    /// The console's "Method Request passthrough" template: every
    /// parameter, stage variable and context value into one JSON body.
    #[test]
    fn method_request_passthrough_template() {
        let template = r#"##  See https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html
##  This template will pass through all parameters including path, querystring, header, stage variables, and context through to the integration endpoint via the body/payload
#set($allParams = $input.params())
{
"body-json" : $input.json('$'),
"params" : {
#foreach($type in $allParams.keySet())
    #set($params = $allParams.get($type))
"$type" : {
    #foreach($paramName in $params.keySet())
    "$paramName" : "$util.escapeJavaScript($params.get($paramName))"
        #if($foreach.hasNext),#end
    #end
}
    #if($foreach.hasNext),#end
#end
},
"stage-variables" : {
#foreach($key in $stageVariables.keySet())
"$key" : "$util.escapeJavaScript($stageVariables.get($key))"
    #if($foreach.hasNext),#end
#end
},
"context" : {
    "http-method" : "$context.httpMethod",
    "request-id" : "$context.requestId",
    "resource-path" : "$context.resourcePath",
    "source-ip" : "$context.identity.sourceIp",
    "stage" : "$context.stage"
    }
}
"#;
        let out = rendered_with_request(template);
        let json: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert_eq!(json["body-json"], serde_json::json!({"n": 3}));
        assert_eq!(json["params"]["path"], serde_json::json!({"id": "7"}));
        assert_eq!(
            json["params"]["querystring"],
            serde_json::json!({"q": "a b", "page": "2"})
        );
        let header = &json["params"]["header"];
        assert_eq!(header["Host"], "api.example.test:8080");
        assert_eq!(header["content-type"], "application/json");
        assert_eq!(header["x-note"], "say \"hi\"");
        assert_eq!(header["X-Forwarded-For"], "192.0.2.9");
        assert_eq!(
            json["stage-variables"],
            serde_json::json!({"color": "blue", "size": "L"})
        );
        assert_eq!(json["context"]["resource-path"], "/items/{id}");
        assert_eq!(json["context"]["source-ip"], "192.0.2.9");
        assert_eq!(json["context"]["request-id"], "r-1");
    }

    #[test]
    fn java_methods_on_maps_lists_and_strings() {
        let t = "$input.params().header.get('Content-Type')|$input.params().querystring.size()|$stageVariables.get('color').toUpperCase()|$context.requestId.length()|$input.params('q').replace(' ', '_')|$stageVariables.keySet()|$input.params().path|$context.resourcePath.substring(1, 6)";
        assert_eq!(
            rendered_with_request(t),
            "application/json|2|BLUE|3|a_b|[color, size]|{id=7}|items"
        );
        let t = "#set($s = 'a,b,,c,,')#foreach($p in $s.split(','))[$p]#end|$s.indexOf('b')|$s.lastIndexOf(',')|$s.contains('b,')|$s.startsWith('a')|$s.replaceAll('[,]+', ';')|$s.matches('[a-c,]+')|$s.charAt(2)|$s.trim().isEmpty()|$s.nope()|$s.equals('a,b,,c,,')";
        assert_eq!(
            rendered(t, b"{}"),
            "[a][b][][c]|2|7|true|true|a;b;c;|true|b|false|$s.nope()|true"
        );
    }

    #[test]
    fn lists_and_maps_change_through_their_methods() {
        let t = "#set($list = [])#set($m = {})#foreach($i in [1..4])#set($ignore = $list.add($i * 10))#end#set($ignore = $m.put('k', $list.size()))$list|$m|$m.containsKey('k')|$list.contains(20)|$list.get(3)|$m.put('k', 'v')|$m.k|#foreach($e in $m.entrySet())$e.key=$e.value#end";
        assert_eq!(
            rendered(t, b"{}"),
            "[10, 20, 30, 40]|{k=4}|true|true|40|4|v|k=v"
        );
        // `put` of a new key returns null: the reference is copied through.
        assert_eq!(
            rendered("#set($m = {})$m.put('a', 1)|$!m.put('b', 2)|$m", b""),
            "$m.put('a', 1)||{a=1, b=2}"
        );
        assert_eq!(
            rendered(
                "#set($m = {'a': [1, 2], \"b\": {'c': true}})$m.a[1]|$m.b.c|$m['a']",
                b""
            ),
            "2|true|[1, 2]"
        );
    }

    #[test]
    fn arithmetic_and_ranges() {
        let t = "#set($i = 7)#set($j = $i + 1)#set($k = $j * 2 - 3)$j|$k|#set($q = $i / 2)$q|#set($r = $i % 4)$r|#set($f = 1.5 * 2)$f|#set($n = $i - 10)$n|#foreach($x in [3..1])$x#end|#if($i + 1 == 8)eight#end";
        assert_eq!(rendered(t, b""), "8|13|3|3|3.0|-3|321|eight");
        // Velocity 1.7: a null or failed value is not assigned.
        let t = "#set($i = 5)#set($j = $i -1)#set($k = ($i)-1)#set($l = $i - -1)$j|$k|$l";
        assert_eq!(rendered(t, b""), "4|4|6");
        let t = "#set($a = (1 + 2) * 3)#set($b = -1 + $a)#set($c = $a - -1)#set($d = ((($a))))$a|$b|$c|$d|#set($e = 2 * 3 + 4 * 5 - 6 / 2)$e";
        assert_eq!(rendered(t, b""), "9|8|10|9|23");
        let deep = format!("#set($a = {}1{})$a", "(".repeat(100), ")".repeat(100));
        assert_eq!(limit_of(&deep, b""), Some("values nested too deeply"));
        let long = format!("#set($a = 0{})$a", " + 1".repeat(5_000));
        assert_eq!(rendered(&long, b""), "5000");
        let t = "#set($a = 1)#set($a = $nope)#set($a = 1 / 0)#set($a = 9223372036854775807 + 1)$a";
        assert_eq!(rendered(t, b""), "1");
        // `+` joins text when either side is text (Velocity 1.7).
        let t = "#set($a = 'x' + 1)#set($b = 1 + \"$a\")$a|$b";
        assert_eq!(rendered(t, b""), "x1|1x1");
    }

    #[test]
    fn loops_break_and_restore_their_variables() {
        let t = "#foreach($a in [1, 2])#foreach($b in ['x', 'y'])$a$b#end#if($foreach.hasNext),#end#end";
        assert_eq!(rendered(t, b""), "1x1y,2x2y");
        let t = "#set($a = 'kept')#foreach($a in [1, 2, 3])#if($a == 3)#break#end$a:$velocityCount #end$a";
        assert_eq!(rendered(t, b""), "1:1 2:2 kept");
    }

    /// Hostile templates and requests reach a limit instead of the stack,
    /// the memory or minutes of CPU (each of these overflowed, or ran for
    /// seconds to minutes, before the limits).
    #[test]
    fn limits_stop_runaway_templates() {
        let n = 1_000;
        let deep = [
            format!("#set($a = {}1{})", "[".repeat(n), "]".repeat(n)),
            format!("#set($a = {}1{})", "{'k': ".repeat(n), "}".repeat(n)),
            format!("#set($m = {{}}){}'k'{}", "$m.get(".repeat(n), ")".repeat(n)),
            format!("{}x{}", "#if(true)".repeat(n), "#end".repeat(n)),
            format!("#if({}true)x#end", "!".repeat(10 * n)),
            format!("#if({}true{})x#end", "(".repeat(10 * n), ")".repeat(10 * n)),
            format!(
                "{}{}",
                "$context.requestId.concat(".repeat(800),
                ")".repeat(800)
            ),
        ];
        for t in &deep {
            assert!(limit_of(t, b"{}").is_some(), "{}", &t[..40]);
        }
        let blowups = [
            "#set($l = [])#foreach($i in [1..40])#set($x = $l.add($l))#end",
            "#set($s = 'ab')#foreach($i in [1..40])#set($s = \"$s$s\")#end",
            "#set($s = 'ab')#foreach($i in [1..40])#set($s = $s.replace('', 'xy'))#end",
            "#foreach($i in [1..1000])#foreach($j in [1..1000])x#end#end",
        ];
        for t in blowups {
            assert!(limit_of(t, b"{}").is_some(), "{t}");
        }
        // A client's large body is parsed once per render, and a loop over
        // it stops at 1,000 items.
        let items: Vec<String> = (0..5_000).map(|i| format!("{{\"v\": {i}}}")).collect();
        let body = format!("{{\"x\": 1, \"items\": [{}]}}", items.join(","));
        let t = "#foreach($i in $input.path('$.items'))$input.json('$.x')#end";
        assert_eq!(rendered(t, body.as_bytes()), "1".repeat(1_000));
        // A stray parenthesis costs a bounded scan per reference.
        let stray = format!("$a({}", "$b.c ".repeat(20_000));
        assert!(!uses_directives(&stray));
    }

    #[test]
    fn values_change_in_place_and_keys_match_exactly() {
        let t = "#set($m = {'l': []})#set($x = $m.get('l').add(1))#set($m.k = 'v')#set($m['n'] = 2)#set($l = [1, 2])#set($l[0] = 5)#set($l[9] = 0)$m|$l";
        assert_eq!(rendered(t, b""), "{l=[1], k=v, n=2}|[5, 2]");
        let t = "#set($m = {'a': 1, 'b': 2, 'c': 3})$m.remove('a')|$m|$m.A|$m.get('A')|$input.path('$').Name";
        assert_eq!(
            rendered(t, br#"{"name": "Ann"}"#),
            "1|{b=2, c=3}|$m.A|$m.get('A')|$input.path('$').Name"
        );
        let t = "#set($h = $input.params().header)$h.get('CONTENT-TYPE')|$input.params().header.get('HOST')|$input.params().get('header').get('X-NOTE')|$input.params().querystring.get('PAGE')|$input.params().querystring.get('page')";
        assert_eq!(
            rendered_with_request(t),
            "application/json|api.example.test:8080|say \"hi\"|$input.params().querystring.get('PAGE')|2"
        );
        let t = "#set($s = 'a.b')$s.replaceAll('(a)', '$1x')|$s.replaceAll('a', '\\$')|#set($c = ',,,')$c.split(',').size()|#set($w = 'abc')$w.split('').size()|$w.split('x').size()";
        assert_eq!(rendered(t, b""), "ax.b|$.b|0|3|1");
        // Overrides live apart from variables.
        let t = "#set($context.responseOverride.status = 201)#set($context.overrides = 'x')$context.responseOverride.status";
        assert_eq!(rendered(t, b""), "201");
        // An index after a known reference is Velocity's: a string has no
        // items, so the reference is copied through.
        assert_eq!(
            rendered("$context.requestId[0]|$context.requestId", b""),
            "$context.requestId[0]|r-1"
        );
    }

    #[test]
    fn overrides_are_recorded_not_rendered() {
        let ctx = context();
        let request = method_request();
        let input = TemplateInput {
            context: &ctx,
            request: Some(&request),
            body: &request.body,
        };
        let t = "#set($n = $input.path('$').n)#if($n > 2)#set($context.responseOverride.status = 400)#end#set($context.responseOverride.header.X-Count = \"n=$n\")#set($context.requestOverride.querystring.page = $n + 1)#set($context.requestOverride.header.X-A = 'a')#set($context.requestOverride.path.id = 'p')#set($context.requestOverride.nope.x = 1)#set($context.other = 1)status $context.responseOverride.status";
        let (out, o) = crate::template::render_with_overrides(t, &input);
        assert_eq!(out, "status 400");
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            o,
            crate::template::Overrides {
                status: Some("400".into()),
                response_headers: vec![pair("X-Count", "n=3")],
                request_headers: vec![pair("X-A", "a")],
                querystring: vec![pair("page", "4")],
                path: vec![pair("id", "p")],
                repeated: None,
                limit: None,
            }
        );
        let t = "#set($context.responseOverride.header.A = 1)#set($context.responseOverride.header.A = 2)";
        let (_, o) = crate::template::render_with_overrides(t, &input);
        assert_eq!(
            o.repeated.as_deref(),
            Some("context.responseOverride.header.A")
        );
        // Without a directive nothing can be overridden.
        let (out, o) =
            crate::template::render_with_overrides("$context.responseOverride.status", &input);
        assert!(o.is_empty());
        assert_eq!(out, "");
        let (out, _) = crate::template::render_with_overrides(
            "#set($a = 1)[$context.responseOverride.status]",
            &input,
        );
        assert_eq!(out, "[]");
    }

    #[test]
    fn references_the_fast_path_cannot_read_come_here() {
        for t in [
            "$context.requestId.length()",
            "$stageVariables.keySet()",
            "$input.params().header.get($h)",
            "$input.path('$')[0]",
            "$util.parseJson('1')",
            "#break",
            "$mine.anything($context.requestId)",
            "$context.requestId[0]",
        ] {
            assert!(uses_directives(t), "{t}");
        }
        for t in [
            "$context.requestId",
            "$stageVariables.color",
            "$input.params().header.get('h')",
            "$input.params('h')",
            "$util.escapeJavaScript($input.body)",
            "$mine.anything",
            "cost: $5 # of items",
        ] {
            assert!(!uses_directives(t), "{t}");
        }
    }

    #[test]
    fn foreach_over_a_json_array_with_separators() {
        let body = br#"{"items": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}"#;
        let template = "#set($root = $input.path('$'))\n[\n#foreach($item in $root.items)\n  {\"id\": $item.id, \"name\": \"$item.name\"}#if($foreach.hasNext),#end\n\n#end\n]";
        assert_eq!(
            rendered(template, body),
            "[\n  {\"id\": 1, \"name\": \"a\"},\n  {\"id\": 2, \"name\": \"b\"}\n]"
        );
    }

    #[test]
    fn util_functions_take_variables() {
        assert_eq!(
            rendered(
                "#set($l = [1])$input.path('$').rows[1].name|$input.path('$').rows[0]",
                br#"{"rows": [{"name": "a"}, {"name": "b"}]}"#
            ),
            "b|{name=a}"
        );
        let t = "#set($q = \"it's\")$util.escapeJavaScript($q)|$util.urlEncode(\"a $q\")|$util.escapeJavaScript($nope)";
        assert_eq!(
            rendered(t, b"{}"),
            "it\\'s|a+it%27s|$util.escapeJavaScript($nope)"
        );
    }

    #[test]
    fn conditions_compare_and_combine() {
        let body = br#"{"n": 3, "kind": "dog", "flag": false, "tags": []}"#;
        let t = "#set($b = $input.path('$'))#if($b.n > 2 && $b.kind == 'dog')big dog#elseif($b.n > 0)small#{else}none#end|#if(!$b.flag)off#end|#if($b.missing)x#{else}y#end|$b.tags.size()|$b.tags.isEmpty()|$context.requestId";
        assert_eq!(rendered(t, body), "big dog|off|y|0|true|r-1");
        let t = "#set($n = 1)#if($n == 1 || $nope)one#end #if($n != 1)no#{else}yes#end";
        assert_eq!(rendered(t, b""), "one yes");
    }

    #[test]
    fn set_strings_comments_and_missing_references() {
        let t = "## a comment line\n#set($who = \"id $context.requestId\")#set($plain = 'no $interp')$who / $plain / $missing / [$!missing] / # not a directive";
        assert_eq!(
            rendered(t, b"{}"),
            "id r-1 / no $interp / $missing / [] / # not a directive"
        );
    }

    #[test]
    fn malformed_directives_never_panic() {
        for t in [
            "#if(",
            "#if($x",
            "#foreach($x in",
            "#set(",
            "#set($x)",
            "#end#end",
            "#else",
            "#if($a == )x#end",
            "#foreach($x in $nope)y#end",
            "##",
            "#{if}(true)z#{end}",
            "#set($a = $input.path('$['))$a",
            "#if((($x)))q#end",
            "é#if(true)é#end",
            "#if(é)x#end",
            "#if($a == “x”)y#end",
            "#if(é > ü && ö)z#end",
        ] {
            let _ = rendered(t, br#"{"a": [1]}"#);
        }
        assert!(uses_directives("#if(true)x#end") && uses_directives("#{if}(1)#{end}"));
        assert!(!uses_directives(
            "# heading, $context.requestId, a#b, $input.path('$.a')"
        ));
        assert!(uses_directives("$input.path('$').a") && uses_directives("$util.parseJson('1')"));
        assert_eq!(rendered("#{if}(true)z#{end}", b""), "z");
    }

    /// Templates stitched at random from directive pieces, well formed or
    /// not, render without a panic.
    #[test]
    fn random_directive_soup_never_panics() {
        use rand::{Rng, SeedableRng};
        const PIECES: &[&str] = &[
            "#set($r = $input.path('$'))",
            "#set($n = 2)",
            "#set($s = \"a$n\")",
            "#set(",
            "#if($r.a.size() > 0)",
            "#if(!$nope)",
            "#if($n == '2' || $s)",
            "#elseif($n)",
            "#else",
            "#{else}",
            "#end",
            "#{end}",
            "#foreach($x in $r.a)",
            "#foreach($x in",
            "$x",
            "$x.b",
            "$!x",
            "${x}",
            "$foreach.hasNext",
            "$r.a[0]",
            "$r.a[9]",
            "##c\n",
            "$input.path('$.a').size()",
            "$util.parseJson('{\"k\":1}').k",
            "(",
            ")",
            "'",
            "\"",
            "#",
            "$",
            "\n",
            "text",
            "é",
            "#set($l = [1..3])",
            "#set($m = {'k': [1, 2]})",
            "$l.add($n * 2)",
            "$m.put('k', $l)",
            "$m.k.get(1)",
            "#break",
            "$s.substring(1, 9)",
            "$s.split('(')",
            "$s.replaceAll('[a', 'b')",
            "$input.params().header.keySet()",
            "$context.requestId.charAt(-1)",
            " + ",
            " - ",
            "*",
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for _ in 0..3_000 {
            let n = rng.random_range(1..10);
            let template: String = (0..n)
                .map(|_| PIECES[rng.random_range(0..PIECES.len())])
                .collect();
            let _ = rendered(&template, br#"{"a": [{"b": 1}, {"b": 2}]}"#);
        }
        assert_eq!(
            rendered(
                "$util.parseJson('{\"k\":1}').k|$input.path('$.a').size()",
                br#"{"a": [1, 2]}"#
            ),
            "1|2"
        );
    }
}
