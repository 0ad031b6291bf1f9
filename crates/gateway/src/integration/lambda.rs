//! AWS_PROXY integrations: the Lambda proxy event (REST payload format 1.0),
//! the call through a [`LambdaInvoker`], and the validation of the function's
//! answer, as API Gateway does them.
//!
//! - The event's `requestContext.requestId` is the request's own id (the
//!   `x-amzn-RequestId` the client gets).
//! - A reply that is not `{statusCode, headers?, multiValueHeaders?, body?,
//!   isBase64Encoded?}` with an integer `statusCode` and a string `body` is a
//!   malformed proxy response: 502, `Execution failed due to configuration
//!   error: Malformed Lambda proxy response`.
//! - A function error (exception, crash, timeout inside the function) is a
//!   502 with `Lambda execution failed with status 200 due to customer
//!   function error: ...`; the integration timeout is a 504.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use gatewatch_model::{GatewayResponseType, Integration};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Map, Value};

use super::mapping::integration_uri;
use super::{IntegrationReply, ReplyBody};
use crate::context::{ExecutionEventKind, ExecutionTrace, FailureKind, HeaderList, RequestContext};
use crate::request::MethodRequest;
use crate::response::GatewayError;

/// A function's answer to one invocation.
#[derive(Debug, Clone)]
pub struct LambdaReply {
    /// Lambda's request id.
    pub request_id: String,
    /// The function's result, or its error document.
    pub result: Result<Bytes, Bytes>,
    /// The invocation's log lines (START ... REPORT).
    pub logs: Vec<String>,
    /// `/aws/lambda/{name}`.
    pub log_group: String,
    /// The log stream of the function.
    pub log_stream: String,
}

/// Why there is no answer.
#[derive(Debug, Clone)]
pub enum LambdaFailure {
    /// No such function.
    NotFound,
    /// The function ran past its own timeout.
    FunctionTimeout {
        /// Lambda request id.
        request_id: String,
        /// `Task timed out after N.00 seconds` with its timestamp.
        message: String,
        /// Log lines.
        logs: Vec<String>,
        /// Log group and stream.
        log_group: String,
        /// Stream.
        log_stream: String,
    },
    /// The runtime could not run the function.
    Runtime(String),
    /// Lambda refused the invocation with 429 (throttled).
    Throttled {
        /// Lambda request id.
        request_id: String,
    },
}

/// Something that runs Lambda functions by name.
pub trait LambdaInvoker: Send + Sync + 'static {
    /// Invokes `function` with a JSON event.
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        event: Bytes,
    ) -> Pin<Box<dyn Future<Output = Result<LambdaReply, LambdaFailure>> + Send + 'a>>;
}

/// The function name in `arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function arn}/invocations`.
pub fn function_name(uri: &str) -> Option<&str> {
    let arn = uri
        .split_once("/functions/")?
        .1
        .strip_suffix("/invocations")?;
    let after = arn.split_once(":function:").map(|(_, n)| n).unwrap_or(arn);
    // A qualifier (`name:alias`) names the same local function.
    Some(after.split(':').next().unwrap_or(after))
}

fn opt_map(pairs: impl Iterator<Item = (String, String)>) -> Value {
    let map: BTreeMap<String, String> = pairs.collect();
    if map.is_empty() {
        Value::Null
    } else {
        json!(map)
    }
}

/// Builds the REST API proxy event (payload format 1.0).
pub fn proxy_event(request: &MethodRequest, ctx: &RequestContext, binary: bool) -> Value {
    // The front end's view of the headers, names sorted case-insensitively
    // (stable: repeated names keep their order); last value wins in
    // `headers`.
    let mut pairs = request.front_end_headers(ctx);
    pairs.sort_by_cached_key(|(name, _)| name.to_ascii_lowercase());
    let mut headers = Map::new();
    let mut multi_headers = Map::new();
    let mut at = 0;
    while at < pairs.len() {
        let name = &pairs[at].0;
        let same = pairs[at..]
            .iter()
            .take_while(|(n, _)| n.eq_ignore_ascii_case(name))
            .count();
        let values: Vec<&str> = pairs[at..at + same]
            .iter()
            .map(|(_, v)| v.as_ref())
            .collect();
        headers.insert(name.to_string(), json!(values[same - 1]));
        multi_headers.insert(name.to_string(), json!(values));
        at += same;
    }
    let mut multi_query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in &request.query {
        multi_query.entry(k.clone()).or_default().push(v.clone());
    }
    let query = opt_map(
        multi_query
            .iter()
            .filter_map(|(k, v)| v.last().map(|l| (k.clone(), l.clone()))),
    );
    let body = if request.body.is_empty() {
        Value::Null
    } else if binary {
        json!(base64::engine::general_purpose::STANDARD.encode(&request.body))
    } else {
        json!(String::from_utf8_lossy(&request.body))
    };
    // Identity members in the order API Gateway sends them.
    let source_ip = json!(ctx.identity.source_ip);
    let user_agent = ctx
        .identity
        .user_agent
        .as_deref()
        .map_or(Value::Null, |u| json!(u));
    let mut identity = Map::new();
    for name in [
        "cognitoIdentityPoolId",
        "accountId",
        "cognitoIdentityId",
        "caller",
        "apiKey",
        "apiKeyId",
        "sourceIp",
        "principalOrgId",
        "accessKey",
        "cognitoAuthenticationType",
        "cognitoAuthenticationProvider",
        "userArn",
        "userAgent",
        "user",
        "clientCert",
    ] {
        let value = match name {
            "sourceIp" => source_ip.clone(),
            "userAgent" => user_agent.clone(),
            _ => Value::Null,
        };
        identity.insert(name.to_string(), value);
    }
    json!({
        "resource": ctx.resource_path.as_deref(),
        "path": ctx.path_without_stage,
        "httpMethod": ctx.http_method,
        "headers": if headers.is_empty() { Value::Null } else { Value::Object(headers) },
        "multiValueHeaders": if multi_headers.is_empty() { Value::Null } else { Value::Object(multi_headers) },
        "queryStringParameters": query,
        "multiValueQueryStringParameters": if multi_query.is_empty() { Value::Null } else { json!(multi_query) },
        "pathParameters": opt_map(request.path_parameters.iter().map(|(k, v)| (k.to_string(), v.clone()))),
        "stageVariables": opt_map(request.stage.variables.iter().map(|(k, v)| (k.clone(), v.clone()))),
        "requestContext": {
            "resourceId": ctx.resource_id.as_deref(),
            "resourcePath": ctx.resource_path.as_deref(),
            "httpMethod": ctx.http_method,
            "extendedRequestId": ctx.extended_request_id,
            "requestTime": ctx.request_time_clf(),
            "path": ctx.path,
            "accountId": &*ctx.account_id,
            "protocol": ctx.protocol,
            "stage": &*ctx.stage,
            "domainPrefix": ctx.domain_prefix(),
            "requestTimeEpoch": ctx.request_time_epoch_ms().map(|v| v as u64),
            "requestId": ctx.request_id,
            "identity": identity,
            "domainName": ctx.domain_name,
            "deploymentId": ctx.deployment_id.as_deref(),
            "apiId": &*ctx.api_id,
        },
        "body": body,
        "isBase64Encoded": binary && !request.body.is_empty(),
    })
}

/// The data trace's `Method response headers` of a Lambda proxy response:
/// the headers the gateway sends (`headers`, parsed from the function's
/// answer `reply`), named as the function spelled them, then the trace
/// header API Gateway adds, in the form its logs show with tracing off
/// (`sampled=0;root=…`).
fn method_response_headers(reply: &[u8], headers: &HeaderMap, trace_id: &str) -> HeaderList {
    let answer: Value = serde_json::from_slice(reply).unwrap_or(Value::Null);
    let spelled: Vec<&str> = ["headers", "multiValueHeaders"]
        .iter()
        .filter_map(|field| answer.get(field).and_then(Value::as_object))
        .flat_map(|object| object.keys().map(String::as_str))
        .collect();
    let mut list = HeaderList::new();
    for (name, value) in headers {
        let name = spelled
            .iter()
            .find(|s| s.eq_ignore_ascii_case(name.as_str()))
            .copied()
            .unwrap_or(name.as_str());
        list.push(name, &String::from_utf8_lossy(value.as_bytes()));
    }
    list.push("X-Amzn-Trace-Id", &format!("sampled=0;root={trace_id}"));
    list
}

/// The method response a valid proxy reply describes, or `None` when the
/// reply is malformed.
pub fn parse_proxy_response(body: &[u8]) -> Option<(u16, HeaderMap, Bytes)> {
    let Value::Object(obj) = serde_json::from_slice::<Value>(body).ok()? else {
        return None;
    };
    const ALLOWED: [&str; 5] = [
        "statusCode",
        "headers",
        "multiValueHeaders",
        "body",
        "isBase64Encoded",
    ];
    if obj.keys().any(|k| !ALLOWED.contains(&k.as_str())) {
        return None;
    }
    let status = match obj.get("statusCode")? {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as u64))?,
        _ => return None,
    };
    let status = u16::try_from(status)
        .ok()
        .filter(|s| (100..=599).contains(s))?;
    let scalar = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    let mut headers = HeaderMap::new();
    match obj.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(h)) => {
            for (k, v) in h {
                let (Ok(name), Some(Ok(value))) = (
                    HeaderName::from_bytes(k.as_bytes()),
                    scalar(v).map(|s| HeaderValue::from_str(&s)),
                ) else {
                    return None;
                };
                headers.insert(name, value);
            }
        }
        Some(_) => return None,
    }
    match obj.get("multiValueHeaders") {
        None | Some(Value::Null) => {}
        Some(Value::Object(h)) => {
            for (k, v) in h {
                let Value::Array(values) = v else { return None };
                let name = HeaderName::from_bytes(k.as_bytes()).ok()?;
                // multiValueHeaders win over headers for the same name.
                headers.remove(&name);
                for v in values {
                    headers.append(name.clone(), HeaderValue::from_str(&scalar(v)?).ok()?);
                }
            }
        }
        Some(_) => return None,
    }
    let base64 = match obj.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return None,
    };
    let body = match obj.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(s)) if base64 => {
            Bytes::from(base64::engine::general_purpose::STANDARD.decode(s).ok()?)
        }
        Some(Value::String(s)) => Bytes::from(s.clone()),
        Some(_) => return None,
    };
    if !headers.contains_key(http::header::CONTENT_TYPE) {
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    Some((status, headers, body))
}

fn lambda_logs(trace: &mut ExecutionTrace, group: String, stream: String, lines: Vec<String>) {
    trace.push(ExecutionEventKind::LambdaLogs {
        group,
        stream,
        lines,
    });
}

/// Calls the function of an AWS_PROXY integration.
#[allow(clippy::too_many_arguments)]
pub async fn invoke(
    invoker: Option<&dyn LambdaInvoker>,
    integration: &Integration,
    request: &MethodRequest,
    ctx: &mut RequestContext,
    trace: &mut ExecutionTrace,
    region: &str,
    binary: bool,
) -> Result<IntegrationReply, GatewayError> {
    let uri = integration_uri(integration, request, ctx)?;
    let Some(name) = function_name(&uri) else {
        return Err(GatewayError::configuration(format!(
            "Invalid Lambda function ARN in integration URI {uri}"
        )));
    };
    let Some(invoker) = invoker else {
        return Err(GatewayError::configuration(
            "Invalid permissions on Lambda function",
        ));
    };
    let arn = uri
        .split_once("/functions/")
        .and_then(|(_, a)| a.strip_suffix("/invocations"))
        .unwrap_or(name)
        .to_string();
    let event = proxy_event(request, ctx, binary);
    let event_bytes = Bytes::from(event.to_string());
    let endpoint =
        format!("https://lambda.{region}.amazonaws.com/2015-03-31/functions/{arn}/invocations");
    // A console test's tag is `test-request`; a served request's is its id.
    let tag = if ctx.request_id == "test-invoke-request" {
        "test-request"
    } else {
        ctx.request_id.as_str()
    };
    let headers = if trace.data {
        let pairs = endpoint_request_headers(tag, ctx, region);
        trace.data_pairs(pairs.iter().map(|(n, v)| (*n, v.as_str())))
    } else {
        Default::default()
    };
    trace.push(ExecutionEventKind::EndpointRequest {
        uri: endpoint,
        headers,
        body: trace.data_body(&event_bytes),
    });
    let started = Instant::now();
    let timeout = Duration::from_millis(u64::from(integration.timeout_ms));
    let outcome = match tokio::time::timeout(timeout, invoker.invoke(name, event_bytes)).await {
        Err(_) => {
            ctx.integration.latency_ms = Some(started.elapsed().as_millis() as u64);
            return Err(GatewayError::new(GatewayResponseType::IntegrationTimeout)
                .with_failure(FailureKind::Timeout, ""));
        }
        Ok(o) => o,
    };
    let latency = started.elapsed().as_millis() as u64;
    ctx.integration.latency_ms = Some(latency);
    let reply = match outcome {
        Ok(r) => r,
        Err(LambdaFailure::NotFound) => {
            return Err(GatewayError::configuration(format!(
                "Function not found: {arn}"
            )));
        }
        Err(LambdaFailure::Throttled { request_id }) => {
            // AWS writes two lines: the Lambda status, then the configuration error.
            trace.push(ExecutionEventKind::Failure {
                kind: FailureKind::Lambda,
                detail: format!(
                    "Lambda invocation failed with status: 429. Lambda request id: {request_id}"
                ),
            });
            ctx.integration.integration_status = Some(429);
            ctx.integration.request_id = Some(request_id);
            return Err(GatewayError::configuration("Rate Exceeded."));
        }
        Err(LambdaFailure::Runtime(detail)) => {
            ctx.integration.integration_status = Some(200);
            ctx.integration.error = Some(detail.clone());
            return Err(GatewayError::new(GatewayResponseType::IntegrationFailure)
                .with_status(502)
                .with_failure(FailureKind::Lambda, format!("Lambda execution failed with status 200 due to customer function error: {detail}")));
        }
        // Lambda answers a timed-out invocation like any unhandled error
        // (200, X-Amz-Function-Error), with the timeout as its message.
        Err(LambdaFailure::FunctionTimeout {
            request_id,
            message,
            logs,
            log_group,
            log_stream,
        }) => LambdaReply {
            result: Err(Bytes::from(json!({ "errorMessage": message }).to_string())),
            request_id,
            logs,
            log_group,
            log_stream,
        },
    };
    lambda_logs(
        trace,
        reply.log_group.clone(),
        reply.log_stream.clone(),
        reply.logs.clone(),
    );
    ctx.integration.integration_status = Some(200);
    ctx.integration.request_id = Some(reply.request_id.clone());
    let (body, function_error) = match &reply.result {
        Ok(b) => (b.clone(), false),
        Err(b) => (b.clone(), true),
    };
    let date = httpdate_now();
    let length = body.len().to_string();
    let mut response_headers = vec![
        ("Date", date.as_str()),
        ("Content-Type", "application/json"),
        ("Content-Length", length.as_str()),
        ("Connection", "keep-alive"),
        ("x-amzn-RequestId", reply.request_id.as_str()),
    ];
    if function_error {
        response_headers.push(("X-Amz-Function-Error", "Unhandled"));
    }
    response_headers.push(("x-amzn-Remapped-Content-Length", "0"));
    response_headers.push(("X-Amz-Executed-Version", "$LATEST"));
    // Lambda echoes the trace header in its own spelling, lowercase keys.
    let trace_header = format!("root={};sampled=0", ctx.xray_trace_id);
    response_headers.push(("X-Amzn-Trace-Id", trace_header.as_str()));
    trace.push(ExecutionEventKind::EndpointResponse {
        status: 200,
        latency_ms: latency,
        headers: trace.data_pairs(response_headers),
        body: trace.data.then(|| body.clone()),
    });
    if function_error {
        let message = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| {
                v.get("errorMessage")
                    .and_then(Value::as_str)
                    .map(String::from)
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        ctx.integration.error = Some(message.clone());
        return Err(GatewayError::new(GatewayResponseType::IntegrationFailure).with_status(502).with_failure(
            FailureKind::Lambda,
            format!("Lambda execution failed with status 200 due to customer function error: {message}. Lambda request id: {}", reply.request_id),
        ));
    }
    let reply_body = body;
    let Some((status, headers, body)) = parse_proxy_response(&reply_body) else {
        return Err(GatewayError::new(GatewayResponseType::IntegrationFailure)
            .with_status(502)
            .with_failure(
                FailureKind::Configuration,
                "Malformed Lambda proxy response",
            ));
    };
    ctx.integration.status = Some(status);
    let logged_headers = if trace.data {
        method_response_headers(&reply_body, &headers, &ctx.xray_trace_id)
    } else {
        HeaderList::new()
    };
    trace.push(ExecutionEventKind::MethodResponse {
        status,
        headers: logged_headers,
        body: trace.data.then(|| body.clone()),
    });
    Ok(IntegrationReply {
        status: http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_GATEWAY),
        headers,
        body: ReplyBody::Full(body),
    })
}

/// The headers API Gateway's own call to Lambda's Invoke API carries, in
/// its order, as the data trace's `Endpoint request headers` line shows
/// them: the integration tag, a SigV4 `Authorization` (masked when the
/// line is written: only its last six characters show), `X-Amz-Date`, the
/// API id, `X-Amz-Source-Arn`, `Accept`, `User-Agent` and the session token
/// of the role API Gateway invokes with.
///
/// Gatewatch hands the event to the function directly and signs nothing,
/// so the credential, the signature and the token are placeholders derived
/// from the request id; they keep the line's shape and length, which is
/// longer than the 1 KB standard-logging limit and so ends in
/// ` [TRUNCATED]` as AWS's does.
fn endpoint_request_headers(
    tag: &str,
    ctx: &RequestContext,
    region: &str,
) -> Vec<(&'static str, String)> {
    let when =
        time::OffsetDateTime::from(ctx.request_time.unwrap_or_else(std::time::SystemTime::now));
    let day = format!(
        "{:04}{:02}{:02}",
        when.year(),
        u8::from(when.month()),
        when.day()
    );
    let amz_date = format!(
        "{day}T{:02}{:02}{:02}Z",
        when.hour(),
        when.minute(),
        when.second()
    );
    let mut seed = ctx
        .request_id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    let mut next = move || {
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let access_key: String = (0..16)
        .map(|_| char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[(next() % 32) as usize]))
        .collect();
    let signature: String = (0..4).map(|_| format!("{:016x}", next())).collect();
    let token_bytes: Vec<u8> = (0..100).flat_map(|_| next().to_le_bytes()).collect();
    let token = base64::engine::general_purpose::STANDARD.encode(token_bytes);
    let resource = ctx
        .resource_path
        .as_deref()
        .unwrap_or("/")
        .trim_start_matches('/');
    vec![
        ("x-amzn-lambda-integration-tag", tag.to_string()),
        (
            "Authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=ASIA{access_key}/{day}/{region}/lambda/aws4_request, \
                 SignedHeaders=accept;host;x-amz-date;x-amz-security-token;x-amz-source-arn;\
                 x-amzn-apigateway-api-id;x-amzn-lambda-integration-tag, Signature={signature}"
            ),
        ),
        ("X-Amz-Date", amz_date),
        ("x-amzn-apigateway-api-id", ctx.api_id.to_string()),
        (
            "X-Amz-Source-Arn",
            format!(
                "arn:aws:execute-api:{region}:{}:{}/{}/{}/{resource}",
                ctx.account_id, ctx.api_id, ctx.stage, ctx.http_method
            ),
        ),
        ("Accept", "application/json".to_string()),
        ("User-Agent", format!("AmazonAPIGateway_{}", ctx.api_id)),
        ("X-Amz-Security-Token", token),
    ]
}

fn httpdate_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[now.weekday().number_days_from_monday() as usize],
        now.day(),
        MONTHS[now.month() as usize - 1],
        now.year(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_from_integration_uris() {
        assert_eq!(
            function_name("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:hello/invocations"),
            Some("hello")
        );
        assert_eq!(
            function_name("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:hello:live/invocations"),
            Some("hello")
        );
        assert_eq!(
            function_name("arn:aws:apigateway:us-east-1:lambda:path/nothing"),
            None
        );
    }

    #[test]
    fn the_proxy_event_for_a_fixed_request() {
        use std::sync::Arc;
        use std::time::{Duration, SystemTime};

        let mut stage = gatewatch_model::Stage::new("dev");
        stage.variables.insert("color".into(), "blue".into());
        let mut headers = HeaderMap::new();
        headers.insert(
            "Host",
            HeaderValue::from_static("a1b2c3d4e5.execute-api.localhost:8080"),
        );
        headers.insert("User-Agent", HeaderValue::from_static("curl/8.5.0"));
        headers.append("X-Multi", HeaderValue::from_static("one"));
        headers.append("X-Multi", HeaderValue::from_static("two"));
        headers.insert("accept", HeaderValue::from_static("*/*"));
        let request = MethodRequest {
            method: http::Method::POST,
            path_parameters: vec![("name".into(), "ada".into())],
            query: vec![
                ("q".into(), "1".into()),
                ("q".into(), "2".into()),
                ("lang".into(), "en".into()),
            ],
            raw_query: Some("q=1&q=2&lang=en".into()),
            headers,
            body: Bytes::from_static(b"{\"k\":1}"),
            stage: Arc::new(stage),
            greedy_parameter: None,
        };
        let ctx = RequestContext {
            account_id: "123456789012".into(),
            api_id: "a1b2c3d4e5".into(),
            request_id: "c7f2a1e4-4b6f-4d4a-9a57-2f1e3c9b8d10".into(),
            extended_request_id: "Vts2pH6ArPEFcuQ=".into(),
            request_time: Some(SystemTime::UNIX_EPOCH + Duration::from_millis(1_698_414_057_744)),
            http_method: "POST".into(),
            path: "/dev/hello/ada".into(),
            path_without_stage: "/hello/ada".into(),
            resource_path: Some("/hello/{name}".into()),
            resource_id: Some("x1y2z3w4v5".into()),
            stage: "dev".into(),
            deployment_id: Some("dep1234567".into()),
            domain_name: "a1b2c3d4e5.execute-api.localhost:8080".into(),
            protocol: "HTTP/1.1".into(),
            identity: crate::context::Identity {
                source_ip: "203.0.113.7".into(),
                user_agent: Some("curl/8.5.0".into()),
                ..Default::default()
            },
            xray_trace_id: "1-653bbbe9-2a3f4c5d6e7f8091a2b3c4d5".into(),
            ..RequestContext::default()
        };
        let event = proxy_event(&request, &ctx, false);
        insta::assert_snapshot!(serde_json::to_string_pretty(&event).unwrap());
        let binary = proxy_event(&request, &ctx, true);
        assert_eq!(binary["body"], "eyJrIjoxfQ==");
        assert_eq!(binary["isBase64Encoded"], true);
    }

    #[test]
    fn endpoint_request_headers_have_aws_names_order_and_shapes() {
        use std::time::{Duration, SystemTime};
        let ctx = RequestContext {
            account_id: "123456789012".into(),
            api_id: "a1b2c3d4e5".into(),
            request_id: "c7f2a1e4-4b6f-4d4a-9a57-2f1e3c9b8d10".into(),
            // 2023-10-27T13:40:57.744Z
            request_time: Some(SystemTime::UNIX_EPOCH + Duration::from_millis(1_698_414_057_744)),
            http_method: "POST".into(),
            resource_path: Some("/hello/{name}".into()),
            stage: "dev".into(),
            ..RequestContext::default()
        };
        let headers =
            endpoint_request_headers("c7f2a1e4-4b6f-4d4a-9a57-2f1e3c9b8d10", &ctx, "eu-west-1");
        let names: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "x-amzn-lambda-integration-tag",
                "Authorization",
                "X-Amz-Date",
                "x-amzn-apigateway-api-id",
                "X-Amz-Source-Arn",
                "Accept",
                "User-Agent",
                "X-Amz-Security-Token",
            ]
        );
        let value = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
                .unwrap()
        };
        assert_eq!(
            value("x-amzn-lambda-integration-tag"),
            "c7f2a1e4-4b6f-4d4a-9a57-2f1e3c9b8d10"
        );
        assert_eq!(value("X-Amz-Date"), "20231027T134057Z");
        assert_eq!(
            value("X-Amz-Source-Arn"),
            "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/dev/POST/hello/{name}"
        );
        assert_eq!(value("User-Agent"), "AmazonAPIGateway_a1b2c3d4e5");
        let auth = value("Authorization");
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=ASIA"),
            "{auth}"
        );
        assert!(
            auth.contains("/20231027/eu-west-1/lambda/aws4_request, SignedHeaders="),
            "{auth}"
        );
        let signature = auth.rsplit("Signature=").next().unwrap();
        assert!(
            signature.len() == 64 && signature.bytes().all(|b| b.is_ascii_hexdigit()),
            "{signature}"
        );
        // Placeholders derive from the request id: the same request, the
        // same line; another request, another signature.
        assert_eq!(
            endpoint_request_headers("t", &ctx, "eu-west-1")[1],
            headers[1]
        );
        let other = RequestContext {
            request_id: "0a0b0c0d-1111-4222-8333-444455556666".into(),
            ..ctx.clone()
        };
        assert_ne!(
            endpoint_request_headers("t", &other, "eu-west-1")[1],
            headers[1]
        );
        // As on AWS, the line is longer than the 1 KB standard-logging cut.
        let line: usize = headers.iter().map(|(n, v)| n.len() + v.len() + 3).sum();
        assert!(line > 1024, "{line}");
    }

    #[test]
    fn the_data_trace_names_method_response_headers_as_the_function_did() {
        let reply = br#"{"statusCode": 200, "headers": {"Content-Type": "text/plain", "X-Single": "1"}, "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}}"#;
        let (_, headers, _) = parse_proxy_response(reply).unwrap();
        let logged =
            method_response_headers(reply, &headers, "1-5c755b5d-07b29b94e632d3da19d88789");
        assert_eq!(
            logged.iter().collect::<Vec<_>>(),
            [
                ("Content-Type", "text/plain"),
                ("X-Single", "1"),
                ("Set-Cookie", "a=1"),
                ("Set-Cookie", "b=2"),
                (
                    "X-Amzn-Trace-Id",
                    "sampled=0;root=1-5c755b5d-07b29b94e632d3da19d88789"
                ),
            ]
        );
    }

    #[test]
    fn proxy_responses_are_validated_like_api_gateway() {
        let ok = parse_proxy_response(br#"{"statusCode": 201, "headers": {"x-a": "1"}, "multiValueHeaders": {"set-cookie": ["a=1", "b=2"]}, "body": "hi"}"#).unwrap();
        assert_eq!(ok.0, 201);
        assert_eq!(ok.1.get_all("set-cookie").iter().count(), 2);
        assert_eq!(&ok.2[..], b"hi");
        let b64 = parse_proxy_response(
            br#"{"statusCode": 200, "body": "AAEC", "isBase64Encoded": true}"#,
        )
        .unwrap();
        assert_eq!(&b64.2[..], &[0u8, 1, 2]);
        for bad in [
            &br#""Bad response""#[..],
            br#"{"statusCode": "200"}"#,
            br#"{"statusCode": 200.5}"#,
            br#"{"statusCode": 200, "body": {"a": 1}}"#,
            br#"{"statusCode": 200, "cookies": ["a=1"]}"#,
            br#"{"body": "no status"}"#,
            br#"{"statusCode": 200, "headers": {"x": {"nested": 1}}}"#,
            br#"not json"#,
        ] {
            assert!(
                parse_proxy_response(bad).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
