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

use gatewatch_gateway::context::{ExecutionEvent, ExecutionEventKind, FailureKind, RequestContext};
use gatewatch_model::LoggingLevel;
use std::fmt::Write as _;

/// Longest text after the `({requestId}) ` prefix before it is cut.
pub const TRUNCATE_AT: usize = 1024;
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
    let n = value.chars().count();
    if n <= 6 {
        return "*".repeat(n);
    }
    let keep: String = value.chars().skip(n - 6).collect();
    format!("{}{keep}", "*".repeat(n - 6))
}

fn is_secret(name: &str) -> bool {
    name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("x-api-key")
}

/// `{k1=v1, k2=v2}`; repeated names are joined with `,` in one entry.
pub fn map_text(pairs: &[(String, String)], mask_secrets: bool) -> String {
    let mut merged: Vec<(String, String)> = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        let v = if mask_secrets && is_secret(k) {
            mask(v)
        } else {
            v.clone()
        };
        match merged
            .iter_mut()
            .find(|(name, _)| name.eq_ignore_ascii_case(k))
        {
            Some((_, existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            None => merged.push((k.clone(), v)),
        }
    }
    let inner: Vec<String> = merged
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

fn body_text(body: &[u8]) -> String {
    match std::str::from_utf8(body) {
        Ok(s) => s.to_string(),
        Err(_) => "[Binary Data]".to_string(),
    }
}

fn ms(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A line's text: formatted, or (for the lines every request writes, where
/// `fmt` costs a few hundred instructions a line) pieces copied in order.
enum Text<'a> {
    Format(std::fmt::Arguments<'a>),
    Parts(&'a [&'a str]),
}

/// The execution-log events of one request at the given verbosity.
pub fn render(ctx: &RequestContext, events: &[ExecutionEvent], verbosity: Verbosity) -> Vec<Line> {
    if verbosity.level == LoggingLevel::Off {
        return Vec::new();
    }
    let info = verbosity.level == LoggingLevel::Info;
    let data = info && verbosity.data_trace;
    let failed = ctx.status.is_some_and(|s| s >= 400) || ctx.error.response_type.is_some();
    // Concatenated: `format!` costs more than the concatenation itself.
    let prefix = ["(", &ctx.request_id, ") "].concat();
    let limit = verbosity.max_line_chars.unwrap_or(TRUNCATE_AT);
    // About two lines per event at INFO: one allocation for most requests.
    // ERROR-level requests mostly write none, and allocate nothing.
    let mut out = Vec::with_capacity(if info { events.len() * 2 } else { 0 });
    let wanted = |class: Class| match class {
        Class::Error => true,
        Class::Info => info,
        Class::Data => data,
    };
    // Each line is formatted once, straight after its request-id prefix,
    // in one buffer; a text longer than the limit is cut there.
    let mut push = |at: i64, text: Text<'_>| {
        // Room for the longer INFO lines (a usage-plan line runs past 120).
        let mut message = String::with_capacity(prefix.len() + 160);
        message.push_str(&prefix);
        match text {
            Text::Format(args) => {
                let _ = message.write_fmt(args);
            }
            Text::Parts(parts) => {
                for part in parts {
                    message.push_str(part);
                }
            }
        }
        let body = &message[prefix.len()..];
        if body.len() > limit {
            if let Some((cut, _)) = body.char_indices().nth(limit) {
                message.truncate(prefix.len() + cut);
                message.push_str(TRUNCATED);
            }
        }
        out.push(Line {
            timestamp: at,
            message,
        });
    };
    // A line is formatted only when its level is written: ERROR-level and
    // errors-only stages skip the text of every INFO and data line.
    macro_rules! emit {
        ($at:expr, $class:expr, format!($($arg:tt)*) $(,)?) => {{
            if wanted($class) {
                push($at, Text::Format(format_args!($($arg)*)));
            }
        }};
        ($at:expr, $class:expr, parts[$($part:expr),+ $(,)?] $(,)?) => {{
            if wanted($class) {
                push($at, Text::Parts(&[$($part),+]));
            }
        }};
        ($at:expr, $class:expr, $text:expr $(,)?) => {{
            if wanted($class) {
                push($at, Text::Format(format_args!("{}", $text)));
            }
        }};
    }
    let api_stage = [&ctx.api_id, "/", &ctx.stage].concat();
    for event in events {
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
                    parts["Extended Request Id: ", &ctx.extended_request_id],
                );
                emit!(
                    at,
                    Class::Info,
                    parts[
                        "Verifying Usage Plan for request: ",
                        &ctx.request_id,
                        ". API Key: API Stage: ",
                        &api_stage,
                    ],
                );
                emit!(
                    at,
                    Class::Info,
                    parts[
                        "API Key authorized because method '",
                        method,
                        " ",
                        resource,
                        "' does not require API Key. Request will not contribute to throttle or quota limits",
                    ],
                );
                emit!(
                    at,
                    Class::Info,
                    parts["Usage Plan check succeeded for API Key and API Stage ", &api_stage],
                );
                emit!(
                    at,
                    Class::Info,
                    parts["Starting execution for request: ", &ctx.request_id],
                );
                emit!(
                    at,
                    Class::Info,
                    parts[
                        "HTTP Method: ",
                        &ctx.http_method,
                        ", Resource Path: ",
                        &ctx.path_without_stage,
                    ],
                );
                emit!(
                    at,
                    Class::Data,
                    format!("Method request path: {}", map_text(path_parameters, false)),
                );
                emit!(
                    at,
                    Class::Data,
                    format!("Method request query string: {}", map_text(query, false)),
                );
                emit!(
                    at,
                    Class::Data,
                    format!("Method request headers: {}", map_text(headers, true)),
                );
                emit!(
                    at,
                    Class::Data,
                    format!(
                        "Method request body before transformations: {}",
                        body_text(body)
                    ),
                );
            }
            ExecutionEventKind::EndpointRequest { uri, headers, body } => {
                emit!(at, Class::Data, format!("Endpoint request URI: {uri}"));
                emit!(
                    at,
                    Class::Data,
                    format!("Endpoint request headers: {}", map_text(headers, true)),
                );
                emit!(
                    at,
                    Class::Data,
                    format!(
                        "Endpoint request body after transformations: {}",
                        body_text(body)
                    ),
                );
                emit!(at, Class::Info, format!("Sending request to {uri}"));
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
                    format!(
                        "Received response. Status: {status}, Integration latency: {latency_ms} ms"
                    ),
                );
                emit!(
                    at,
                    Class::Data,
                    format!("Endpoint response headers: {}", map_text(headers, false)),
                );
                if let Some(body) = body {
                    emit!(
                        at,
                        Class::Data,
                        format!(
                            "Endpoint response body before transformations: {}",
                            body_text(body)
                        ),
                    );
                }
            }
            ExecutionEventKind::MethodResponse { headers, body, .. } => {
                if let Some(body) = body {
                    let text = if body.is_empty() {
                        "(null)".to_string()
                    } else {
                        body_text(body)
                    };
                    emit!(
                        at,
                        Class::Data,
                        format!("Method response body after transformations: {text}"),
                    );
                }
                emit!(
                    at,
                    Class::Data,
                    format!("Method response headers: {}", map_text(headers, false)),
                );
            }
            ExecutionEventKind::Failure { kind, detail } => {
                let text = match kind {
                    FailureKind::Timeout => "Execution failed due to a timeout error".to_string(),
                    FailureKind::Configuration => {
                        format!("Execution failed due to configuration error: {detail}")
                    }
                    FailureKind::Network => format!("Execution failed: {detail}"),
                    FailureKind::Lambda => detail.clone(),
                };
                emit!(at, Class::Error, text);
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
                    format!("Gateway response type: {response_type} with status code: {status}"),
                );
                emit!(
                    at,
                    Class::Data,
                    format!("Gateway response body: {}", body_text(body)),
                );
                emit!(
                    at,
                    Class::Data,
                    format!("Gateway response headers: {}", map_text(headers, false)),
                );
            }
            ExecutionEventKind::Succeeded => {
                emit!(at, Class::Info, parts["Successfully completed execution"],)
            }
            // Written to the function's own log group by the writer.
            ExecutionEventKind::LambdaLogs { .. } => {}
            ExecutionEventKind::Completed { status } => {
                let class = if failed { Class::Error } else { Class::Info };
                emit!(
                    at,
                    class,
                    parts[
                        "Method completed with status: ",
                        itoa::Buffer::new().format(*status),
                    ],
                );
                if let Some(id) = &ctx.integration.request_id {
                    emit!(
                        at,
                        class,
                        format!("AWS Integration Endpoint RequestId : {id}"),
                    );
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
