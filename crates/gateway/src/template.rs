//! Mapping templates, reference subset.
//!
//! API Gateway's templates are Velocity (VTL). This module renders the
//! references that most templates consist of — `$context.*`,
//! `$stageVariables.*`, `$input.body`, `$input.json('$')`,
//! `$input.params('name')`, `$input.params().{path|querystring|header}.get('name')`
//! and `$util.escapeJavaScript(...)` of those — in both `$x.y` and `${x.y}`
//! forms, with `$!` quiet references. Like Velocity, a reference it does not
//! know is copied through unchanged. Directives (`#set`, `#if`, `#foreach`)
//! are not evaluated yet; they are copied through too.

use std::borrow::Cow;

use crate::context::{ContextVariable, RequestContext};
use crate::request::MethodRequest;

/// What a template can read.
pub struct TemplateInput<'a> {
    /// The request context.
    pub context: &'a RequestContext,
    /// The method request, when there is one (gateway responses may come
    /// before routing).
    pub request: Option<&'a MethodRequest>,
    /// The body `$input` refers to (request body for request templates,
    /// backend body for response templates).
    pub body: &'a [u8],
}

/// Renders a template.
pub fn render(template: &str, input: &TemplateInput) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    // Text between references is copied in runs, not character by character.
    let mut rest = template;
    while let Some(at) = memchr::memchr(b'$', rest.as_bytes()) {
        out.push_str(&rest[..at]);
        let from = &rest[at..];
        match reference(from, input) {
            Some((consumed, value)) => {
                out.push_str(&value);
                rest = &from[consumed..];
            }
            None => {
                out.push('$');
                rest = &from[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Tries to read one reference at the start of `s` (which begins with `$`).
/// Returns the bytes consumed and the rendered value (borrowed from the
/// input where it can be: no copy per reference).
fn reference<'a>(s: &str, input: &TemplateInput<'a>) -> Option<(usize, Cow<'a, str>)> {
    let mut pos = 1;
    let quiet = s[pos..].starts_with('!');
    if quiet {
        pos += 1;
    }
    let braced = s[pos..].starts_with('{');
    if braced {
        pos += 1;
    }
    let start = pos;
    let bytes = s.as_bytes();
    // A dotted name, possibly with one call `(...)` and more segments after it.
    let mut depth = 0usize;
    let mut in_quote: Option<u8> = None;
    while pos < bytes.len() {
        let b = bytes[pos];
        if let Some(q) = in_quote {
            if b == q {
                in_quote = None;
            }
            pos += 1;
            continue;
        }
        match b {
            b'\'' | b'"' if depth > 0 => in_quote = Some(b),
            b'(' => depth += 1,
            b')' if depth > 0 => depth -= 1,
            b'.' if depth == 0 && pos + 1 < bytes.len() && is_ident(bytes[pos + 1]) => {}
            _ if depth > 0 => {}
            _ if is_ident(b) => {}
            _ => break,
        }
        pos += 1;
    }
    if depth > 0 || pos == start {
        return None;
    }
    let expr = &s[start..pos];
    if braced {
        if !s[pos..].starts_with('}') {
            return None;
        }
        pos += 1;
    }
    match evaluate(expr, input) {
        Some(v) => Some((pos, v)),
        None if quiet => Some((pos, Cow::Borrowed(""))),
        None => None,
    }
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Evaluates a reference expression; `None` when it is unknown (copied
/// through by the caller) — a known variable with no value renders as "".
fn evaluate<'a>(expr: &str, input: &TemplateInput<'a>) -> Option<Cow<'a, str>> {
    if let Some(name) = expr.strip_prefix("context.") {
        let var = ContextVariable::parse(name)?;
        return Some(var.value(input.context).unwrap_or_default());
    }
    if let Some(name) = expr.strip_prefix("stageVariables.") {
        return Some(Cow::Borrowed(
            input
                .request
                .and_then(|r| r.stage_variable(name))
                .unwrap_or_default(),
        ));
    }
    if let Some(inner) = expr
        .strip_prefix("util.escapeJavaScript(")
        .and_then(|e| e.strip_suffix(')'))
    {
        let inner = inner.trim();
        let value = if let Some(r) = inner.strip_prefix('$') {
            evaluate(r.trim_start_matches('!'), input)?.into_owned()
        } else {
            unquote(inner)?.to_string()
        };
        let json = serde_json::Value::String(value).to_string();
        return Some(Cow::Owned(json[1..json.len() - 1].replace('\'', "\\'")));
    }
    match expr {
        "input.body" => return Some(String::from_utf8_lossy(input.body)),
        "input.json('$')" | "input.json(\"$\")" | "input.path('$')" | "input.path(\"$\")" => {
            let body = String::from_utf8_lossy(input.body);
            return Some(if body.trim().is_empty() {
                Cow::Borrowed("{}")
            } else {
                body
            });
        }
        _ => {}
    }
    let request = input.request;
    if let Some(arg) = expr
        .strip_prefix("input.params(")
        .filter(|_| !expr.starts_with("input.params()."))
        .and_then(|e| e.strip_suffix(')'))
    {
        let name = unquote(arg.trim())?;
        let r = request?;
        let v = r
            .path_param(name)
            .or_else(|| r.query_param(name))
            .or_else(|| r.header(name))
            .unwrap_or_default();
        return Some(Cow::Borrowed(v));
    }
    if let Some(rest) = expr.strip_prefix("input.params().") {
        let (location, call) = rest.split_once(".get(")?;
        let name = unquote(call.strip_suffix(')')?.trim())?;
        let r = request?;
        let v = match location {
            "path" => r.path_param(name),
            "querystring" => r.query_param(name),
            "header" => r.header(name),
            _ => return None,
        };
        return Some(Cow::Borrowed(v.unwrap_or_default()));
    }
    None
}

fn unquote(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    (b.len() >= 2 && (b[0] == b'\'' || b[0] == b'"') && b[b.len() - 1] == b[0])
        .then(|| &s[1..s.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatewatch_model::Stage;
    use std::sync::Arc;

    fn request() -> MethodRequest {
        let mut stage = Stage::new("dev");
        stage.variables.insert("who".into(), "world".into());
        let mut headers = http::HeaderMap::new();
        headers.insert("x-h", "hv".parse().unwrap());
        MethodRequest {
            method: http::Method::GET,
            path_parameters: vec![("id".into(), "7".into())],
            query: vec![("q".into(), "it's".into())],
            raw_query: Some("q=it%27s".into()),
            headers,
            body: bytes::Bytes::from_static(b"{\"a\":1}"),
            stage: Arc::new(stage),
            greedy_parameter: None,
        }
    }

    #[test]
    fn renders_references() {
        let req = request();
        let ctx = RequestContext {
            request_id: "r-1".into(),
            error: crate::context::ErrorInfo {
                message: Some("Missing Authentication Token".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let input = TemplateInput {
            context: &ctx,
            request: Some(&req),
            body: &req.body,
        };
        let t = r#"{"message":$context.error.messageString,"id":"${context.requestId}","who":"$stageVariables.who","p":"$input.params('id')","q":"$util.escapeJavaScript($input.params().querystring.get('q'))","h":"$input.params().header.get('x-h')","body":$input.json('$'),"none":"$!context.identity.caller","keep":"$unknown.thing","cost":"$5","x":"$context.nope"}"#;
        assert_eq!(
            render(t, &input),
            r#"{"message":"Missing Authentication Token","id":"r-1","who":"world","p":"7","q":"it\'s","h":"hv","body":{"a":1},"none":"","keep":"$unknown.thing","cost":"$5","x":"$context.nope"}"#
        );
        assert_eq!(
            render("{\"statusCode\": 200}", &input),
            "{\"statusCode\": 200}"
        );
    }
}
