//! The admin listener: loopback by default, home of the AWS-compatible APIs
//! (the CloudWatch Logs API and the API Gateway management API arrive with
//! their issues) and of `/health`.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gatewatch_gateway::Gateway;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

/// Serves admin requests until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl Future<Output = ()>,
) {
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
        let gateway = Arc::clone(&gateway);
        let service = service_fn(move |req| {
            let gateway = Arc::clone(&gateway);
            async move { Ok::<_, Infallible>(handle(req, &gateway)) }
        });
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(10));
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
}

fn handle(req: Request<Incoming>, gateway: &Gateway) -> Response<Full<Bytes>> {
    let (status, body) = match (req.method().as_str(), req.uri().path()) {
        ("GET", "/health") => {
            let deployments = gateway.deployments();
            let apis: Vec<_> = deployments
                .apis
                .iter()
                .map(|d| serde_json::json!({ "id": d.api.id, "name": d.api.name, "stages": d.stages.keys().collect::<Vec<_>>() }))
                .collect();
            (
                StatusCode::OK,
                serde_json::json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION"), "apis": apis }),
            )
        }
        (_, path) => (
            StatusCode::NOT_FOUND,
            serde_json::json!({ "__type": "UnknownOperationException", "message": format!("No admin operation at {path}") }),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
