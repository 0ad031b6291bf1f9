//! The admin listener: loopback by default, home of the AWS-compatible APIs
//! (CloudWatch Logs, and the API Gateway management API) and of `/health`.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gatewatch_aws_api::LogsApi;
use gatewatch_gateway::Gateway;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

/// Largest admin request body (a PutLogEvents batch is at most 1 MB of
/// messages; JSON escaping can double that).
const MAX_ADMIN_BODY: usize = 16 * 1024 * 1024;

/// What the admin listener serves.
pub struct Admin {
    /// The data plane (for `/health`).
    pub gateway: Arc<Gateway>,
    /// CloudWatch Logs.
    pub logs: LogsApi,
    /// The queues between the data plane and the log writers.
    pub log_queue: Arc<gatewatch_gateway::ThreadSinks>,
    /// The API Gateway management API.
    pub apigateway: gatewatch_aws_api::apigateway::ApiGatewayApi,
}

/// Serves admin requests until `shutdown` resolves.
pub async fn serve(listener: TcpListener, admin: Arc<Admin>, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let admin = Arc::clone(&admin);
        let service = service_fn(move |req| {
            let admin = Arc::clone(&admin);
            async move {
                // Own task: a client that hangs up does not cancel a write
                // that is being made durable.
                let handled = tokio::spawn(async move { handle(req, &admin).await }).await;
                Ok::<_, Infallible>(handled.unwrap_or_else(|_| json(StatusCode::INTERNAL_SERVER_ERROR, serde_json::json!({"__type": "ServiceUnavailableException", "message": "internal error"}))))
            }
        });
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(30));
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
}

async fn handle(req: Request<Incoming>, admin: &Admin) -> Response<Full<Bytes>> {
    if req.method() == http::Method::POST && LogsApi::accepts(req.headers()) {
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, MAX_ADMIN_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return json(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    serde_json::json!({"__type": "SerializationException", "message": "Request body too large or unreadable"}),
                )
            }
        };
        return admin
            .logs
            .handle(&parts.headers, &body)
            .await
            .map(Full::new);
    }
    if gatewatch_aws_api::apigateway::ApiGatewayApi::accepts(req.uri().path()) {
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, MAX_ADMIN_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return json(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    serde_json::json!({"message": "Request body too large or unreadable"}),
                )
            }
        };
        return admin
            .apigateway
            .handle(
                &parts.method,
                parts.uri.path(),
                parts.uri.query(),
                &parts.headers,
                &body,
            )
            .await
            .map(Full::new);
    }
    match (req.method().as_str(), req.uri().path()) {
        ("GET", "/health") => {
            let deployments = admin.gateway.deployments();
            let apis: Vec<_> = deployments
                .apis
                .iter()
                .map(|d| {
                    let stages: Vec<_> = d
                        .stages
                        .values()
                        .map(|s| {
                            serde_json::json!({
                                "name": s.name,
                                "executionLogGroup": gatewatch_logging::execution_group(&d.api.id, &s.name),
                                "accessLogGroup": s
                                    .access_log_settings
                                    .as_ref()
                                    .and_then(|a| gatewatch_logging::access::destination_group(&a.destination_arn).ok()),
                            })
                        })
                        .collect();
                    serde_json::json!({ "id": d.api.id, "name": d.api.name, "stages": stages })
                })
                .collect();
            json(
                StatusCode::OK,
                serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION"), "apis": apis }),
            )
        }
        ("GET", "/metrics") => {
            // Prometheus text format.
            let body = format!(
                "# HELP gatewatch_log_records_dropped_total Finished requests whose logs were dropped because the log queue was full.\n\
                 # TYPE gatewatch_log_records_dropped_total counter\n\
                 gatewatch_log_records_dropped_total {}\n\
                 # HELP gatewatch_log_queue_depth Finished requests waiting for the log writer.\n\
                 # TYPE gatewatch_log_queue_depth gauge\n\
                 gatewatch_log_queue_depth {}\n",
                admin.log_queue.dropped(),
                admin.log_queue.depth()
            );
            let mut response = Response::new(Full::new(Bytes::from(body)));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            response
        }
        (_, path) => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({ "__type": "UnknownOperationException", "message": format!("No admin operation at {path}") }),
        ),
    }
}

fn json(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
