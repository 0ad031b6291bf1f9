//! Execution logs: a request's [`ExecutionEvent`]s rendered into API
//! Gateway's lines, filtered by the method's logging level and data trace.
//!
//! Every line is one CloudWatch event whose message is `({requestId}) {text}`
//! and whose timestamp is when the step happened. Text longer than 1024
//! characters is cut to 1024 and ` [TRUNCATED]` appended (AWS's standard
//! logging limit). Secrets are masked as AWS masks them: all but the last six
//! characters become `*` (the `Authorization` and `x-api-key` headers; the
//! client's `Authorization` header is masked too, a choice where AWS's
//! behaviour is unverified).
//!
//! Which line belongs to which level follows `shared/spec/apigateway-logging.md`
//! §1.2: error lines (and, for a failed request, the closing `Method
//! completed with status`) at ERROR; the rest at INFO; request and response
//! data only with data tracing (which needs INFO). Where AWS writes nothing
//! verified for a step (MOCK success, gateway responses) the spec's
//! reconstruction is used.

use gatewatch_gateway::context::{
    ExecutionEvent, ExecutionEventKind, FailureKind, HeaderList, RequestContext,
};
use gatewatch_model::LoggingLevel;
use std::fmt::Write as _;

use crate::lines::Lines;

/// Longest text after the `({requestId}) ` prefix before it is cut.
pub const TRUNCATE_AT: usize = gatewatch_gateway::context::STANDARD_LINE_CHARS;
/// What marks a cut line.
pub const TRUNCATED: &str = " [TRUNCATED]";

/// How much to write for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verbosity {
    /// The method's logging level.
    pub level: LoggingLevel,
    /// Full request/response data (effective only at INFO).
    pub data_trace: bool,
    /// Longest line text; `None` is AWS's 1024 characters.
    pub max_line_chars: Option<usize>,
}

/// One execution-log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Event time, ms since the epoch.
    pub timestamp: i64,
    /// The message, with the `({requestId}) ` prefix.
    pub message: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Error,
    Info,
    Data,
}

/// `value` with all but its last six characters replaced by `*`.
pub fn mask(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    push_masked(&mut out, value);
    out
}

/// Appends [`mask`]`(value)` to `out`.
fn push_masked(out: &mut String, value: &str) {
    let n = value.chars().count();
    // Six characters or fewer are hidden whole.
    let hidden = if n <= 6 { n } else { n - 6 };
    out.extend(std::iter::repeat_n('*', hidden));
    if let Some((at, _)) = value.char_indices().nth(hidden) {
        out.push_str(&value[at..]);
    }
}

fn is_secret(name: &str) -> bool {
    name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("x-api-key")
}

/// `{k1=v1, k2=v2}`; repeated names are joined with `,` in one entry.
pub fn map_text(pairs: &HeaderList, mask_secrets: bool) -> String {
    let mut out = String::new();
    push_map(&mut out, pairs, mask_secrets);
    out
}

/// Appends [`map_text`]`(pairs, mask_secrets)` to `out`: each name at its
/// first appearance (spelled as there), followed by the values of every
/// pair of that name, compared without case, in order.
fn push_map(out: &mut String, pairs: &HeaderList, mask_secrets: bool) {
    out.push('{');
    let same = |a: &str, b: &str| a.len() == b.len() && a.eq_ignore_ascii_case(b);
    // Most lists repeat no name: each pair is written as it comes, and a
    // repeat found on the way starts the grouping pass over from a copy.
    let start = out.len();
    // The names so far (the first few kept at hand, so a check reads no
    // list entry twice).
    let mut names = [""; 16];
    for (i, (name, value)) in pairs.iter().enumerate() {
        let repeated = match names.get_mut(i) {
            Some(slot) => {
                *slot = name;
                names[..i].iter().any(|earlier| same(earlier, name))
            }
            None => pairs.iter().take(i).any(|(earlier, _)| same(earlier, name)),
        };
        if repeated {
            out.truncate(start);
            push_grouped(out, pairs, mask_secrets);
            return;
        }
        if i > 0 {
            out.push_str(", ");
        }
        push_pair_value(out, name, value, mask_secrets);
    }
    out.push('}');
}

/// `name=value`, the value masked when it is a secret.
fn push_pair_value(out: &mut String, name: &str, value: &str, mask_secrets: bool) {
    out.push_str(name);
    out.push('=');
    if mask_secrets && is_secret(name) {
        push_masked(out, value);
    } else {
        out.push_str(value);
    }
}

/// The rest of [`push_map`] for a list that repeats a name: each name at
/// its first appearance with every value of that name.
fn push_grouped(out: &mut String, pairs: &HeaderList, mask_secrets: bool) {
    let pairs: Vec<(&str, &str)> = pairs.iter().collect();
    let same = |a: &str, b: &str| a.len() == b.len() && a.eq_ignore_ascii_case(b);
    let mut first = true;
    for (i, &(name, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(earlier, _)| same(earlier, name)) {
            continue;
        }
        if !first {
            out.push_str(", ");
        }
        first = false;
        let secret = mask_secrets && is_secret(name);
        let mut separator = false;
        for &(other, value) in &pairs[i..] {
            if !same(other, name) {
                continue;
            }
            if separator {
                out.push(',');
            } else {
                out.push_str(name);
                out.push('=');
            }
            separator = true;
            if secret {
                push_masked(out, value);
            } else {
                out.push_str(value);
            }
        }
    }
    out.push('}');
}

/// Appends a body as data trace shows it: its text, or `[Binary Data]`.
fn push_body(out: &mut String, body: &[u8]) {
    match std::str::from_utf8(body) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str("[Binary Data]"),
    }
}

/// Milliseconds since the epoch (0 before it).
pub(crate) fn ms(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A line's text, written straight into the line buffer: formatted (for
/// the rare lines), pieces copied in order, or a label followed by a
/// header map or a body (data trace), with no text built on the side.
enum Text<'a> {
    Format(std::fmt::Arguments<'a>),
    Parts(&'a [&'a str]),
    Map(&'a str, &'a HeaderList, bool),
    Body(&'a str, &'a [u8]),
}

/// The execution-log events of one request at the given verbosity.
pub fn render(ctx: &RequestContext, events: &[ExecutionEvent], verbosity: Verbosity) -> Vec<Line> {
    let mut lines = Lines::new();
    render_into(ctx, events, verbosity, &mut lines);
    lines
        .iter()
        .map(|e| Line {
            timestamp: e.timestamp,
            message: e.message.to_string(),
        })
        .collect()
}

/// [`render`], appending the lines to `out`.
pub fn render_into(
    ctx: &RequestContext,
    events: &[ExecutionEvent],
    verbosity: Verbosity,
    out: &mut Lines,
) {
    if verbosity.level == LoggingLevel::Off {
        return;
    }
    let info = verbosity.level == LoggingLevel::Info;
    let data = info && verbosity.data_trace;
    let failed = ctx.failed();
    let limit = verbosity.max_line_chars.unwrap_or(TRUNCATE_AT);
    let wanted = |class: Class| match class {
        Class::Error => true,
        Class::Info => info,
        Class::Data => data,
    };
    // Each line is written once, straight after its request-id prefix, at
    // the end of the shared buffer; a text longer than the limit is cut
    // there.
    let mut push = |at: i64, text: Text<'_>| {
        let start = out.start();
        let message = out.text();
        message.push('(');
        message.push_str(&ctx.request_id);
        message.push_str(") ");
        let body_start = message.len();
        match text {
            Text::Format(args) => {
                let _ = message.write_fmt(args);
            }
            Text::Parts(parts) => {
                for part in parts {
                    message.push_str(part);
                }
            }
            Text::Map(label, pairs, mask_secrets) => {
                message.push_str(label);
                push_map(message, pairs, mask_secrets);
            }
            Text::Body(label, body) => {
                message.push_str(label);
                push_body(message, body);
            }
        }
        if message.len() - body_start > limit {
            if let Some((cut, _)) = message[body_start..].char_indices().nth(limit) {
                message.truncate(body_start + cut);
                message.push_str(TRUNCATED);
            }
        }
        out.end_line(at, start);
    };
    // A line is written only when its level is: ERROR-level and errors-only
    // stages skip the text of every INFO and data line.
    macro_rules! emit {
        ($at:expr, $class:expr, $text:expr $(,)?) => {{
            if wanted($class) {
                push($at, $text);
            }
        }};
    }
    // Only INFO lines name the API stage; a healthy request at ERROR level
    // writes nothing, and costs little more than this loop.
    let api_stage = if info {
        [&ctx.api_id, "/", &ctx.stage].concat()
    } else {
        String::new()
    };
    for event in events {
        // Below INFO, the events whose lines are all INFO or data lines
        // write nothing (any other kind goes through the match below); the
        // function's log lines are not execution lines.
        if !info
            && (event.kind.writes_only_info_lines()
                || matches!(event.kind, ExecutionEventKind::LambdaLogs { .. }))
        {
            continue;
        }
        let at = ms(event.at);
        match &event.kind {
            ExecutionEventKind::MethodRequest {
                path_parameters,
                query,
                headers,
                body,
            } => {
                let method = ctx.method_key.as_deref().unwrap_or(&ctx.http_method);
                let resource = ctx.resource_path.as_deref().unwrap_or("");
                emit!(
                    at,
                    Class::Info,
                    Text::Parts(&["Extended Request Id: ", &ctx.extended_request_id]),
                );
                emit!(
                    at,
                    Class::Info,
                    Text::Parts(&[
                        "Verifying Usage Plan for request: ",
                        &ctx.request_id,
                        ". API Key: API Stage: ",
                        &api_stage,
                    ]),
                );
                emit!(
                    at,
                    Class::Info,
                    Text::Parts(&[
                        "API Key authorized because method '",
                        method,
                        " ",
                        resource,
                        "' does not require API Key. Request will not contribute to throttle or quota limits",
                    ]),
                );
                emit!(
                    at,
                    Class::Info,
                    Text::Parts(&[
                        "Usage Plan check succeeded for API Key and API Stage ",
                        &api_stage
                    ]),
                );
                emit!(
                    at,
                    Class::Info,
                    Text::Parts(&["Starting execution for request: ", &ctx.request_id]),
                );
                emit!(
                    at,
                    Class::Info,
                    Text::Parts(&[
                        "HTTP Method: ",
                        &ctx.http_method,
                        ", Resource Path: ",
                        &ctx.path_without_stage,
                    ]),
                );
                emit!(
                    at,
                    Class::Data,
                    Text::Map("Method request path: ", path_parameters, false),
                );
                emit!(
                    at,
                    Class::Data,
                    Text::Map("Method request query string: ", query, false),
                );
                emit!(
                    at,
                    Class::Data,
                    Text::Map("Method request headers: ", headers, true),
                );
                emit!(
                    at,
                    Class::Data,
                    Text::Body("Method request body before transformations: ", body),
                );
            }
            ExecutionEventKind::EndpointRequest { uri, headers, body } => {
                emit!(
                    at,
                    Class::Data,
                    Text::Parts(&["Endpoint request URI: ", uri])
                );
                emit!(
                    at,
                    Class::Data,
                    Text::Map("Endpoint request headers: ", headers, true),
                );
                emit!(
                    at,
                    Class::Data,
                    Text::Body("Endpoint request body after transformations: ", body),
                );
                emit!(at, Class::Info, Text::Parts(&["Sending request to ", uri]));
            }
            ExecutionEventKind::EndpointResponse {
                status,
                latency_ms,
                headers,
                body,
            } => {
                emit!(
                    at,
                    Class::Info,
                    Text::Parts(&[
                        "Received response. Status: ",
                        itoa::Buffer::new().format(*status),
                        ", Integration latency: ",
                        itoa::Buffer::new().format(*latency_ms),
                        " ms",
                    ]),
                );
                emit!(
                    at,
                    Class::Data,
                    Text::Map("Endpoint response headers: ", headers, false),
                );
                if let Some(body) = body {
                    emit!(
                        at,
                        Class::Data,
                        Text::Body("Endpoint response body before transformations: ", body),
                    );
                }
            }
            ExecutionEventKind::MethodResponse { headers, body, .. } => {
                if let Some(body) = body {
                    let label = "Method response body after transformations: ";
                    if body.is_empty() {
                        emit!(at, Class::Data, Text::Parts(&[label, "(null)"]));
                    } else {
                        emit!(at, Class::Data, Text::Body(label, body));
                    }
                }
                emit!(
                    at,
                    Class::Data,
                    Text::Map("Method response headers: ", headers, false),
                );
            }
            ExecutionEventKind::Failure { kind, detail } => {
                let parts: [&str; 2] = match kind {
                    FailureKind::Timeout => ["Execution failed due to a timeout error", ""],
                    FailureKind::Configuration => {
                        ["Execution failed due to configuration error: ", detail]
                    }
                    FailureKind::Network => ["Execution failed: ", detail],
                    FailureKind::Lambda => [detail, ""],
                };
                emit!(at, Class::Error, Text::Parts(&parts));
            }
            ExecutionEventKind::GatewayResponse {
                response_type,
                status,
                body,
                headers,
            } => {
                emit!(
                    at,
                    Class::Error,
                    Text::Format(format_args!(
                        "Gateway response type: {response_type} with status code: {status}"
                    )),
                );
                emit!(at, Class::Data, Text::Body("Gateway response body: ", body));
                emit!(
                    at,
                    Class::Data,
                    Text::Map("Gateway response headers: ", headers, false),
                );
            }
            ExecutionEventKind::Succeeded => {
                emit!(
                    at,
                    Class::Info,
                    Text::Parts(&["Successfully completed execution"]),
                )
            }
            // Written to the function's own log group by the writer.
            ExecutionEventKind::LambdaLogs { .. } => {}
            ExecutionEventKind::Completed { status } => {
                let class = if failed { Class::Error } else { Class::Info };
                emit!(
                    at,
                    class,
                    Text::Parts(&[
                        "Method completed with status: ",
                        itoa::Buffer::new().format(*status),
                    ]),
                );
                if let Some(id) = &ctx.integration.request_id {
                    emit!(
                        at,
                        class,
                        Text::Parts(&["AWS Integration Endpoint RequestId : ", id]),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
