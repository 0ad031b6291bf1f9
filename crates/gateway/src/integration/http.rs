//! HTTP and HTTP_PROXY integrations.
//!
//! HTTP_PROXY passes the client request through (headers, query string,
//! body), appends the client to `X-Forwarded-For`, and streams the backend's
//! response straight back. HTTP (non-proxy) sends only mapped headers and
//! query parameters with the template output (or passthrough body), buffers
//! the backend response and maps it through the integration responses.
//!
//! Failures, as API Gateway reports them:
//! - no response head within `timeoutInMillis` → 504 INTEGRATION_TIMEOUT,
//!   `Execution failed due to a timeout error`;
//! - backend unreachable (refused, unknown host, reset) → 500
//!   INTEGRATION_FAILURE `{"message": "Internal server error"}`,
//!   `Execution failed due to configuration error: Invalid endpoint address`.
//!
//! Connections to backends are pooled and kept alive: plain-HTTP backends
//! through the lean client of [`super::plain_http`], where the request's
//! task drives its own connection, HTTPS backends through hyper's pooled
//! client. HTTPS backends are verified against the system's trust store plus the Mozilla roots, unless
//! the integration sets `tlsConfig.insecureSkipVerification`. A certificate
//! that fails verification is a 500 with
//! `Execution failed due to configuration error: {reason}`.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gatewatch_model::{GatewayResponseType, Integration, IntegrationType};
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Uri};

use super::outgoing::OutgoingHeaders;
use http_body_util::{BodyExt, Full};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::mapping::{
    eval_source, integration_request_body, integration_uri_with, invalid_header_override,
    map_response, BackendView,
};
use super::{plain_http, tls, BackendBody, IntegrationReply, ReplyBody};
use crate::body::{BoxError, DeadlineBody};
use crate::context::{ExecutionEventKind, ExecutionTrace, FailureKind, RequestContext};
use crate::request::MethodRequest;
use crate::response::GatewayError;
use crate::template::NO_OVERRIDES;

/// `X-Forwarded-For`, extended with the client's address.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `x-amzn-apigateway-api-id`, sent to every backend.
const X_AMZN_API_ID: HeaderName = HeaderName::from_static("x-amzn-apigateway-api-id");

/// Headers that describe one hop and are never forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// Whether `name` is one of [`HOP_BY_HOP`]: the plain-HTTP client's framing
/// headers, plus `host` and the two proxy-authentication headers (each
/// picked by its length, so a header is compared once or twice).
fn is_hop_by_hop(name: &HeaderName) -> bool {
    let n = name.as_str();
    plain_http::is_framing(n)
        || match n.len() {
            4 => n == "host",
            18 => n == "proxy-authenticate",
            19 => n == "proxy-authorization",
            _ => false,
        }
}

/// Largest backend body a non-proxy integration buffers for mapping (10 MB,
/// API Gateway's payload limit).
const MAX_BACKEND_BODY: usize = 10 * 1024 * 1024;

type PooledClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Pooled HTTP/HTTPS clients for backends: one verifying certificates, one
/// for integrations that opted out of verification.
///
/// The pools are per thread: a connection to a backend is driven by a task
/// on the thread that opened it, so a request served on one data-plane
/// thread only uses connections of that thread and never hops to another
/// (see `server::serve_on_threads`). The TLS settings (and the system's
/// root certificates) are read once for the process.
#[derive(Clone, Debug, Default)]
pub struct HttpBackend {
    _private: (),
}

struct Clients {
    client: PooledClient,
    insecure: PooledClient,
}

fn tls_configs() -> &'static (rustls::ClientConfig, rustls::ClientConfig) {
    static CONFIGS: std::sync::OnceLock<(rustls::ClientConfig, rustls::ClientConfig)> =
        std::sync::OnceLock::new();
    CONFIGS.get_or_init(|| (tls::verifying(), tls::accept_any()))
}

thread_local! {
    static CLIENTS: Clients = {
        let (verifying, any) = tls_configs();
        Clients {
            client: pooled(verifying.clone()),
            insecure: pooled(any.clone()),
        }
    };
}

impl HttpBackend {
    /// Backend clients with keep-alive pooling (idle connections kept 90 s).
    /// Reads the TLS settings now, so the first request does not.
    pub fn new() -> HttpBackend {
        tls_configs();
        HttpBackend { _private: () }
    }

    /// Calls the backend of an HTTP or HTTP_PROXY integration.
    pub async fn invoke(
        &self,
        integration: &Integration,
        request: &MethodRequest,
        ctx: &mut RequestContext,
        trace: &mut ExecutionTrace,
        client_ip: IpAddr,
    ) -> Result<IntegrationReply, GatewayError> {
        let proxy = integration.kind == IntegrationType::HttpProxy;
        // The request template renders first: what it overrides
        // (`$context.requestOverride.*`) replaces the mapped path, query
        // string and header values.
        let (body, content_type, rendered) = if proxy {
            (request.body.clone(), None, None)
        } else {
            let (b, ct, overrides) = integration_request_body(integration, request, ctx)?;
            (b, Some(ct), overrides)
        };
        let overrides = rendered.as_deref().unwrap_or(&NO_OVERRIDES);
        let base = integration_uri_with(integration, request, ctx, &overrides.path)?;
        let uri_text = with_query(
            base,
            integration,
            request,
            ctx,
            proxy,
            &overrides.querystring,
        );
        let keep_text = trace.keeps_info_lines();
        let (uri, uri_text) = if integration.uri.as_deref() == Some(uri_text.as_str()) {
            // The common case, a URI used as written (no variables, no query
            // added): parsed once per thread.
            (parsed_once(&uri_text), keep_text.then_some(uri_text))
        } else if keep_text {
            // The text is kept for the INFO line that shows it.
            (uri_text.parse::<Uri>().ok(), Some(uri_text))
        } else {
            // The URI takes over the text's buffer instead of copying it.
            (Uri::try_from(uri_text).ok(), None)
        };
        let uri = uri.ok_or_else(invalid_endpoint)?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(invalid_endpoint());
        }

        let method_name = integration
            .http_method
            .as_deref()
            .filter(|m| *m != "ANY")
            .unwrap_or(request.method.as_str());
        let method =
            http::Method::from_bytes(method_name.as_bytes()).map_err(|_| invalid_endpoint())?;

        let mut headers = backend_headers(
            integration,
            request,
            ctx,
            proxy,
            client_ip,
            content_type.as_deref(),
            &body,
        );
        for (name, value) in &overrides.request_headers {
            let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) else {
                return Err(invalid_header_override(name));
            };
            // The headers API Gateway itself sets for the backend keep its
            // values.
            if n == http::header::HOST
                || n == X_AMZN_API_ID
                || n == crate::response::X_AMZN_TRACE_ID
            {
                continue;
            }
            headers.insert(n, v);
        }

        if let Some(uri_text) = uri_text {
            let logged = if proxy || !trace.data {
                trace.data_headers(&headers)
            } else {
                // Spelled as API Gateway's line spells them (see
                // `logged_name`); what is sent is the same.
                let values: Vec<_> = headers
                    .iter()
                    .map(|(n, v)| {
                        (
                            logged_name(n, integration),
                            String::from_utf8_lossy(v.as_bytes()),
                        )
                    })
                    .collect();
                trace.data_pairs(values.iter().map(|(n, v)| (*n, v.as_ref())))
            };
            trace.push(ExecutionEventKind::EndpointRequest {
                uri: uri_text,
                headers: logged,
                body: trace.data_body(&body),
            });
        }

        let timeout = Duration::from_millis(u64::from(integration.timeout_ms));
        let started = Instant::now();
        let insecure = integration.tls_insecure_skip_verification;
        // The call owns the request's parts; nothing uses them afterwards.
        let sent = async move {
            if uri.scheme_str() == Some("http") {
                return plain_http::send(&uri, &method, &headers, &body)
                    .await
                    .map(|r| (r.status, r.headers, BackendBody::Plain(r.body)))
                    .map_err(|e| Box::new(e) as BoxError);
            }
            let mut builder = http::Request::builder().method(method).uri(uri);
            if let Some(h) = builder.headers_mut() {
                *h = headers.into_header_map();
            }
            let outgoing = builder
                .body(Full::new(body))
                .map_err(|e| Box::new(e) as BoxError)?;
            // The request future owns what it needs: no client clone per call.
            let call = CLIENTS.with(|c| {
                if insecure {
                    c.insecure.request(outgoing)
                } else {
                    c.client.request(outgoing)
                }
            });
            let response = call.await.map_err(|e| Box::new(e) as BoxError)?;
            let (parts, incoming) = response.into_parts();
            Ok((parts.status, parts.headers, BackendBody::Tls(incoming)))
        };
        let (status, response_headers, incoming) = match tokio::time::timeout(timeout, sent).await {
            Err(_) => {
                ctx.integration.latency_ms = Some(started.elapsed().as_millis() as u64);
                return Err(GatewayError::new(GatewayResponseType::IntegrationTimeout)
                    .with_failure(FailureKind::Timeout, ""));
            }
            Ok(Err(e)) => {
                ctx.integration.latency_ms = Some(started.elapsed().as_millis() as u64);
                let e: &(dyn std::error::Error + 'static) = &*e;
                ctx.integration.error = Some(error_chain(e));
                tracing::debug!(error = %error_chain(e), "backend unreachable");
                if let Some(reason) = tls::failure_reason(e) {
                    return Err(GatewayError::new(GatewayResponseType::IntegrationFailure)
                        .with_status(500)
                        .with_failure(FailureKind::Configuration, reason));
                }
                return Err(invalid_endpoint());
            }
            Ok(Ok(r)) => r,
        };
        let head_latency = started.elapsed().as_millis() as u64;
        ctx.integration.status = Some(status.as_u16());
        ctx.integration.latency_ms = Some(head_latency);

        if proxy {
            trace.push(ExecutionEventKind::EndpointResponse {
                status: status.as_u16(),
                latency_ms: head_latency,
                headers: trace.data_headers(&response_headers),
                body: None,
            });
            let mut headers = response_headers;
            strip_hop_by_hop(&mut headers);
            trace.push_same_instant(ExecutionEventKind::MethodResponse {
                status: status.as_u16(),
                headers: trace.data_headers(&headers),
                body: None,
            });
            let deadline = tokio::time::Instant::from_std(started + timeout);
            return Ok(IntegrationReply {
                status,
                headers,
                body: ReplyBody::Stream(DeadlineBody::new(incoming, deadline)),
            });
        }

        // Non-proxy: the whole body is needed for mapping, within the timeout.
        let remaining = timeout.saturating_sub(started.elapsed());
        let limited = http_body_util::Limited::new(incoming, MAX_BACKEND_BODY);
        let body = match tokio::time::timeout(remaining, limited.collect()).await {
            Err(_) => {
                return Err(GatewayError::new(GatewayResponseType::IntegrationTimeout)
                    .with_failure(FailureKind::Timeout, ""))
            }
            Ok(Err(e))
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                ctx.integration.error =
                    Some("Response payload size exceeded maximum allowed payload size".into());
                return Err(GatewayError::new(GatewayResponseType::IntegrationFailure).with_status(500).with_failure(
                    FailureKind::Configuration,
                    "Response payload size exceeded maximum allowed payload size (10485760 bytes)",
                ));
            }
            Ok(Err(e)) => {
                ctx.integration.error = Some(e.to_string());
                return Err(invalid_endpoint());
            }
            Ok(Ok(collected)) => collected.to_bytes(),
        };
        ctx.integration.latency_ms = Some(started.elapsed().as_millis() as u64);
        trace.push(ExecutionEventKind::EndpointResponse {
            status: status.as_u16(),
            latency_ms: started.elapsed().as_millis() as u64,
            headers: trace.data_headers(&response_headers),
            body: trace.data.then(|| body.clone()),
        });
        let mapped = map_response(
            integration,
            status.as_str(),
            &BackendView {
                headers: &response_headers,
                body: &body,
            },
            request,
            ctx,
        )?;
        Ok(mapped.into_reply(trace))
    }
}

fn pooled(tls: rustls::ClientConfig) -> PooledClient {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    http.enforce_http(false);
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(512)
        .build(connector)
}

/// URIs parsed on this thread, by their text (at most [`PARSED_PER_THREAD`]).
const PARSED_PER_THREAD: usize = 64;

thread_local! {
    static PARSED: std::cell::RefCell<Vec<(Box<str>, Option<Uri>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// `text` parsed as a URI, from this thread's cache when it was parsed
/// before (a clone shares the parsed parts' buffers; parsing again costs
/// several hundred instructions per request). `None` when it is no URI.
fn parsed_once(text: &str) -> Option<Uri> {
    PARSED.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((_, uri)) = cache.iter().find(|(t, _)| **t == *text) {
            return uri.clone();
        }
        let uri = text.parse::<Uri>().ok();
        if cache.len() >= PARSED_PER_THREAD {
            cache.remove(0);
        }
        cache.push((text.into(), uri.clone()));
        uri
    })
}

fn invalid_endpoint() -> GatewayError {
    GatewayError::new(GatewayResponseType::IntegrationFailure)
        .with_status(500)
        .with_failure(FailureKind::Configuration, "Invalid endpoint address")
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// `base` with the query string the request sends (the client's with
/// HTTP_PROXY, then mapped `integration.request.querystring.*` values),
/// appended in place: a request without a query returns `base` itself.
fn with_query(
    mut base: String,
    integration: &Integration,
    request: &MethodRequest,
    ctx: &RequestContext,
    proxy: bool,
    overrides: &[(String, String)],
) -> String {
    let mut query = String::new();
    if proxy {
        if let Some(raw) = request.raw_query.as_deref().filter(|q| !q.is_empty()) {
            query.push_str(raw);
        }
    }
    let mut push = |name: &str, value: &str| {
        if !query.is_empty() {
            query.push('&');
        }
        query.extend(percent_encoding::utf8_percent_encode(
            name,
            percent_encoding::NON_ALPHANUMERIC,
        ));
        query.push('=');
        query.extend(percent_encoding::utf8_percent_encode(
            value,
            percent_encoding::NON_ALPHANUMERIC,
        ));
    };
    for (target, source) in &integration.request_parameters {
        let Some(name) = target.strip_prefix("integration.request.querystring.") else {
            continue;
        };
        // An overridden parameter takes the template's value (below).
        if overrides.iter().any(|(n, _)| n == name) {
            continue;
        }
        if let Some(value) = eval_source(source, ctx, Some(request), None) {
            push(name, &value);
        }
    }
    for (name, value) in overrides {
        push(name, value);
    }
    if !query.is_empty() {
        base.push(if base.contains('?') { '&' } else { '?' });
        base.push_str(&query);
    }
    base
}

#[allow(clippy::too_many_arguments)]
fn backend_headers(
    integration: &Integration,
    request: &MethodRequest,
    ctx: &RequestContext,
    proxy: bool,
    client_ip: IpAddr,
    content_type: Option<&str>,
    body: &Bytes,
) -> OutgoingHeaders {
    // Room for what is added below (with HTTP_PROXY, the client's headers
    // too), so the list is not regrown.
    let capacity = if proxy { request.headers.len() + 6 } else { 6 };
    let mut headers = OutgoingHeaders::with_capacity(capacity);
    if proxy {
        // Every earlier hop is kept, however many X-Forwarded-For lines
        // carried them; they are gathered in the same pass.
        let mut forwarded = String::new();
        for (name, value) in &request.headers {
            if name.as_str() == X_FORWARDED_FOR.as_str() {
                let value = String::from_utf8_lossy(value.as_bytes());
                let value = value.trim();
                if !value.is_empty() {
                    forwarded.push_str(value);
                    forwarded.push_str(", ");
                }
            } else if !is_hop_by_hop(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        crate::context::push_ip(&mut forwarded, client_ip);
        // The header takes the string's buffer, no copy.
        if let Ok(v) = HeaderValue::from_maybe_shared(Bytes::from(forwarded)) {
            headers.insert(X_FORWARDED_FOR, v);
        }
    }
    for (target, source) in &integration.request_parameters {
        let Some(name) = target.strip_prefix("integration.request.header.") else {
            continue;
        };
        if let Some(value) = eval_source(source, ctx, Some(request), None) {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                headers.insert(n, v);
            }
        }
    }
    if !proxy {
        if let Some(ct) = content_type.filter(|_| !body.is_empty()) {
            if let Ok(v) = HeaderValue::from_str(ct) {
                headers.insert_if_absent(http::header::CONTENT_TYPE, v);
            }
        }
    }
    // API Gateway's order for an HTTP integration: the mapped headers, then
    // its API id, Accept, User-Agent and the trace header.
    if let Ok(v) = HeaderValue::from_str(&ctx.api_id) {
        headers.insert(X_AMZN_API_ID, v);
    }
    if !proxy {
        headers.insert_if_absent(
            http::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        if let Ok(v) = HeaderValue::from_str(&format!("AmazonAPIGateway_{}", ctx.api_id)) {
            headers.insert_if_absent(http::header::USER_AGENT, v);
        }
    }
    let trace = ["Root=", &ctx.xray_trace_id].concat();
    if let Ok(v) = HeaderValue::from_maybe_shared(Bytes::from(trace)) {
        headers.insert(crate::response::X_AMZN_TRACE_ID, v);
    }
    headers
}

/// How the data trace of an HTTP (non-proxy) integration spells a header
/// of the request to the backend: a mapped header as its mapping names it
/// (`integration.request.header.X-Custom`), the ones API Gateway adds as
/// it writes them (`Accept`, `User-Agent`, `X-Amzn-Trace-Id`,
/// `Content-Type`; its API id header stays lowercase). Header names are
/// case-insensitive on the wire, where they go lowercase.
fn logged_name<'a>(name: &'a HeaderName, integration: &'a Integration) -> &'a str {
    let mapped = integration.request_parameters.keys().find_map(|target| {
        target
            .strip_prefix("integration.request.header.")
            .filter(|n| n.eq_ignore_ascii_case(name.as_str()))
    });
    if let Some(spelled) = mapped {
        return spelled;
    }
    match name.as_str() {
        "accept" => "Accept",
        "user-agent" => "User-Agent",
        "content-type" => "Content-Type",
        "x-amzn-trace-id" => "X-Amzn-Trace-Id",
        other => other,
    }
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the (few) headers finds whether there is anything to
    // strip, usually not, instead of a hashed lookup per hop-by-hop name.
    let stripped = |n: &HeaderName| n != http::header::CONTENT_LENGTH && is_hop_by_hop(n);
    if !headers.keys().any(stripped) {
        return;
    }
    for name in HOP_BY_HOP {
        if *name != "content-length" {
            headers.remove(*name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_trace_spells_headers_as_api_gateway_does() {
        let mut integration = Integration::new(IntegrationType::Http);
        integration.request_parameters.insert(
            "integration.request.header.X-From".into(),
            "'gatewatch'".into(),
        );
        integration.request_parameters.insert(
            "integration.request.path.code".into(),
            "method.request.path.code".into(),
        );
        let spelled = |name: &'static str| {
            logged_name(&HeaderName::from_static(name), &integration).to_string()
        };
        assert_eq!(spelled("x-from"), "X-From");
        assert_eq!(spelled("accept"), "Accept");
        assert_eq!(spelled("user-agent"), "User-Agent");
        assert_eq!(spelled("content-type"), "Content-Type");
        assert_eq!(spelled("x-amzn-trace-id"), "X-Amzn-Trace-Id");
        assert_eq!(
            spelled("x-amzn-apigateway-api-id"),
            "x-amzn-apigateway-api-id"
        );
        assert_eq!(spelled("code"), "code");
    }

    #[test]
    fn hop_by_hop_names_are_recognised_and_no_others() {
        for name in HOP_BY_HOP {
            assert!(is_hop_by_hop(&HeaderName::from_static(name)), "{name}");
        }
        for name in [
            "tk",
            "date",
            "x-trace",
            "connexion",
            "keep-alivee",
            "content-type",
            "content-language",
            "transfer-encodinx",
            "proxy-authenticatf",
            "proxy-authorizatioo",
            "x-forwarded-for",
            "accept",
        ] {
            assert!(!is_hop_by_hop(&HeaderName::from_static(name)), "{name}");
        }
    }

    #[test]
    fn a_uri_is_used_as_written_only_when_nothing_is_added_to_it() {
        let mut request = MethodRequest {
            method: http::Method::GET,
            path_parameters: Vec::new(),
            query: Vec::new(),
            raw_query: None,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            stage: std::sync::Arc::new(gatewatch_model::Stage::new("dev")),
            greedy_parameter: None,
        };
        let ctx = RequestContext::default();
        // The backend URI as `invoke` builds it, equal to the written one
        // exactly when the thread's parsed copy is used.
        let used_as_written =
            |written: &str, integration: &Integration, request: &MethodRequest, proxy: bool| {
                let mut integration = integration.clone();
                integration.uri = Some(written.to_string());
                super::super::mapping::integration_uri(&integration, request, &ctx)
                    .map(|base| with_query(base, &integration, request, &ctx, proxy, &[]))
                    .is_ok_and(|uri| uri == written)
            };
        let mut integration = Integration::new(IntegrationType::HttpProxy);
        let fixed = "http://127.0.0.1:8080/up";
        assert!(used_as_written(fixed, &integration, &request, true));
        assert!(!used_as_written(
            "http://h/{id}",
            &integration,
            &request,
            false
        ));
        assert!(!used_as_written(
            "http://${stageVariables.h}/",
            &integration,
            &request,
            false
        ));
        // HTTP_PROXY passes the client's query string on; HTTP does not.
        request.raw_query = Some("a=1".into());
        assert!(!used_as_written(fixed, &integration, &request, true));
        assert!(used_as_written(fixed, &integration, &request, false));
        integration
            .request_parameters
            .insert("integration.request.querystring.q".into(), "'x'".into());
        assert!(!used_as_written(fixed, &integration, &request, false));
        // Parsed once, the same URI every time; text that is no URI stays none.
        assert_eq!(parsed_once(fixed), fixed.parse::<Uri>().ok());
        assert_eq!(parsed_once(fixed), fixed.parse::<Uri>().ok());
        assert_eq!(parsed_once("http://bad host/"), None);
    }
}
