//! `x-amazon-apigateway-integration`: one method's backend.

use serde_json::{Map, Value};

use super::{child, status_code, string_map, Sink};
use crate::api::{
    Integration, IntegrationResponse, IntegrationType, Method, PassthroughBehavior, PathPart,
    DEFAULT_TIMEOUT_MS, MIN_TIMEOUT_MS,
};

/// Fields of the extension object that AWS defines.
const KNOWN_FIELDS: &[&str] = &[
    "type",
    "uri",
    "httpMethod",
    "requestParameters",
    "requestTemplates",
    "passthroughBehavior",
    "timeoutInMillis",
    "responses",
    "contentHandling",
    "cacheKeyParameters",
    "cacheNamespace",
    "connectionType",
    "connectionId",
    "credentials",
    "tlsConfig",
    "integrationSubtype",
    "payloadFormatVersion",
];

/// True for a mapping source expression API Gateway accepts on the right-hand
/// side of a parameter mapping: a quoted literal, `method.request.*`,
/// `integration.response.*`, `stageVariables.*` or `context.*`.
pub(crate) fn is_mapping_source(expr: &str) -> bool {
    let expr = expr.trim();
    if expr.len() >= 2 && expr.starts_with('\'') && expr.ends_with('\'') {
        return true;
    }
    const PREFIXES: &[&str] = &[
        "method.request.path.",
        "method.request.querystring.",
        "method.request.multivaluequerystring.",
        "method.request.header.",
        "method.request.multivalueheader.",
        "method.request.body",
        "integration.response.header.",
        "integration.response.multivalueheader.",
        "integration.response.body",
        "stageVariables.",
        "context.",
    ];
    PREFIXES
        .iter()
        .any(|p| expr.starts_with(p) && (p.ends_with("body") || expr.len() > p.len()))
}

pub(super) fn import_integration(
    spec: &Value,
    path: &str,
    method: &Method,
    pointer: &str,
    sink: &mut Sink,
) -> Option<Integration> {
    let Some(obj) = spec.as_object() else {
        sink.error(pointer, "The integration must be an object");
        return None;
    };
    let where_ = format!(
        "Unable to put integration on '{}' for resource at path '{path}'",
        method.http_method
    );
    for key in obj.keys() {
        if !KNOWN_FIELDS.contains(&key.as_str()) {
            sink.warning(
                &child(pointer, key),
                format!("Unknown integration field '{key}' is ignored"),
            );
        }
    }
    let kind = match obj.get("type").and_then(Value::as_str) {
        Some(t) => match t.parse::<IntegrationType>() {
            Ok(kind) => kind,
            Err(()) => {
                sink.error(&child(pointer, "type"), format!("{where_}: Invalid integration type '{t}'; valid types are mock, http, http_proxy, aws, aws_proxy"));
                return None;
            }
        },
        None => {
            sink.error(
                pointer,
                format!("{where_}: Enumeration value for IntegrationType must be non-empty"),
            );
            return None;
        }
    };
    let mut integration = Integration::new(kind);
    integration.uri = obj.get("uri").and_then(Value::as_str).map(String::from);
    integration.http_method = obj
        .get("httpMethod")
        .and_then(Value::as_str)
        .map(|m| m.to_ascii_uppercase());
    integration.content_handling = obj
        .get("contentHandling")
        .and_then(Value::as_str)
        .map(String::from);

    check_uri(&integration, &where_, pointer, sink);

    if let Some(tls) = obj.get("tlsConfig") {
        match tls.get("insecureSkipVerification") {
            None => {}
            Some(Value::Bool(b)) => integration.tls_insecure_skip_verification = *b,
            Some(other) => sink.error(
                &child(&child(pointer, "tlsConfig"), "insecureSkipVerification"),
                format!("{where_}: insecureSkipVerification must be true or false, got {other}"),
            ),
        }
    }

    if let Some(m) = &integration.http_method {
        if !crate::api::HTTP_METHODS.contains(&m.as_str()) {
            sink.error(
                &child(pointer, "httpMethod"),
                format!("{where_}: Invalid HTTP method '{m}'"),
            );
        }
        if kind == IntegrationType::AwsProxy && m != "POST" {
            sink.warning(&child(pointer, "httpMethod"), "Lambda proxy integrations are invoked with POST; API Gateway fails other methods at request time");
        }
    } else if kind != IntegrationType::Mock {
        sink.error(
            pointer,
            format!("{where_}: Enumeration value for HttpMethod must be non-empty"),
        );
    }

    if let Some(t) = obj.get("timeoutInMillis") {
        match t.as_u64() {
            Some(ms) if (u64::from(MIN_TIMEOUT_MS)..=u64::from(DEFAULT_TIMEOUT_MS)).contains(&ms) => integration.timeout_ms = ms as u32,
            _ => sink.error(&child(pointer, "timeoutInMillis"), format!("{where_}: Timeout should be between {MIN_TIMEOUT_MS} ms and {DEFAULT_TIMEOUT_MS} ms, got {t}")),
        }
    }
    if let Some(p) = obj.get("passthroughBehavior") {
        match p.as_str().and_then(|s| s.parse::<PassthroughBehavior>().ok()) {
            Some(b) => integration.passthrough_behavior = b,
            None => sink.error(&child(pointer, "passthroughBehavior"), format!("{where_}: Invalid passthrough behavior {p}; valid values are when_no_match, when_no_templates, never")),
        }
    }

    let params_ptr = child(pointer, "requestParameters");
    integration.request_parameters = string_map(obj.get("requestParameters"), &params_ptr, sink);
    for (target, source) in &integration.request_parameters {
        check_request_mapping(
            target,
            source,
            path,
            method,
            &child(&params_ptr, target),
            sink,
        );
    }
    integration.request_templates = lowercase_keys(string_map(
        obj.get("requestTemplates"),
        &child(pointer, "requestTemplates"),
        sink,
    ));
    if let Some(responses) = obj.get("responses") {
        integration.responses = import_responses(responses, &child(pointer, "responses"), sink);
    }
    if kind == IntegrationType::Mock && integration.responses.is_empty() {
        sink.warning(pointer, "A mock integration without 'responses' answers every request with 500 Internal server error");
    }
    Some(integration)
}

fn check_uri(integration: &Integration, where_: &str, pointer: &str, sink: &mut Sink) {
    let at = child(pointer, "uri");
    let uri = integration.uri.as_deref();
    match integration.kind {
        IntegrationType::Mock => {}
        IntegrationType::Http | IntegrationType::HttpProxy => match uri {
            None => sink.error(
                pointer,
                format!("{where_}: Integration URI is required for HTTP integrations"),
            ),
            Some(u) => {
                let lower = u.to_ascii_lowercase();
                let starts_with_var = u.starts_with("${stageVariables.");
                if !(lower.starts_with("http://")
                    || lower.starts_with("https://")
                    || starts_with_var)
                {
                    sink.error(
                        &at,
                        format!("{where_}: Invalid HTTP endpoint specified for URI '{u}'"),
                    );
                }
            }
        },
        IntegrationType::Aws | IntegrationType::AwsProxy => match uri {
            None => sink.error(
                pointer,
                format!("{where_}: Integration URI is required for AWS integrations"),
            ),
            Some(u) => {
                if !u.starts_with("arn:aws:apigateway:") {
                    sink.error(&at, format!("{where_}: AWS ARN for integration must start with arn:aws:apigateway: (got '{u}')"));
                } else if integration.kind == IntegrationType::AwsProxy
                    && !(u.contains(":lambda:path/2015-03-31/functions/")
                        && u.ends_with("/invocations"))
                {
                    sink.error(&at, format!("{where_}: Lambda proxy URI must look like arn:aws:apigateway:{{region}}:lambda:path/2015-03-31/functions/{{functionArn}}/invocations (got '{u}')"));
                }
            }
        },
    }
}

/// `integration.request.{path|querystring|header}.{name}` ← source.
fn check_request_mapping(
    target: &str,
    source: &str,
    path: &str,
    method: &Method,
    pointer: &str,
    sink: &mut Sink,
) {
    let valid_target = [
        "integration.request.path.",
        "integration.request.querystring.",
        "integration.request.header.",
        "integration.request.multivaluequerystring.",
        "integration.request.multivalueheader.",
    ]
    .iter()
    .any(|p| target.starts_with(p) && target.len() > p.len());
    if !valid_target {
        sink.error(pointer, format!("Invalid mapping expression specified: {target}: expected integration.request.{{path|querystring|header}}.{{name}}"));
        return;
    }
    if !is_mapping_source(source) {
        sink.error(
            pointer,
            format!("Invalid mapping expression specified: {source}"),
        );
        return;
    }
    if let Some(name) = source.strip_prefix("method.request.path.") {
        let declared = path.split('/').any(
            |s| matches!(PathPart::parse(s), PathPart::Param(n) | PathPart::Greedy(n) if n == name),
        );
        if !declared {
            sink.error(pointer, format!("Invalid mapping expression parameter specified: {source}: the resource path {path} has no {{{name}}}"));
        }
    } else if let Some(rest) = source.strip_prefix("method.request.") {
        let declared = method.request_parameters.contains_key(source)
            || rest.starts_with("multivalue")
            || rest.starts_with("body");
        if !declared {
            sink.warning(pointer, format!("{source} is not declared as a parameter of the method; it maps to nothing when absent"));
        }
    }
}

fn import_responses(value: &Value, pointer: &str, sink: &mut Sink) -> Vec<IntegrationResponse> {
    let Some(map) = value.as_object() else {
        sink.error(
            pointer,
            "'responses' must be an object keyed by selection pattern",
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut default = None;
    for (pattern, spec) in map {
        let at = child(pointer, pattern);
        if let Some(r) = import_response(pattern, spec, &at, sink) {
            if r.selection_pattern.is_none() {
                default = Some(r);
            } else {
                out.push(r);
            }
        }
    }
    out.extend(default);
    out
}

pub(super) fn import_response(
    pattern: &str,
    spec: &Value,
    pointer: &str,
    sink: &mut Sink,
) -> Option<IntegrationResponse> {
    let Some(obj): Option<&Map<String, Value>> = spec.as_object() else {
        sink.error(pointer, "An integration response must be an object");
        return None;
    };
    let selection_pattern = if pattern == "default" {
        None
    } else {
        if let Err(e) = regex::Regex::new(&format!("^(?:{pattern})$")) {
            sink.error(
                pointer,
                format!(
                    "Invalid selection pattern '{pattern}': {}",
                    e.to_string().lines().last().unwrap_or("")
                ),
            );
            return None;
        }
        Some(pattern.to_string())
    };
    let status = match obj.get("statusCode") {
        Some(code) => match status_code(code) {
            Some(c) => c.to_string(),
            None => {
                sink.error(
                    &child(pointer, "statusCode"),
                    format!("Invalid status code {code}: expected 100-599"),
                );
                return None;
            }
        },
        None => {
            sink.error(pointer, "An integration response needs a statusCode");
            return None;
        }
    };
    let params_ptr = child(pointer, "responseParameters");
    let response_parameters = string_map(obj.get("responseParameters"), &params_ptr, sink);
    for (target, source) in &response_parameters {
        if !target.starts_with("method.response.header.") {
            sink.error(&child(&params_ptr, target), format!("Invalid mapping expression specified: {target}: expected method.response.header.{{name}}"));
        } else if !is_mapping_source(source) {
            sink.error(
                &child(&params_ptr, target),
                format!("Invalid mapping expression specified: {source}"),
            );
        }
    }
    Some(IntegrationResponse {
        selection_pattern,
        status_code: status,
        response_parameters,
        response_templates: lowercase_keys(string_map(
            obj.get("responseTemplates"),
            &child(pointer, "responseTemplates"),
            sink,
        )),
        content_handling: obj
            .get("contentHandling")
            .and_then(Value::as_str)
            .map(String::from),
    })
}

/// Template maps are keyed by media type, which is case-insensitive.
fn lowercase_keys(
    map: std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
    map.into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect()
}
