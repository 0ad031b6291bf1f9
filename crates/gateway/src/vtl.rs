//! Velocity directives in mapping templates: `#set`, `#if` / `#elseif` /
//! `#else` / `#end`, `#foreach` (with `$foreach.hasNext`, `.index`,
//! `.count`) and `##` comments, over variables that hold JSON values
//! (`#set($root = $input.path('$'))`, then `$root.items`, `$item.id`,
//! `$list.size()`).
//!
//! Templates without directives never come here: [`crate::template`]
//! renders them on its own, faster path. Here every reference the template
//! module knows (`$context`, `$input`, `$util`, `$stageVariables`) means
//! what it means there. As in Velocity 1.7: a reference without a value is
//! copied through (`$!` renders nothing); `#if` is false only for a missing
//! value, null or `false`; the line break right after a directive is not
//! written.

use std::collections::HashMap;

use serde_json::Value;

use crate::jsonpath::{java_text, JsonPath};
use crate::template::{self, TemplateInput};

/// Whether `template` needs this module: it holds a directive, or a value
/// only this module navigates (`$util.parseJson(...)`, or members and
/// indexes after `$input.path(...)`).
pub(crate) fn uses_directives(template: &str) -> bool {
    let directive = memchr::memchr(b'#', template.as_bytes()).is_some()
        && ["#set", "#if", "#foreach", "#{if}", "##"]
            .iter()
            .any(|d| template.contains(d));
    directive
        || template.contains("$util.parseJson(")
        || template.match_indices("input.path(").any(|(at, call)| {
            parenthesised(&template[at + call.len() - 1..]).is_some_and(|(_, len)| {
                template[at + call.len() - 1 + len..].starts_with(['.', '['])
            })
        })
}

/// Renders a template that uses directives.
pub(crate) fn render(template: &str, input: &TemplateInput) -> String {
    let mut parser = Parser {
        text: template,
        at: 0,
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
    let mut scope = HashMap::new();
    run(&nodes, input, &mut scope, &mut out);
    out
}

#[derive(Debug)]
enum Node {
    Text(String),
    /// A reference, as written (from its `$`).
    Ref(String),
    Set(String, String),
    If(Vec<(String, Vec<Node>)>, Option<Vec<Node>>),
    Foreach(String, String, Vec<Node>),
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
                            let body = self.block(&mut inner);
                            nodes.push(Node::Foreach(var, list.trim().to_string(), body));
                        }
                    }
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
            let body = self.block(&mut ended);
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

type Scope = HashMap<String, Value>;

fn run(nodes: &[Node], input: &TemplateInput, scope: &mut Scope, out: &mut String) {
    for node in nodes {
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
            Node::Set(name, value) => {
                let value = operand(value, input, scope).unwrap_or(Value::Null);
                scope.insert(name.clone(), value);
            }
            Node::If(branches, otherwise) => {
                let chosen = branches
                    .iter()
                    .find(|(c, _)| condition(c, input, scope))
                    .map(|(_, body)| body)
                    .or(otherwise.as_ref());
                if let Some(body) = chosen {
                    run(body, input, scope, out);
                }
            }
            Node::Foreach(var, list, body) => {
                let items = match operand(list, input, scope) {
                    Some(Value::Array(items)) => items,
                    Some(Value::Object(members)) => members.into_iter().map(|(_, v)| v).collect(),
                    _ => Vec::new(),
                };
                let count = items.len();
                for (index, item) in items.into_iter().enumerate() {
                    scope.insert(var.clone(), item);
                    scope.insert(
                        "foreach".into(),
                        serde_json::json!({
                            "hasNext": index + 1 < count,
                            "index": index,
                            "count": index + 1,
                            "first": index == 0,
                            "last": index + 1 == count,
                        }),
                    );
                    run(body, input, scope, out);
                }
            }
        }
    }
}

/// A value written in a directive: a reference, a quoted string (`"..."`
/// with its references rendered), a number or `true` / `false`.
fn operand(text: &str, input: &TemplateInput, scope: &mut Scope) -> Option<Value> {
    let text = text.trim();
    if text.starts_with('$') {
        return reference_value(text, input, scope, true);
    }
    if let Some(inner) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        return Some(Value::String(inner.to_string()));
    }
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        let mut parser = Parser { text: inner, at: 0 };
        let nodes = parser.block(&mut None);
        let mut out = String::new();
        run(&nodes, input, scope, &mut out);
        return Some(Value::String(out));
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

/// `a || b`, `a && b`, `!a`, `a == b` (`!=`, `<`, `<=`, `>`, `>=`), or a
/// value's truth.
fn condition(text: &str, input: &TemplateInput, scope: &mut Scope) -> bool {
    let text = text.trim();
    if let Some(parts) = split_outside(text, "||") {
        return parts.iter().any(|p| condition(p, input, scope));
    }
    if let Some(parts) = split_outside(text, "&&") {
        return parts.iter().all(|p| condition(p, input, scope));
    }
    if let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        return condition(inner, input, scope);
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
                b'(' | b'[' => depth += 1,
                b')' | b']' => depth -= 1,
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

/// The value of a reference (from its `$`): a variable and the members,
/// `.size()` or `[index]` after it; `$input.path(...)` and what follows it
/// (as an `operand`, or when something follows it: written alone, it is
/// the template module's); or any reference the template module knows, as
/// text.
fn reference_value(
    raw: &str,
    input: &TemplateInput,
    scope: &Scope,
    operand_use: bool,
) -> Option<Value> {
    let expr = raw.trim_start_matches('$').trim_start_matches('!');
    let expr = expr
        .strip_prefix('{')
        .and_then(|e| e.strip_suffix('}'))
        .unwrap_or(expr);
    let head_len = expr.find(['.', '[']).unwrap_or(expr.len());
    if let Some(value) = scope.get(&expr[..head_len]) {
        return navigate(value.clone(), &expr[head_len..]);
    }
    for call in ["input.path(", "util.parseJson("] {
        if let Some(args) = expr.strip_prefix(call) {
            let call_text = format!("({args}");
            let (inside, len) = parenthesised(&call_text)?;
            let rest = &args[len - 1..];
            if rest.is_empty() && !operand_use {
                break;
            }
            let value = if call == "input.path(" {
                let path = JsonPath::parse(inside.trim().trim_matches(['\'', '"']))?;
                let body = if input.body.iter().all(u8::is_ascii_whitespace) {
                    Value::Object(Default::default())
                } else {
                    serde_json::from_slice(input.body).ok()?
                };
                path.select(&body)?
            } else {
                let text = operand(inside, input, &mut scope.clone())?;
                serde_json::from_str(&text_of(&text)).ok()?
            };
            return navigate(value, rest);
        }
    }
    // `$util.fn(argument)` whose argument only this module knows (a
    // variable, a quoted string with references).
    if let Some((name, args)) = expr.strip_prefix("util.").and_then(|c| c.split_once('(')) {
        let call_text = format!("({args}");
        let (inside, len) = parenthesised(&call_text)?;
        let rest = &args[len - 1..];
        let argument = operand(inside, input, &mut scope.clone())?;
        let text = template::apply_util(name, &text_of(&argument))?;
        return navigate(Value::String(text), rest);
    }
    template::reference_value(raw, input).map(|v| Value::String(v.into_owned()))
}

/// Follows `.member`, `.size()`, `.length()`, `.isEmpty()` and `[index]`
/// steps from `value`.
fn navigate(mut value: Value, mut steps: &str) -> Option<Value> {
    while !steps.is_empty() {
        if let Some(rest) = steps.strip_prefix('[') {
            let end = rest.find(']')?;
            let index: usize = rest[..end].trim().parse().ok()?;
            value = value.get(index)?.clone();
            steps = &rest[end + 1..];
            continue;
        }
        let rest = steps.strip_prefix('.')?;
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let step = &rest[..end];
        steps = &rest[end..];
        value = match step {
            "size()" | "length()" => {
                let n = match &value {
                    Value::Array(items) => items.len(),
                    Value::Object(members) => members.len(),
                    Value::String(s) => s.chars().count(),
                    _ => return None,
                };
                Value::from(n)
            }
            "isEmpty()" => Value::Bool(match &value {
                Value::Array(items) => items.is_empty(),
                Value::Object(members) => members.is_empty(),
                Value::String(s) => s.is_empty(),
                _ => return None,
            }),
            name => value.get(name)?.clone(),
        };
    }
    Some(value)
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
