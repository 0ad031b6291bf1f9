//! Shared mapping steps of non-proxy integrations: parameter-mapping
//! expressions, request-template selection with passthrough behaviour,
//! integration-response selection, and the integration URI.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock, RwLock};

use bytes::Bytes;
use gatewatch_model::{GatewayResponseType, Integration, IntegrationResponse, PassthroughBehavior};
use http::HeaderMap;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use regex::Regex;

use crate::context::{
    ContextVariable, ExecutionEventKind, ExecutionTrace, HeaderList, RequestContext,
};
use crate::request::MethodRequest;
use crate::response::GatewayError;
use crate::template::{self, Overridden, Overrides, TemplateInput};

/// The backend response as response mappings see it.
pub struct BackendView<'a> {
    /// Backend headers.
    pub headers: &'a HeaderMap,
    /// Backend body.
    pub body: &'a [u8],
}

/// Evaluates a parameter-mapping source: `'literal'`,
/// `method.request.{path|querystring|header}.name`, `stageVariables.name`,
/// `context.name`, `integration.response.header.name`,
/// `integration.response.body[.json.path]`. `None` when the source has no value.
pub fn eval_source(
    expr: &str,
    ctx: &RequestContext,
    request: Option<&MethodRequest>,
    backend: Option<&BackendView>,
) -> Option<String> {
    let expr = expr.trim();
    if expr.len() >= 2 && expr.starts_with('\'') && expr.ends_with('\'') {
        return Some(expr[1..expr.len() - 1].to_string());
    }
    if let Some(name) = expr.strip_prefix("context.") {
        return ContextVariable::parse(name)?
            .value(ctx)
            .map(|v| v.into_owned());
    }
    if let Some(rest) = expr.strip_prefix("method.request.") {
        let r = request?;
        let (location, name) = rest.split_once('.').unwrap_or((rest, ""));
        return match location {
            "path" => r.path_param(name).map(String::from),
            "querystring" => r.query_param(name).map(String::from),
            "multivaluequerystring" => {
                let values: Vec<&str> = r
                    .query
                    .iter()
                    .filter(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
                    .collect();
                (!values.is_empty()).then(|| values.join(","))
            }
            "header" => r.mapped_header(name, ctx).map(Cow::into_owned),
            // The front end's headers have one value, as it sets them.
            "multivalueheader" if r.is_front_end_header(name) => {
                r.mapped_header(name, ctx).map(Cow::into_owned)
            }
            "multivalueheader" => {
                let values: Vec<&str> = r
                    .headers
                    .get_all(name)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect();
                (!values.is_empty()).then(|| values.join(","))
            }
            "body" => Some(String::from_utf8_lossy(&r.body).into_owned()),
            _ => None,
        };
    }
    if let Some(name) = expr.strip_prefix("stageVariables.") {
        return request
            .and_then(|r| r.stage_variable(name))
            .map(String::from);
    }
    if let Some(rest) = expr.strip_prefix("integration.response.") {
        let b = backend?;
        if let Some(name) = rest
            .strip_prefix("header.")
            .or_else(|| rest.strip_prefix("multivalueheader."))
        {
            let values: Vec<&str> = b
                .headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            return (!values.is_empty()).then(|| values.join(","));
        }
        if rest == "body" {
            return Some(String::from_utf8_lossy(b.body).into_owned());
        }
        if let Some(path) = rest.strip_prefix("body.") {
            let json: serde_json::Value = serde_json::from_slice(b.body).ok()?;
            let mut node = &json;
            for key in path.split('.') {
                node = node.get(key)?;
            }
            return Some(match node {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        }
    }
    None
}

/// The request body sent to a non-proxy integration: the request template
/// for the request's content type rendered, or the body passed through as the
/// passthrough behaviour allows. Returns the body, its content type and
/// what the template overrode (`$context.requestOverride.*`).
pub fn integration_request_body<'a>(
    integration: &Integration,
    request: &'a MethodRequest,
    ctx: &RequestContext,
) -> Result<(Bytes, Cow<'a, str>, Overridden), GatewayError> {
    // Borrowed unless the header needs lowercasing: most requests send no
    // content type or a lowercase one.
    let content_type = request
        .header(http::header::CONTENT_TYPE)
        .and_then(|c| c.split(';').next())
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map_or(Cow::Borrowed("application/json"), |c| {
            if c.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(c.to_ascii_lowercase())
            } else {
                Cow::Borrowed(c)
            }
        });
    let templates = &integration.request_templates;
    if let Some(t) = templates.get(&*content_type) {
        let input = TemplateInput {
            context: ctx,
            request: Some(request),
            body: &request.body,
        };
        let (body, overrides) = template::render_with_overrides(t, &input);
        if let Some(overrides) = &overrides {
            check_render(overrides)?;
        }
        return Ok((Bytes::from(body), content_type, overrides));
    }
    let pass = match integration.passthrough_behavior {
        PassthroughBehavior::WhenNoMatch => true,
        PassthroughBehavior::WhenNoTemplates => templates.is_empty(),
        PassthroughBehavior::Never => false,
    };
    if pass {
        Ok((request.body.clone(), content_type, None))
    } else {
        Err(GatewayError::new(GatewayResponseType::UnsupportedMediaType))
    }
}

/// Compiled selection patterns, shared (`Arc`) so a lookup clones no
/// matching caches.
fn selection_regex(pattern: &str) -> Option<Arc<Regex>> {
    static CACHE: OnceLock<RwLock<HashMap<String, Option<Arc<Regex>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(r) = cache.read().ok().and_then(|c| c.get(pattern).cloned()) {
        return r;
    }
    let compiled = Regex::new(&format!("^(?:{pattern})$")).ok().map(Arc::new);
    if let Ok(mut c) = cache.write() {
        if c.len() < 4096 {
            c.insert(pattern.to_string(), compiled.clone());
        }
    }
    compiled
}

/// Selects the integration response whose selection pattern matches
/// `selector` (a status code, or a Lambda error message), else the default.
pub fn select_response<'a>(
    responses: &'a [IntegrationResponse],
    selector: &str,
) -> Option<&'a IntegrationResponse> {
    responses
        .iter()
        .filter(|r| r.selection_pattern.is_some())
        .find(|r| {
            r.selection_pattern
                .as_deref()
                .and_then(selection_regex)
                .is_some_and(|re| re.is_match(selector))
        })
        .or_else(|| responses.iter().find(|r| r.selection_pattern.is_none()))
}

/// A method response built by response mapping.
pub struct MappedResponse<'a> {
    /// Status.
    pub status: u16,
    /// Headers from `responseParameters`, plus `Content-Type`.
    pub headers: HeaderMap,
    /// Body after transformations.
    pub body: Bytes,
    /// The chosen integration response's `responseParameters`: how its
    /// mappings spell the headers (for the data trace).
    pub parameters: &'a BTreeMap<String, String>,
    /// The headers the response template overrode, as it spelled them.
    pub overridden: Vec<String>,
}

impl MappedResponse<'_> {
    /// Records the method response and turns it into the integration's reply.
    pub fn into_reply(self, trace: &mut ExecutionTrace) -> super::IntegrationReply {
        // Under errors-only tracing a mapped response below 400 ends a
        // healthy request, whose data is never written.
        let keep_data = trace.data && !(trace.errors_only && self.status < 400);
        trace.push(ExecutionEventKind::MethodResponse {
            status: self.status,
            headers: if keep_data {
                self.logged_headers()
            } else {
                HeaderList::new()
            },
            body: keep_data.then(|| self.body.clone()),
        });
        super::IntegrationReply {
            status: http::StatusCode::from_u16(self.status)
                .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
            headers: self.headers,
            body: super::ReplyBody::Full(self.body),
        }
    }
}

impl MappedResponse<'_> {
    /// The method response headers as the data trace shows them: each named
    /// as its `method.response.header.NAME` mapping spells it, the content
    /// type as `Content-Type`.
    fn logged_headers(&self) -> HeaderList {
        let mut list = HeaderList::with_capacity(self.headers.len(), 64);
        for (name, value) in &self.headers {
            let spelled = self
                .overridden
                .iter()
                .map(String::as_str)
                .chain(
                    self.parameters
                        .keys()
                        .filter_map(|target| target.strip_prefix("method.response.header.")),
                )
                .find(|n| n.eq_ignore_ascii_case(name.as_str()))
                .unwrap_or(match name.as_str() {
                    "content-type" => "Content-Type",
                    other => other,
                });
            list.push(spelled, &String::from_utf8_lossy(value.as_bytes()));
        }
        list
    }
}

/// Maps a backend (or mock) response through the integration responses.
pub fn map_response<'a>(
    integration: &'a Integration,
    selector: &str,
    backend: &BackendView,
    request: &MethodRequest,
    ctx: &RequestContext,
) -> Result<MappedResponse<'a>, GatewayError> {
    let Some(chosen) = select_response(&integration.responses, selector) else {
        return Err(GatewayError::configuration(format!(
            "No match for output mapping and no default output mapping configured. Endpoint Response Status Code: {selector}"
        )));
    };
    let status: u16 = chosen.status_code.parse().unwrap_or(500);
    // Room for the mapped headers, the content type and the ids the gateway
    // adds to every response, so the map is not regrown.
    let mut headers = HeaderMap::with_capacity(
        chosen.response_parameters.len() + 1 + crate::response::STANDARD_HEADERS,
    );
    for (target, source) in &chosen.response_parameters {
        let Some(name) = target.strip_prefix("method.response.header.") else {
            continue;
        };
        if let Some(value) = eval_source(source, ctx, Some(request), Some(backend)) {
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(&value),
            ) {
                headers.append(n, v);
            }
        }
    }
    let accept = request
        .headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let template = chosen
        .response_templates
        .iter()
        .find(|(ct, _)| {
            accept.split(',').any(|a| {
                a.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case(ct)
            })
        })
        .or_else(|| chosen.response_templates.get_key_value("application/json"))
        .or_else(|| chosen.response_templates.iter().next());
    let (body, content_type, overrides) = match template {
        Some((ct, t)) => {
            let input = TemplateInput {
                context: ctx,
                request: Some(request),
                body: backend.body,
            };
            let (body, overrides) = template::render_with_overrides(t, &input);
            (Bytes::from(body), ct.as_str(), overrides)
        }
        // Non-proxy integrations do not pass backend headers through: the
        // method response is application/json unless a mapping says otherwise.
        None => (
            Bytes::copy_from_slice(backend.body),
            "application/json",
            None,
        ),
    };
    if !headers.contains_key(http::header::CONTENT_TYPE) {
        let value = if content_type == "application/json" {
            Ok(http::HeaderValue::from_static("application/json"))
        } else {
            http::HeaderValue::from_str(content_type)
        };
        if let Ok(v) = value {
            headers.insert(http::header::CONTENT_TYPE, v);
        }
    }
    let mut status = status;
    let mut overridden = Vec::new();
    if let Some(overrides) = overrides {
        check_render(&overrides)?;
        if let Some(value) = &overrides.status {
            status = value
                .trim()
                .parse()
                .ok()
                .filter(|s| (100..=599).contains(s))
                .ok_or_else(|| {
                    GatewayError::configuration(format!(
                        "Invalid status code override in the mapping template: {value}"
                    ))
                })?;
        }
        for (name, value) in overrides.response_headers {
            let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(&value),
            ) else {
                return Err(invalid_header_override(&name));
            };
            headers.insert(n, v);
            overridden.push(name);
        }
    }
    Ok(MappedResponse {
        status,
        headers,
        body,
        parameters: &chosen.response_parameters,
        overridden,
    })
}

/// A render that reached a limit, or overrode one parameter twice (API
/// Gateway answers with a 5XX; the wording of the log line is Gatewatch's).
fn check_render(overrides: &Overrides) -> Result<(), GatewayError> {
    if let Some(limit) = overrides.limit {
        return Err(GatewayError::configuration(format!(
            "The mapping template reached a limit: {limit}"
        )));
    }
    if let Some(name) = &overrides.repeated {
        return Err(GatewayError::configuration(format!(
            "The mapping template overrides ${name} more than once; overrides are final"
        )));
    }
    Ok(())
}

/// An overridden header whose name or value cannot be sent.
pub(crate) fn invalid_header_override(name: &str) -> GatewayError {
    GatewayError::configuration(format!(
        "Invalid header override in the mapping template: {name}"
    ))
}

/// Characters escaped in a substituted path parameter.
const PATH_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Encodes a value substituted into the backend path. A greedy parameter
/// keeps its `/` separators; each of its segments is encoded on its own, and
/// `.`/`..` segments are escaped so they cannot climb out of the backend path.
fn encode_path_value(value: &str, greedy: bool) -> String {
    let encode_segment = |seg: &str| -> String {
        match seg {
            "." => "%2E".to_string(),
            ".." => "%2E%2E".to_string(),
            _ => utf8_percent_encode(seg, PATH_VALUE).to_string(),
        }
    };
    if greedy {
        value
            .split('/')
            .map(encode_segment)
            .collect::<Vec<_>>()
            .join("/")
    } else {
        encode_segment(value)
    }
}

/// Builds the backend URI: `${stageVariables.x}` replaced by stage variables,
/// `{name}` by the `integration.request.path.name` mapping (falling back to
/// the method request's path parameter of the same name).
pub fn integration_uri(
    integration: &Integration,
    request: &MethodRequest,
    ctx: &RequestContext,
) -> Result<String, GatewayError> {
    integration_uri_with(integration, request, ctx, &[])
}

/// [`integration_uri`], with the path parameters a request template
/// overrode (`$context.requestOverride.path.NAME`) in place of what the
/// mappings give.
pub fn integration_uri_with(
    integration: &Integration,
    request: &MethodRequest,
    ctx: &RequestContext,
    path_overrides: &[(String, String)],
) -> Result<String, GatewayError> {
    let raw = integration.uri.as_deref().unwrap_or("");
    let mut out = String::with_capacity(raw.len() + 32);
    let mut rest = raw;
    // A byte search (both are ASCII, so a hit is a character boundary);
    // most URIs have no variable and are copied in one piece.
    while let Some(i) = memchr::memchr2(b'$', b'{', rest.as_bytes()) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(var) = tail.strip_prefix("${stageVariables.") {
            let end = var.find('}').ok_or_else(|| invalid_uri(raw))?;
            let value = request
                .stage_variable(&var[..end])
                .ok_or_else(|| invalid_uri(raw))?;
            out.push_str(value);
            rest = &var[end + 1..];
        } else if let Some(name_rest) = tail.strip_prefix('{') {
            let end = name_rest.find('}').ok_or_else(|| invalid_uri(raw))?;
            let name = &name_rest[..end];
            let key = format!("integration.request.path.{name}");
            let source = integration.request_parameters.get(&key);
            let overridden = path_overrides
                .iter()
                .find(|(n, _)| n == name.trim_end_matches('+'));
            let value = match (overridden, source) {
                (Some((_, value)), _) => Some(value.clone()),
                (None, Some(source)) => eval_source(source, ctx, Some(request), None),
                (None, None) => request
                    .path_param(name.trim_end_matches('+'))
                    .map(String::from),
            };
            // A value taken from the resource's greedy parameter keeps its slashes.
            let from_param = source
                .and_then(|s| s.trim().strip_prefix("method.request.path."))
                .unwrap_or(name.trim_end_matches('+'));
            let greedy = request.greedy_parameter.as_deref() == Some(from_param);
            out.push_str(&encode_path_value(&value.unwrap_or_default(), greedy));
            rest = &name_rest[end + 1..];
        } else {
            out.push(tail.as_bytes()[0] as char);
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn invalid_uri(uri: &str) -> GatewayError {
    GatewayError::configuration(format!(
        "Invalid endpoint address (integration URI {uri} has an unresolved variable)"
    ))
}

#[cfg(test)]
mod tests {
    use super::encode_path_value;

    #[test]
    fn substituted_path_values_cannot_escape_the_backend_path() {
        assert_eq!(encode_path_value("../../admin", false), "..%2F..%2Fadmin");
        assert_eq!(encode_path_value("a b/c", false), "a%20b%2Fc");
        assert_eq!(
            encode_path_value("a/../b/./c d", true),
            "a/%2E%2E/b/%2E/c%20d"
        );
        assert_eq!(encode_path_value("v1.2~x", true), "v1.2~x");
    }
}
