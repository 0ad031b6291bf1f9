//! Mapping templates, reference subset.
//!
//! API Gateway's templates are Velocity (VTL). This module renders the
//! references that most templates consist of — `$context.*`,
//! `$stageVariables.*`, `$input.body`, `$input.json(path)` and
//! `$input.path(path)` (the JSONPath subset of [`crate::jsonpath`]),
//! `$input.params('name')`, `$input.params().{path|querystring|header}.get('name')`
//! and `$util.escapeJavaScript`, `urlEncode`, `urlDecode`, `base64Encode`,
//! `base64Decode` of those or of quoted text — in both `$x.y` and `${x.y}`
//! forms, with `$!` quiet references. Like Velocity, a reference it does not
//! know is copied through unchanged. Templates with directives (`#set`,
//! `#if`, `#foreach`) or with values to navigate or methods to call
//! (`$util.parseJson(...)`, `$input.path('$').items`,
//! `$input.params().keySet()`, `$context.requestId.length()`) are rendered
//! by [`crate::vtl`]; which path a template takes is decided once, when it
//! is compiled. [`render_with_overrides`] also returns what a template
//! overrode (`#set($context.responseOverride.status = 400)`, see
//! [`Overrides`]).

use std::borrow::Cow;

use crate::context::{ContextVariable, RequestContext};
use crate::jsonpath::{self, JsonPath};
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

/// What a template asked for with `#set($context.requestOverride.…)` and
/// `#set($context.responseOverride.…)`: parameters that replace the ones
/// the integration's mappings give (API Gateway applies them after its
/// standard mappings, once the whole template has rendered).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Overrides {
    /// `$context.responseOverride.status`, as the template gave it.
    pub status: Option<String>,
    /// `$context.responseOverride.header.NAME`, in the order set.
    pub response_headers: Vec<(String, String)>,
    /// `$context.requestOverride.header.NAME`.
    pub request_headers: Vec<(String, String)>,
    /// `$context.requestOverride.querystring.NAME`.
    pub querystring: Vec<(String, String)>,
    /// `$context.requestOverride.path.NAME`.
    pub path: Vec<(String, String)>,
    /// The first parameter the template set twice: "overrides are final",
    /// and API Gateway answers such a request with a 5XX.
    pub repeated: Option<String>,
    /// The limit a render reached (see [`crate::vtl`]): the text stops
    /// there, and an integration answers 500.
    pub limit: Option<&'static str>,
}

impl Overrides {
    /// Whether the template overrode nothing.
    pub fn is_empty(&self) -> bool {
        *self == NO_OVERRIDES
    }
}

/// What a render overrode: `None` when nothing (what most renders give,
/// without building an [`Overrides`]).
pub type Overridden = Option<Box<Overrides>>;

/// A render that overrode nothing.
pub static NO_OVERRIDES: Overrides = Overrides {
    status: None,
    response_headers: Vec::new(),
    request_headers: Vec::new(),
    querystring: Vec::new(),
    path: Vec::new(),
    repeated: None,
    limit: None,
};

/// Renders a template and returns what it overrode (see [`Overrides`]).
/// Only a template that uses directives can override anything (with
/// `#set`); the text is what [`render`] gives.
/// `None` when it overrode nothing, which is what the fast path gives
/// without building one.
pub fn render_with_overrides(template: &str, input: &TemplateInput) -> (String, Overridden) {
    render_full(template, input)
}

/// Renders a template.
///
/// A template is split into text and references once per thread (the last
/// [`COMPILED_PER_THREAD`] templates rendered are kept, found by their
/// text), so a request only evaluates its references. The result is exactly
/// [`interpret`]'s, which reads the template afresh.
pub fn render(template: &str, input: &TemplateInput) -> String {
    render_full(template, input).0
}

/// [`render`], with what the template overrode.
fn render_full(template: &str, input: &TemplateInput) -> (String, Overridden) {
    // A template without references or directives needs no pieces; a very
    // large one is read afresh rather than kept.
    if memchr::memchr2(b'$', b'#', template.as_bytes()).is_none() {
        return (template.to_owned(), None);
    }
    if template.len() > MAX_COMPILED_BYTES {
        return interpret_full(template, input);
    }
    let rendered = COMPILED.with(|cache| {
        let mut cache = cache.borrow_mut();
        let at = match cache.iter().position(|(text, _)| **text == *template) {
            Some(at) => at,
            None => {
                if cache.len() >= COMPILED_PER_THREAD {
                    cache.remove(0);
                }
                cache.push((template.into(), compile(template)));
                cache.len() - 1
            }
        };
        let compiled = &cache[at].1;
        // Directives, and values to navigate, are evaluated elsewhere (they
        // are rare); so is a template whose `$input.params` references have
        // no value (no method request), which changes how the text after
        // them is read.
        if compiled.directives || (compiled.needs_request && input.request.is_none()) {
            return None;
        }
        let mut out = String::with_capacity(template.len() + 32);
        for piece in &compiled.pieces {
            match piece {
                Piece::Text(range) => out.push_str(&template[range.clone()]),
                // With a request at hand, every compiled reference has a
                // value (see `compile`).
                Piece::Reference(expr) => {
                    if let Some(value) = expr.evaluate(input) {
                        out.push_str(&value);
                    }
                }
            }
        }
        Some(out)
    });
    match rendered {
        Some(out) => (out, None),
        None => interpret_full(template, input),
    }
}

/// Longest reference read, from its name to its closing parenthesis.
const MAX_REFERENCE_BYTES: usize = 2048;

/// Templates kept compiled per thread.
pub const COMPILED_PER_THREAD: usize = 32;

/// Largest template kept compiled.
const MAX_COMPILED_BYTES: usize = 16 * 1024;

thread_local! {
    /// The templates this thread rendered last, with their pieces.
    static COMPILED: std::cell::RefCell<Vec<(Box<str>, Compiled)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// A template split into text and references.
#[derive(Debug, Clone, PartialEq)]
struct Compiled {
    pieces: Vec<Piece>,
    /// Whether a reference's value depends on there being a method request
    /// (`$input.params`), which gateway responses before routing lack.
    needs_request: bool,
    /// Whether the template needs [`crate::vtl`] (see
    /// [`crate::vtl::uses_directives`]); its pieces are then unused.
    directives: bool,
}

/// One piece of a compiled template.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    /// Text copied as it is, a range of the template (including references
    /// that never have a value, which Velocity copies through).
    Text(std::ops::Range<usize>),
    /// A reference evaluated per render.
    Reference(Expr),
}

/// Splits a template the way [`interpret`] reads it.
fn compile(template: &str) -> Compiled {
    if crate::vtl::uses_directives(template) {
        return Compiled {
            pieces: Vec::new(),
            needs_request: false,
            directives: true,
        };
    }
    let mut pieces = Vec::new();
    let mut needs_request = false;
    let mut text_from = 0;
    let mut at = 0;
    while let Some(found) = memchr::memchr(b'$', &template.as_bytes()[at..]) {
        let dollar = at + found;
        let syntax = reference_syntax(&template[dollar..]);
        let expr = syntax
            .as_ref()
            .and_then(|r| Expr::parse(&template[dollar..][r.expr.clone()]));
        match (syntax, expr) {
            (Some(r), Some(expr)) => {
                needs_request |= expr.needs_request();
                if text_from < dollar {
                    pieces.push(Piece::Text(text_from..dollar));
                }
                pieces.push(Piece::Reference(expr));
                at = dollar + r.consumed;
                text_from = at;
            }
            (Some(r), None) if r.quiet => {
                // `$!x` with no value renders as nothing.
                if text_from < dollar {
                    pieces.push(Piece::Text(text_from..dollar));
                }
                at = dollar + r.consumed;
                text_from = at;
            }
            // Not a reference, or one without a value: the `$` stays and
            // reading goes on after it.
            _ => at = dollar + 1,
        }
    }
    if text_from < template.len() {
        pieces.push(Piece::Text(text_from..template.len()));
    }
    Compiled {
        pieces,
        needs_request,
        directives: false,
    }
}

/// Renders a template by reading it afresh: the reference for [`render`].
pub fn interpret(template: &str, input: &TemplateInput) -> String {
    interpret_full(template, input).0
}

/// [`interpret`], with what the template overrode.
fn interpret_full(template: &str, input: &TemplateInput) -> (String, Overridden) {
    if crate::vtl::uses_directives(template) {
        return crate::vtl::render_with_overrides(template, input);
    }
    (substitute(template, input), None)
}

/// A template's references replaced by their values as this module reads
/// them, and nothing else: no directive is evaluated, and what this module
/// does not read stays as text. This is how API Gateway renders a gateway
/// response's template ("simple variable substitution", not processed by
/// the VTL engine).
pub fn substitute(template: &str, input: &TemplateInput) -> String {
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
    let syntax = reference_syntax(s)?;
    match evaluate(&s[syntax.expr.clone()], input) {
        Some(v) => Some((syntax.consumed, v)),
        None if syntax.quiet => Some((syntax.consumed, Cow::Borrowed(""))),
        None => None,
    }
}

/// How many bytes the reference at the start of `s` (which begins with
/// `$`) takes, or `None` when the text there is not a reference.
pub(crate) fn reference_len(s: &str) -> Option<usize> {
    reference_syntax(s).map(|r| r.consumed)
}

/// The value of the reference `raw` (from its `$`), when it is one this
/// module knows.
pub(crate) fn reference_value<'a>(raw: &str, input: &TemplateInput<'a>) -> Option<Cow<'a, str>> {
    let syntax = reference_syntax(raw)?;
    evaluate(&raw[syntax.expr], input)
}

/// [`reference_value`], when all of `raw` is the one reference (nothing
/// after it that this module would leave unread).
pub(crate) fn whole_reference_value<'a>(
    raw: &str,
    input: &TemplateInput<'a>,
) -> Option<Cow<'a, str>> {
    let syntax = reference_syntax(raw)?;
    if syntax.consumed != raw.len() {
        return None;
    }
    evaluate(&raw[syntax.expr], input)
}

/// Whether the reference at the start of `s` (which begins with `$`) is
/// one this module would read differently from Velocity: a call or member
/// it does not read although it knows the root (`$input`, `$util`,
/// `$context`, `$stageVariables`: `$input.params().keySet()`,
/// `$context.requestId.length()`), index notation after any reference
/// (`$input.path('$')[0]`), or an unknown reference with a call
/// (`$foo.bar($context.requestId)`, copied through whole). Such templates
/// are rendered by [`crate::vtl`].
///
/// Returns the bytes the reference takes and that answer, or `None` when
/// the text there is not a reference.
pub(crate) fn needs_interpreter(s: &str) -> Option<(usize, bool)> {
    let syntax = reference_syntax(s)?;
    let expr = &s[syntax.expr.clone()];
    let needs = if s[syntax.consumed..].starts_with('[') {
        true
    } else if matches!(
        expr.split(['.', '(']).next().unwrap_or_default(),
        "input" | "util" | "context" | "stageVariables"
    ) {
        Expr::parse(expr).is_none()
    } else {
        // A reference this module does not know is copied through whole
        // by Velocity, arguments and all; this module would render what is
        // inside its parentheses.
        expr.contains('(')
    };
    Some((syntax.consumed, needs))
}

/// `$util.{name}(text)` for the functions of one text argument this
/// module knows (`escapeJavaScript`, `urlEncode`, ...).
pub(crate) fn apply_util(name: &str, text: &str) -> Option<String> {
    Some(Util::parse(name)?.apply(text).into_owned())
}

/// Where a reference's parts are, read from its text alone.
#[derive(Debug, Clone, PartialEq)]
struct ReferenceSyntax {
    /// Bytes the reference takes, from its `$`.
    consumed: usize,
    /// The expression (`input.params('id')`), relative to the `$`.
    expr: std::ops::Range<usize>,
    /// `$!`: renders as nothing when it has no value.
    quiet: bool,
}

/// The shape of the reference at the start of `s` (which begins with `$`),
/// or `None` when the text there is not a reference.
fn reference_syntax(s: &str) -> Option<ReferenceSyntax> {
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
    // A reference longer than this is not one (so a stray `(` costs a
    // bounded scan, not one to the end of the template per `$`).
    let end = bytes.len().min(start + MAX_REFERENCE_BYTES);
    while pos < end {
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
    if depth > 0 || pos == start || in_quote.is_some() {
        return None;
    }
    let expr = start..pos;
    if braced {
        if !s[pos..].starts_with('}') {
            return None;
        }
        pos += 1;
    }
    Some(ReferenceSyntax {
        consumed: pos,
        expr,
        quiet,
    })
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Evaluates a reference expression; `None` when it is unknown (copied
/// through by the caller) — a known variable with no value renders as "".
fn evaluate<'a>(expr: &str, input: &TemplateInput<'a>) -> Option<Cow<'a, str>> {
    Expr::parse(expr)?.evaluate(input)
}

/// A reference expression the renderer knows, read once.
#[derive(Debug, Clone, PartialEq)]
enum Expr {
    /// `$context.*`.
    Context(ContextVariable),
    /// `$stageVariables.name`.
    StageVariable(String),
    /// `$util.{function}($reference)`.
    UtilReference(Util, Box<Expr>),
    /// `$util.{function}('text')`.
    UtilText(Util, String),
    /// `$input.body`.
    Body,
    /// `$input.json('$')`, `$input.path('$')`: the body, `{}` when blank.
    WholeBody,
    /// `$input.json('$.path')`: what the path selects in the JSON body, as
    /// JSON; `""` when it selects nothing (or the body is not JSON).
    Json(JsonPath),
    /// `$input.path('$.path')`: what the path selects, as a template shows
    /// the object it returns (see [`jsonpath::java_text`]); nothing when it
    /// selects nothing.
    Path(JsonPath),
    /// `$input.params('name')`: path, then query string, then header.
    Param(String),
    /// `$input.params().{path|querystring|header}.get('name')`.
    ParamIn(ParamLocation, String),
}

/// Where `$input.params().{location}.get(...)` looks.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ParamLocation {
    Path,
    QueryString,
    Header,
}

impl Expr {
    /// The expression `expr` (a reference without its `$`), or `None` when
    /// it is not one the renderer knows.
    fn parse(expr: &str) -> Option<Expr> {
        if let Some(name) = expr.strip_prefix("context.") {
            return ContextVariable::parse(name).map(Expr::Context);
        }
        if let Some(name) = expr.strip_prefix("stageVariables.") {
            // A name, not a call or a member of one (`.keySet()`,
            // `.who.length()`: those are navigated by `vtl`).
            return (!name.is_empty() && name.bytes().all(is_ident))
                .then(|| Expr::StageVariable(name.to_string()));
        }
        if let Some(call) = expr.strip_prefix("util.") {
            let (name, inner) = call.split_once('(')?;
            let util = Util::parse(name)?;
            let inner = inner.strip_suffix(')')?.trim();
            return if let Some(r) = inner.strip_prefix('$') {
                Expr::parse(r.trim_start_matches('!'))
                    .map(|e| Expr::UtilReference(util, Box::new(e)))
            } else {
                unquote(inner).map(|text| Expr::UtilText(util, text.to_string()))
            };
        }
        match expr {
            "input.body" => return Some(Expr::Body),
            "input.json('$')" | "input.json(\"$\")" | "input.path('$')" | "input.path(\"$\")" => {
                return Some(Expr::WholeBody)
            }
            _ => {}
        }
        for (call, json) in [("input.json(", true), ("input.path(", false)] {
            if let Some(arg) = expr.strip_prefix(call).and_then(|e| e.strip_suffix(')')) {
                let path = JsonPath::parse(unquote(arg.trim())?)?;
                return Some(match (path.is_root(), json) {
                    (true, _) => Expr::WholeBody,
                    (false, true) => Expr::Json(path),
                    (false, false) => Expr::Path(path),
                });
            }
        }
        if let Some(arg) = expr
            .strip_prefix("input.params(")
            .filter(|_| !expr.starts_with("input.params()."))
            .and_then(|e| e.strip_suffix(')'))
        {
            return unquote(arg.trim()).map(|name| Expr::Param(name.to_string()));
        }
        if let Some(rest) = expr.strip_prefix("input.params().") {
            let (location, call) = rest.split_once(".get(")?;
            let name = unquote(call.strip_suffix(')')?.trim())?;
            let location = match location {
                "path" => ParamLocation::Path,
                "querystring" => ParamLocation::QueryString,
                "header" => ParamLocation::Header,
                _ => return None,
            };
            return Some(Expr::ParamIn(location, name.to_string()));
        }
        None
    }

    /// Whether the value needs a method request (without one, the
    /// reference is copied through).
    fn needs_request(&self) -> bool {
        match self {
            Expr::Param(_) | Expr::ParamIn(..) => true,
            Expr::UtilReference(_, inner) => inner.needs_request(),
            _ => false,
        }
    }

    /// The value for this render; `None` only when it needs a method
    /// request and there is none.
    fn evaluate<'a>(&self, input: &TemplateInput<'a>) -> Option<Cow<'a, str>> {
        let value = match self {
            Expr::Context(var) => var.value(input.context).unwrap_or_default(),
            Expr::StageVariable(name) => Cow::Borrowed(
                input
                    .request
                    .and_then(|r| r.stage_variable(name))
                    .unwrap_or_default(),
            ),
            Expr::UtilReference(util, inner) => util.apply(&inner.evaluate(input)?),
            Expr::UtilText(util, text) => util.apply(text),
            Expr::Body => String::from_utf8_lossy(input.body),
            Expr::WholeBody => {
                let body = String::from_utf8_lossy(input.body);
                if body.trim().is_empty() {
                    Cow::Borrowed("{}")
                } else {
                    body
                }
            }
            Expr::Json(path) => Cow::Owned(json_text(
                body_json(input.body)
                    .and_then(|body| path.select(&body))
                    .as_ref(),
            )),
            Expr::Path(path) => Cow::Owned(
                body_json(input.body)
                    .and_then(|body| path.select(&body))
                    .map(|v| jsonpath::java_text(&v))
                    .unwrap_or_default(),
            ),
            Expr::Param(name) => {
                let r = input.request?;
                match r.path_param(name).or_else(|| r.query_param(name)) {
                    Some(v) => Cow::Borrowed(v),
                    None => r.mapped_header(name, input.context).unwrap_or_default(),
                }
            }
            Expr::ParamIn(location, name) => {
                let r = input.request?;
                let v = match location {
                    ParamLocation::Path => r.path_param(name).map(Cow::Borrowed),
                    ParamLocation::QueryString => r.query_param(name).map(Cow::Borrowed),
                    ParamLocation::Header => r.mapped_header(name, input.context),
                };
                v.unwrap_or_default()
            }
        };
        Some(value)
    }
}

/// What `$input.json(path)` gives for what the path selected: the value as
/// JSON, `""` when nothing was selected.
pub(crate) fn json_text(selected: Option<&serde_json::Value>) -> String {
    selected.map_or_else(|| "\"\"".to_string(), |v| v.to_string())
}

/// The body as JSON, a blank body as `{}`; `None` when it is not JSON.
pub(crate) fn body_json(body: &[u8]) -> Option<serde_json::Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(serde_json::Value::Object(Default::default()));
    }
    serde_json::from_slice(body).ok()
}

/// The `$util` functions of one text argument.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Util {
    /// `escapeJavaScript`.
    EscapeJavaScript,
    /// `urlEncode`: as Java's `URLEncoder` (UTF-8): letters, digits and
    /// `.-*_` kept, space as `+`, every other byte `%XX`.
    UrlEncode,
    /// `urlDecode`: `+` as space, `%XX` as its byte; a malformed escape is
    /// kept as it is.
    UrlDecode,
    /// `base64Encode`: the text's UTF-8 bytes, standard alphabet, padded.
    Base64Encode,
    /// `base64Decode`: the bytes as text (invalid UTF-8 replaced); nothing
    /// when the argument is not base64.
    Base64Decode,
}

impl Util {
    fn parse(name: &str) -> Option<Util> {
        Some(match name {
            "escapeJavaScript" => Util::EscapeJavaScript,
            "urlEncode" => Util::UrlEncode,
            "urlDecode" => Util::UrlDecode,
            "base64Encode" => Util::Base64Encode,
            "base64Decode" => Util::Base64Decode,
            _ => return None,
        })
    }

    fn apply<'a>(self, text: &str) -> Cow<'a, str> {
        use base64::Engine as _;
        let b64 = &base64::engine::general_purpose::STANDARD;
        match self {
            Util::EscapeJavaScript => escape_javascript(text),
            Util::UrlEncode => {
                let mut out = String::with_capacity(text.len());
                for &b in text.as_bytes() {
                    match b {
                        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                            out.push(b as char)
                        }
                        b' ' => out.push('+'),
                        _ => out.push_str(&format!("%{b:02X}")),
                    }
                }
                Cow::Owned(out)
            }
            Util::UrlDecode => {
                let spaced = text.replace('+', " ");
                Cow::Owned(
                    percent_encoding::percent_decode_str(&spaced)
                        .decode_utf8_lossy()
                        .into_owned(),
                )
            }
            Util::Base64Encode => Cow::Owned(b64.encode(text.as_bytes())),
            Util::Base64Decode => Cow::Owned(
                b64.decode(text.trim())
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                    .unwrap_or_default(),
            ),
        }
    }
}

/// `$util.escapeJavaScript`: the text as a JSON string's inside, with `'`
/// escaped too.
fn escape_javascript<'a>(text: &str) -> Cow<'a, str> {
    let json = serde_json::Value::String(text.to_string()).to_string();
    Cow::Owned(json[1..json.len() - 1].replace('\'', "\\'"))
}

fn unquote(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    // One quoted text: `'a').b('c'` is not one.
    (b.len() >= 2
        && (b[0] == b'\'' || b[0] == b'"')
        && b[b.len() - 1] == b[0]
        && memchr::memchr(b[0], &b[1..b.len() - 1]).is_none())
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

    #[test]
    fn util_functions_transform_text_and_references() {
        let req = request();
        let ctx = RequestContext::default();
        let input = TemplateInput {
            context: &ctx,
            request: Some(&req),
            body: b"a b&c=d/\xc3\xa9",
        };
        assert_eq!(
            render("$util.urlEncode($input.body)", &input),
            "a+b%26c%3Dd%2F%C3%A9"
        );
        assert_eq!(
            render("$util.urlDecode('a+b%26c%3Dd%2F%C3%A9%zz')", &input),
            "a b&c=d/é%zz"
        );
        assert_eq!(render("$util.base64Encode('hi é')", &input), "aGkgw6k=");
        assert_eq!(render("$util.base64Decode('aGkgw6k=')", &input), "hi é");
        assert_eq!(render("[$util.base64Decode('not base64!')]", &input), "[]");
        assert_eq!(
            render("$util.escapeJavaScript($input.params('q'))", &input),
            "it\\'s"
        );
        // An unknown function is copied through, as Velocity does.
        assert_eq!(render("$util.nope('x')", &input), "$util.nope('x')");
    }

    #[test]
    fn json_paths_select_from_the_body() {
        let req = request();
        let ctx = RequestContext::default();
        let input = TemplateInput {
            context: &ctx,
            request: Some(&req),
            body: br#"{"pet": {"name": "ada", "tags": ["a", "b"], "age": 3}}"#,
        };
        let t = r#"{"name": $input.json('$.pet.name'), "tag": "$input.path('$.pet.tags[0]')", "age": $input.path('$.pet.age'), "pet": "$input.path('$.pet')", "tags": $input.json('$.pet.tags'), "none": $input.json('$.nope'), "raw": "$input.path('$.nope')"}"#;
        assert_eq!(
            render(t, &input),
            r#"{"name": "ada", "tag": "a", "age": 3, "pet": "{name=ada, tags=[a, b], age=3}", "tags": ["a","b"], "none": "", "raw": ""}"#
        );
        // A body that is not JSON selects nothing.
        let text = TemplateInput {
            body: b"not json",
            ..input
        };
        assert_eq!(
            render("[$input.json('$.a')|$input.path('$.a')]", &text),
            "[\"\"|]"
        );
    }

    /// Compiled rendering gives exactly what reading the template afresh
    /// gives, with and without a method request, on templates stitched
    /// from references known and unknown, quiet and braced, well formed or
    /// not, and text around them.
    #[test]
    fn compiled_templates_render_as_interpreted() {
        use rand::{Rng, SeedableRng};
        const FRAGMENTS: &[&str] = &[
            "$context.requestId",
            "${context.requestId}",
            "$!context.nope",
            "$context.nope",
            "$!{context.identity.caller}",
            "$stageVariables.who",
            "$input.params('id')",
            "$!input.params('id')",
            "$input.params().header.get('x-h')",
            "$input.params().cookie.get('x')",
            "$input.params(id)",
            "$input.body",
            "$input.json('$')",
            "$input.json('$.a')",
            "$input.path('$.a')",
            "$input.json('$.nope')",
            "$input.path('$[')",
            "$util.escapeJavaScript($input.params('q'))",
            "$util.escapeJavaScript('it''s')",
            "$util.escapeJavaScript($nope)",
            "$util.urlEncode($input.params('q'))",
            "$util.base64Decode('aGk=')",
            "$util.nope('x')",
            "$unknown.thing",
            "$x",
            "$",
            "$!",
            "${",
            "${context.requestId",
            "$input.params('a",
            "#set($v = 1)",
            "$v",
            "$context.requestId.length()",
            "$stageVariables.keySet()",
            "$input.params().header.keySet()",
            "$input.params('id').toUpperCase()",
            "$input.path('$')[0]",
            "#{end}",
            "$5",
            "\"",
            "{",
            "}",
            " ",
            "text",
            "é",
            "(",
            ")",
            "'",
        ];
        let req = request();
        let ctx = RequestContext {
            request_id: "r-1".into(),
            ..Default::default()
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..5_000 {
            let n = rng.random_range(1..8);
            let template: String = (0..n)
                .map(|_| FRAGMENTS[rng.random_range(0..FRAGMENTS.len())])
                .collect();
            for request in [Some(&req), None] {
                let input = TemplateInput {
                    context: &ctx,
                    request,
                    body: b"{\"a\":1}",
                };
                let want = interpret(&template, &input);
                // Twice: compiled, then from the thread's cache.
                assert_eq!(render(&template, &input), want, "{template:?}");
                assert_eq!(render(&template, &input), want, "{template:?}");
            }
        }
    }
}
