//! One request, start to finish: addressing, limits, routing, the
//! integration, the response and its record.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use gatewatch_model::{GatewayResponseType, IntegrationType, RestApi};
use http::{HeaderValue, Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;

use crate::body::{BoxError, CompletionBody, Finisher};
use crate::context::RequestRecord;
use crate::context::{
    ExecutionEventKind, ExecutionTrace, HeaderList, RequestContext, RequestIds,
    MAX_STREAMED_BODY_TRACE, STANDARD_LINE_CHARS,
};
use crate::deployment::Deployments;
use crate::integration::lambda::LambdaInvoker;
use crate::integration::{http::HttpBackend, mock, IntegrationReply, ReplyBody};
use crate::request::{parse_query, MethodRequest};
use crate::response::{self, add_standard_headers, GatewayError};
use crate::routing::select_method;
use crate::sink::RecordSink;

/// The body type of every response the gateway sends.
pub type ResponseBody = UnsyncBoxBody<Bytes, BoxError>;

/// Request limits, as API Gateway's quotas give them.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body (10 MB).
    pub max_body_bytes: usize,
    /// Largest request line plus header names and values (10,240 bytes).
    pub max_header_bytes: usize,
    /// Time allowed to receive the whole request body.
    pub body_read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 10 * 1024 * 1024,
            max_header_bytes: 10_240,
            body_read_timeout: Duration::from_secs(30),
        }
    }
}

/// What TestInvokeMethod sets that a served request would take from the
/// client.
#[derive(Debug, Clone)]
pub struct TestOverrides {
    /// `test-invoke-request` on AWS. Must hold no control character:
    /// access lines copy request ids without escaping them
    /// (`ContextVariable::is_plain_text`).
    pub request_id: String,
    /// `test-invoke-source-ip` on AWS. Must hold no control character, as
    /// for `request_id`.
    pub source_ip: String,
}

impl Default for TestOverrides {
    fn default() -> Self {
        TestOverrides {
            request_id: "test-invoke-request".into(),
            source_ip: "test-invoke-source-ip".into(),
        }
    }
}

/// The data plane's shared state.
pub struct Gateway {
    deployments: RwLock<Arc<Deployments>>,
    http: HttpBackend,
    lambda: Option<Arc<dyn LambdaInvoker>>,
    sink: Arc<dyn RecordSink>,
    limits: Limits,
    /// Emit a record for every request (the console prints each); otherwise
    /// a successful request on a stage that logs nothing emits none.
    record_all: bool,
    /// Requests and backend calls running in tasks of their own, which a
    /// draining server waits for.
    detached: Arc<Detached>,
}

/// A count of detached tasks and a signal when it falls to zero.
#[derive(Default)]
struct Detached {
    running: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

/// Counts one detached task while it lives.
struct DetachedGuard(Arc<Detached>);

impl DetachedGuard {
    fn new(d: &Arc<Detached>) -> DetachedGuard {
        d.running.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        DetachedGuard(Arc::clone(d))
    }
}

impl Drop for DetachedGuard {
    fn drop(&mut self) {
        if self
            .0
            .running
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
            == 1
        {
            self.0.idle.notify_waiters();
        }
    }
}

impl Gateway {
    /// A gateway serving `deployments`, reporting finished requests to `sink`.
    pub fn new(deployments: Deployments, sink: Arc<dyn RecordSink>, limits: Limits) -> Gateway {
        Gateway {
            deployments: RwLock::new(Arc::new(deployments)),
            http: HttpBackend::new(),
            lambda: None,
            sink,
            limits,
            record_all: true,
            detached: Arc::default(),
        }
    }

    /// With `false`, successful requests on stages that write no logs (no
    /// access log, execution logging OFF, no errors-only tracing, no Lambda
    /// function logs) emit no record, like nginx with `access_log off`.
    /// Failures always emit one. The default is `true`.
    pub fn with_record_all(mut self, record_all: bool) -> Gateway {
        self.record_all = record_all;
        self
    }

    /// Runs AWS_PROXY integrations' functions with `invoker`.
    pub fn with_lambda(mut self, invoker: Arc<dyn LambdaInvoker>) -> Gateway {
        self.lambda = Some(invoker);
        self
    }

    /// The deployments being served now.
    pub fn deployments(&self) -> Arc<Deployments> {
        self.deployments
            .read()
            .map(|d| Arc::clone(&d))
            .unwrap_or_default()
    }

    /// Replaces what is served; requests in flight finish on the old set.
    pub fn replace_deployments(&self, deployments: Deployments) {
        if let Ok(mut d) = self.deployments.write() {
            *d = Arc::new(deployments);
        }
    }

    /// Spawns `fut` on the current runtime as a task a draining server
    /// waits for (see [`Gateway::detached_done`]).
    pub fn spawn_detached<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let guard = DetachedGuard::new(&self.detached);
        tokio::spawn(async move {
            let out = fut.await;
            drop(guard);
            out
        })
    }

    /// Resolves once no detached task is running.
    pub async fn detached_done(&self) {
        loop {
            let idle = self.detached.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self
                .detached
                .running
                .load(std::sync::atomic::Ordering::SeqCst)
                == 0
            {
                return;
            }
            idle.await;
        }
    }

    /// True when `req` can run inside its connection's task: a request
    /// with a body to read, or one that would wait for room in the log
    /// queue, runs in a task of its own so a client hanging up cannot
    /// cancel it before its record is emitted.
    pub fn runs_inline<B>(&self, req: &Request<B>) -> bool {
        let h = req.headers();
        let no_body = !h.contains_key(http::header::TRANSFER_ENCODING)
            && h.get(http::header::CONTENT_LENGTH)
                .is_none_or(|v| v.as_bytes() == b"0");
        no_body && self.sink.has_room()
    }

    /// Handles one request from `peer`.
    pub async fn handle(
        self: &Arc<Self>,
        req: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<ResponseBody> {
        self.run(req, peer, self.deployments(), &self.sink, None)
            .await
    }

    /// TestInvokeMethod: runs one request through the same path as served
    /// traffic, against `deployments` (the API's working definition as a
    /// stage), and returns the response with its body read and the
    /// request's record (context and execution events) instead of sending
    /// the record to the log writer.
    pub async fn test_invoke(
        self: &Arc<Self>,
        deployments: Deployments,
        req: Request<Full<Bytes>>,
        overrides: TestOverrides,
    ) -> (http::response::Parts, Bytes, Option<RequestRecord>) {
        let (tx, mut rx) = crate::sink::ChannelSink::new(1);
        let sink: Arc<dyn RecordSink> = Arc::new(tx.with_policy(crate::sink::QueuePolicy::Drop));
        let peer = SocketAddr::from(([127, 0, 0, 1], 0));
        let response = self
            .run(req, peer, Arc::new(deployments), &sink, Some(&overrides))
            .await;
        let (parts, body) = response.into_parts();
        let bytes = body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        drop(sink);
        (parts, bytes, rx.recv().await)
    }

    async fn run<B>(
        self: &Arc<Self>,
        req: Request<B>,
        peer: SocketAddr,
        deployments: Arc<Deployments>,
        sink: &Arc<dyn RecordSink>,
        overrides: Option<&TestOverrides>,
    ) -> Response<ResponseBody>
    where
        B: http_body::Body<Data = Bytes> + Send,
        B::Error: Into<BoxError>,
    {
        // Backpressure: a request is admitted once its log record has room,
        // so a writer that falls behind slows the data plane down instead of
        // losing records.
        let permit = match sink.reserve() {
            Some(reservation) => reservation.taken().await,
            None => None,
        };
        let started = Instant::now();
        let now = SystemTime::now();
        let (parts, body) = req.into_parts();

        let head = HeadFields::scan(&parts.headers);
        let host = head
            .host
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .unwrap_or("");
        let ids = RequestIds::new(now, head.request_id, head.trace);
        // Boxed once here: the context moves through the backend task,
        // the response body and the log queue as a pointer.
        let mut ctx = Box::new(RequestContext {
            account_id: Arc::clone(&deployments.account_id),
            request_id: ids.request_id,
            extended_request_id: ids.extended_request_id,
            request_time: Some(now),
            http_method: method_name(parts.method.as_str()),
            domain_name: host.to_string(),
            protocol: Cow::Borrowed(protocol_name(parts.version)),
            xray_trace_id: ids.xray_trace_id,
            ..RequestContext::default()
        });
        crate::context::push_ip(&mut ctx.identity.source_ip, peer.ip());
        if let Some(o) = overrides {
            ctx.request_id = o.request_id.clone();
            ctx.identity.source_ip = o.source_ip.clone();
            ctx.test_invoke = true;
        }
        ctx.identity.user_agent = head.user_agent.map(String::from);
        let mut trace = ExecutionTrace::default();

        let mut target = match deployments.resolve(Some(host), parts.uri.path()) {
            Ok(t) => t,
            Err(miss) => {
                if let Some(api) = miss.api {
                    ctx.api_id = Arc::from(api.api.id.as_str());
                }
                ctx.stage = Arc::from(miss.stage.unwrap_or(""));
                ctx.path = parts.uri.path().to_string();
                let api = miss.api.map(|a| a.served_api(miss.stage));
                let err = GatewayError::new(GatewayResponseType::MissingAuthenticationToken);
                return self.fail(sink, permit, api, err, ctx, trace, None, started);
            }
        };
        let api = target.deployment.api.as_ref();
        ctx.api_id = Arc::clone(&target.deployment.api_id);
        ctx.stage = Arc::clone(target.stage_name);
        ctx.path = std::mem::take(&mut target.context_path);
        ctx.path_without_stage = target.path.to_string();
        ctx.deployment_id = Some(Arc::clone(&target.deployment.shared_id));
        // Until a method matches, the stage's `*/*` setting decides whether
        // data is captured (for the gateway response of an early reject).
        let default_setting = target.stage.method_setting("*", "*");
        trace.data = default_setting.data_trace_enabled || target.stage.errors_only_tracing;
        // A line holds at most that many characters, each at most 4 bytes.
        trace.streamed_body_limit = target
            .stage
            .max_log_line_chars
            .unwrap_or(STANDARD_LINE_CHARS)
            .saturating_mul(4)
            .min(MAX_STREAMED_BODY_TRACE);
        ctx.data_trace = trace.data;

        let header_bytes: usize = parts.method.as_str().len()
            + parts.uri.path_and_query().map_or(0, |p| p.as_str().len())
            + parts.uri.authority().map_or(0, |a| a.as_str().len())
            + head.bytes;
        if header_bytes > self.limits.max_header_bytes {
            let err = GatewayError::new(GatewayResponseType::RequestTooLarge);
            return self.fail(sink, permit, Some(api), err, ctx, trace, None, started);
        }

        let Some(matched) = target.deployment.router.find(api, target.path) else {
            let err = GatewayError::new(GatewayResponseType::MissingAuthenticationToken);
            return self.fail(sink, permit, Some(api), err, ctx, trace, None, started);
        };
        let Some(method) = select_method(matched.resource, parts.method.as_str()) else {
            let err = GatewayError::new(GatewayResponseType::MissingAuthenticationToken);
            return self.fail(sink, permit, Some(api), err, ctx, trace, None, started);
        };
        ctx.resource_path = Some(Arc::clone(&matched.names.path));
        ctx.resource_id = Some(Arc::clone(&matched.names.id));
        ctx.method_key = Some(method_name(&method.http_method));
        let setting = target
            .stage
            .method_setting(&matched.resource.path, &method.http_method);
        // Errors-only tracing captures data for every request; the writer
        // decides at the end whether it is written.
        ctx.data_trace = setting.data_trace_enabled || target.stage.errors_only_tracing;
        // TestInvokeMethod always returns the whole log.
        trace.lines_off = overrides.is_none()
            && setting.logging_level == gatewatch_model::LoggingLevel::Off
            && !target.stage.errors_only_tracing;
        // At ERROR level only error lines are written: a healthy request
        // keeps no events and captures no data (data lines are INFO lines).
        trace.error_lines_only = overrides.is_none()
            && setting.logging_level == gatewatch_model::LoggingLevel::Error
            && !target.stage.errors_only_tracing;
        trace.data = ctx.data_trace && !trace.error_lines_only;
        // Errors-only tracing writes a healthy request's data nowhere: it is
        // copied at the end, and only for a failed request.
        trace.errors_only = overrides.is_none() && target.stage.errors_only_tracing;
        let silent = !self.record_all
            && setting.logging_level == gatewatch_model::LoggingLevel::Off
            && target.stage.access_log_settings.is_none()
            && !target.stage.errors_only_tracing
            && method
                .integration
                .as_ref()
                .is_some_and(|i| i.kind != IntegrationType::AwsProxy);

        let body = match self.read_body(&parts.headers, body).await {
            Ok(b) => b,
            Err(err) => return self.fail(sink, permit, Some(api), err, ctx, trace, None, started),
        };

        let raw_query = parts.uri.query().map(String::from);
        let request = MethodRequest {
            method: parts.method.clone(),
            path_parameters: matched.path_parameters,
            query: raw_query.as_deref().map(parse_query).unwrap_or_default(),
            raw_query,
            headers: parts.headers,
            body,
            stage: Arc::clone(target.stage),
            greedy_parameter: matched
                .resource
                .path_part
                .strip_prefix('{')
                .and_then(|p| p.strip_suffix("+}"))
                .map(String::from),
        };
        let event = method_request_event(&trace, &request, &ctx, !trace.errors_only);
        trace.push(event);

        let Some(integration) = method.integration.as_ref() else {
            let err = GatewayError::configuration("No integration defined for method");
            return self.fail(
                sink,
                permit,
                Some(api),
                err,
                ctx,
                trace,
                Some(&request),
                started,
            );
        };
        let outcome = match integration.kind {
            IntegrationType::Mock => mock::invoke(integration, &request, &mut ctx, &mut trace),
            IntegrationType::Http | IntegrationType::HttpProxy | IntegrationType::AwsProxy => {
                // A backend call runs in a task of its own, to its end: a
                // client that hangs up does not cancel it, and the record
                // is still emitted, as API Gateway completes the request.
                // MOCK requests, which have nothing to wait for, skip the
                // task.
                // The task owns the API and finds the integration in it
                // again, rather than copying the integration's definition.
                let this = Arc::clone(self);
                let sink = Arc::clone(sink);
                let api = Arc::clone(&target.deployment.api);
                let resource_index = matched.resource_index;
                let region = deployments.region.clone();
                // The call's future (context, request, trace and the
                // client's state) is boxed where it is built, so spawning
                // and polling the task move a pointer instead of copying
                // kilobytes several times per request.
                let task = self.spawn_detached(Box::pin(async move {
                    let Some(integration) = api
                        .resources
                        .get(resource_index)
                        .and_then(|r| select_method(r, request.method.as_str()))
                        .and_then(|m| m.integration.as_ref())
                    else {
                        return plain_json(500, "Internal server error");
                    };
                    let outcome = match integration.kind {
                        IntegrationType::AwsProxy => {
                            let binary = request
                                .header(http::header::CONTENT_TYPE)
                                .is_some_and(|ct| api.is_binary_media_type(ct));
                            crate::integration::lambda::invoke(
                                this.lambda.as_deref(),
                                integration,
                                &request,
                                &mut ctx,
                                &mut trace,
                                &region,
                                binary,
                            )
                            .await
                        }
                        _ => {
                            this.http
                                .invoke(integration, &request, &mut ctx, &mut trace, peer.ip())
                                .await
                        }
                    };
                    this.finish(
                        &sink, permit, outcome, &api, ctx, trace, &request, started, silent,
                    )
                }));
                return task
                    .await
                    .unwrap_or_else(|_| plain_json(500, "Internal server error"));
            }
            IntegrationType::Aws => Err(GatewayError::new(
                GatewayResponseType::ApiConfigurationError,
            )
            .with_status(500)
            .with_failure(
                crate::context::FailureKind::Configuration,
                format!(
                    "{} integrations are not served yet (Lambda host pending)",
                    integration.kind
                ),
            )),
        };
        self.finish(
            sink, permit, outcome, api, ctx, trace, &request, started, silent,
        )
    }

    /// The response for an integration's outcome.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        sink: &Arc<dyn RecordSink>,
        permit: Option<tokio::sync::mpsc::OwnedPermit<crate::context::RequestRecord>>,
        outcome: Result<IntegrationReply, GatewayError>,
        api: &RestApi,
        ctx: Box<RequestContext>,
        trace: ExecutionTrace,
        request: &MethodRequest,
        started: Instant,
        silent: bool,
    ) -> Response<ResponseBody> {
        match outcome {
            Ok(reply) => self.succeed(sink, permit, reply, ctx, trace, request, started, silent),
            Err(err) => self.fail(
                sink,
                permit,
                Some(api),
                err,
                ctx,
                trace,
                Some(request),
                started,
            ),
        }
    }

    /// Reads the request body within the size limit and read timeout.
    async fn read_body<B>(&self, headers: &http::HeaderMap, body: B) -> Result<Bytes, GatewayError>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        let declared = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.limits.max_body_bytes as u64) {
            return Err(GatewayError::new(GatewayResponseType::RequestTooLarge));
        }
        // A request with no body (a GET without Content-Length or
        // Transfer-Encoding) needs no read, no timer and no buffer.
        if declared == Some(0) || body.is_end_stream() {
            return Ok(Bytes::new());
        }
        let limited = Limited::new(body, self.limits.max_body_bytes);
        match tokio::time::timeout(self.limits.body_read_timeout, limited.collect()).await {
            Ok(Ok(collected)) => Ok(collected.to_bytes()),
            Ok(Err(e))
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                Err(GatewayError::new(GatewayResponseType::RequestTooLarge))
            }
            // The client stopped sending or broke the body framing.
            Ok(Err(_)) | Err(_) => Err(GatewayError::new(GatewayResponseType::BadRequestBody)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn succeed(
        &self,
        sink: &Arc<dyn RecordSink>,
        permit: Option<tokio::sync::mpsc::OwnedPermit<crate::context::RequestRecord>>,
        reply: IntegrationReply,
        mut ctx: Box<RequestContext>,
        mut trace: ExecutionTrace,
        request: &MethodRequest,
        started: Instant,
        silent: bool,
    ) -> Response<ResponseBody> {
        let status = reply.status.as_u16();
        ctx.status = Some(status);
        // A reply with an error status is a failure to errors-only tracing.
        if ctx.failed() {
            fill_request_data(&mut trace, request, &ctx);
        }
        let capture_streamed = trace.data
            && !silent
            && trace.keeps_info_lines()
            && (!trace.errors_only || ctx.failed());
        let mut headers = reply.headers;
        add_standard_headers(&mut headers, &ctx);
        // A silent request's record would be written nowhere: none is
        // built, and its slot in the queue is given back at once.
        let finisher = (!silent).then(|| {
            trace.push_same_instant(ExecutionEventKind::Succeeded);
            trace.push_same_instant(ExecutionEventKind::Completed { status });
            Finisher {
                context: ctx,
                events: std::mem::take(&mut trace.events),
                started,
                sink: Arc::clone(sink),
                permit,
            }
        });
        let body: ResponseBody = match reply.body {
            ReplyBody::Full(bytes) => {
                CompletionBody::new(Full::new(bytes), finisher).boxed_unsync()
            }
            ReplyBody::Stream(incoming) => {
                let body = CompletionBody::new(incoming, finisher);
                // The data trace shows the streamed body once it has passed
                // (only where its lines will be written).
                if capture_streamed {
                    body.capturing(trace.streamed_body_limit).boxed_unsync()
                } else {
                    body.boxed_unsync()
                }
            }
        };
        let mut response = Response::new(body);
        *response.status_mut() = reply.status;
        *response.headers_mut() = headers;
        response
    }

    #[allow(clippy::too_many_arguments)]
    fn fail(
        &self,
        sink: &Arc<dyn RecordSink>,
        permit: Option<tokio::sync::mpsc::OwnedPermit<crate::context::RequestRecord>>,
        api: Option<&RestApi>,
        err: GatewayError,
        mut ctx: Box<RequestContext>,
        mut trace: ExecutionTrace,
        request: Option<&MethodRequest>,
        started: Instant,
    ) -> Response<ResponseBody> {
        if let Some(request) = request {
            fill_request_data(&mut trace, request, &ctx);
        }
        if let Some((kind, detail)) = &err.failure {
            trace.push(ExecutionEventKind::Failure {
                kind: *kind,
                detail: detail.clone(),
            });
        }
        let rendered = response::render(api, &err, &mut ctx, request);
        let status = rendered.status.as_u16();
        trace.push(ExecutionEventKind::GatewayResponse {
            response_type: err.kind,
            status,
            body: trace.data_body(&rendered.body),
            headers: trace.data_headers(&rendered.headers),
        });
        trace.push_same_instant(ExecutionEventKind::Completed { status });
        ctx.status = Some(status);
        let finisher = Finisher {
            context: ctx,
            events: trace.events,
            started,
            sink: Arc::clone(sink),
            permit,
        };
        let body = CompletionBody::new(Full::new(rendered.body), finisher).boxed_unsync();
        let mut response = Response::new(body);
        *response.status_mut() = rendered.status;
        *response.headers_mut() = rendered.headers;
        response
    }
}

/// What the gateway reads from a request's headers, gathered in one pass
/// over them (a lookup per header would hash each name again).
#[derive(Debug, Default, PartialEq)]
struct HeadFields<'a> {
    /// The first `Host` value.
    host: Option<&'a str>,
    /// The first `User-Agent` value.
    user_agent: Option<&'a str>,
    /// The first `x-amzn-RequestId` value (a client's own request id).
    request_id: Option<&'a str>,
    /// The first `X-Amzn-Trace-Id` value.
    trace: Option<&'a str>,
    /// Bytes of every header name and value, for the head size limit.
    bytes: usize,
}

impl<'a> HeadFields<'a> {
    fn scan(headers: &'a http::HeaderMap) -> HeadFields<'a> {
        let mut head = HeadFields::default();
        // Which of the four names have been met (bits in the order above).
        let mut seen = 0u8;
        for (name, value) in headers {
            head.bytes += name.as_str().len() + value.len();
            // Names arrive lowercased; a match on the text is a length
            // switch and one comparison.
            let (slot, bit) = match name.as_str() {
                "host" => (&mut head.host, 1),
                "user-agent" => (&mut head.user_agent, 2),
                "x-amzn-requestid" => (&mut head.request_id, 4),
                "x-amzn-trace-id" => (&mut head.trace, 8),
                _ => continue,
            };
            // Like `HeaderMap::get`: the first value counts, and one that
            // is not visible ASCII counts as absent.
            if seen & bit == 0 {
                seen |= bit;
                *slot = value.to_str().ok();
            }
        }
        head
    }
}

/// The `MethodRequest` event of `request`, with its data (parameters,
/// headers, body) when `with_data` and `trace` captures data.
fn method_request_event(
    trace: &ExecutionTrace,
    request: &MethodRequest,
    ctx: &RequestContext,
    with_data: bool,
) -> ExecutionEventKind {
    if !with_data {
        return ExecutionEventKind::MethodRequest {
            path_parameters: HeaderList::new(),
            query: HeaderList::new(),
            headers: HeaderList::new(),
            body: Bytes::new(),
        };
    }
    ExecutionEventKind::MethodRequest {
        path_parameters: trace.data_pairs(request.path_parameter_pairs()),
        query: trace.data_pairs(request.query_pairs()),
        headers: if trace.data {
            // Room for the client's headers and the four the front end adds.
            let bytes: usize = (&request.headers)
                .into_iter()
                .map(|(n, v)| n.as_str().len() + v.len())
                .sum();
            let mut list = HeaderList::with_capacity(request.headers.len() + 4, bytes + 160);
            request.visit_front_end_headers(ctx, |name, value| list.push(name, value));
            list
        } else {
            HeaderList::new()
        },
        body: trace.data_body(&request.body),
    }
}

/// Copies a failed request's data into its `MethodRequest` event when
/// errors-only tracing deferred it (see [`ExecutionTrace::errors_only`]).
/// Called once, when the request ends.
fn fill_request_data(trace: &mut ExecutionTrace, request: &MethodRequest, ctx: &RequestContext) {
    if !trace.errors_only || !trace.data {
        return;
    }
    let filled = method_request_event(trace, request, ctx, true);
    if let Some(event) = trace
        .events
        .iter_mut()
        .find(|e| matches!(e.kind, ExecutionEventKind::MethodRequest { .. }))
    {
        event.kind = filled;
    }
}

/// A method's name as `$context.httpMethod` and execution logs show it (a
/// request's method, or a method's key on its resource such as `ANY`):
/// borrowed from a static list of the standard HTTP methods and `ANY`, so
/// those cost no allocation, and copied otherwise.
fn method_name(name: &str) -> Cow<'static, str> {
    const STANDARD: [&str; 10] = [
        "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE", "ANY",
    ];
    match STANDARD.iter().find(|standard| **standard == name) {
        Some(standard) => Cow::Borrowed(standard),
        None => Cow::Owned(name.to_string()),
    }
}

/// `HTTP/1.1`, as `$context.protocol` shows it.
fn protocol_name(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// A plain JSON response outside any API (connection refusals, timeouts before
/// a request could be read).
pub fn plain_json(status: u16, message: &str) -> Response<ResponseBody> {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|e| match e {})
            .boxed_unsync(),
    );
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_scan_reads_what_header_lookups_would() {
        let mut headers = http::HeaderMap::new();
        headers.append(http::header::HOST, "a.example".parse().unwrap());
        headers.append(http::header::HOST, "b.example".parse().unwrap());
        headers.append(
            http::header::USER_AGENT,
            http::HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        );
        headers.append(http::header::USER_AGENT, "curl/8".parse().unwrap());
        headers.append("x-amzn-trace-id", "Root=1-2-3".parse().unwrap());
        headers.append("accept", "*/*".parse().unwrap());
        let head = HeadFields::scan(&headers);
        let expected = HeadFields {
            host: headers
                .get(http::header::HOST)
                .and_then(|v| v.to_str().ok()),
            user_agent: headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok()),
            request_id: None,
            trace: Some("Root=1-2-3"),
            bytes: headers
                .iter()
                .map(|(k, v)| k.as_str().len() + v.len())
                .sum(),
        };
        assert_eq!(head, expected);
        assert_eq!(head.host, Some("a.example"));
        // A first value that is not ASCII hides the later ones, as with get.
        assert_eq!(head.user_agent, None);
        assert_eq!(
            head.bytes,
            4 + 9 + 4 + 9 + 10 + 5 + 10 + 6 + 15 + 10 + 6 + 3
        );
    }
}
