//! The Lambda Runtime API one function process talks to.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::sync::atomic::Ordering;

use crate::function::{Answer, Function, ProcessState};

/// Serves the Runtime API for one process on a loopback port.
pub(crate) async fn start(
    function: Arc<Function>,
    state: Arc<ProcessState>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let function = Arc::clone(&function);
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let function = Arc::clone(&function);
                    let state = Arc::clone(&state);
                    async move { Ok::<_, Infallible>(handle(req, &function, &state).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((addr, task))
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r
}

async fn handle(
    req: Request<Incoming>,
    function: &Function,
    state: &ProcessState,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
        return reply(StatusCode::NOT_FOUND, "{\"errorMessage\":\"unknown path\"}");
    };
    if req.method() == http::Method::GET && rest == "invocation/next" {
        let init = state.spawned.elapsed();
        let first = state.take_ready(function);
        let started_here = first.is_some();
        if let Some(ready) = first {
            let _ = ready.send(());
        }
        function.idle.fetch_add(1, Ordering::SeqCst);
        state.set_finishing(function, false);
        let next = { function.queue_rx.lock().await.recv().await };
        function.idle.fetch_sub(1, Ordering::SeqCst);
        let Some(inv) = next else {
            return reply(StatusCode::GONE, "");
        };
        function.waiting.fetch_sub(1, Ordering::SeqCst);
        // The caller may have given up meanwhile: then nobody collects it.
        if started_here && !inv.reply.is_closed() {
            // This process's first invocation carries its init duration.
            function
                .first_invocations
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(inv.request_id.clone(), init);
        }
        *state.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(inv.request_id.clone());
        *state.replies.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((inv.reply, Instant::now()));
        // The function's time starts now.
        let _ = inv.started.send(());
        let deadline_ms = (std::time::SystemTime::now() + function.config.timeout)
            .duration_since(std::time::SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let mut r = reply(StatusCode::OK, inv.payload);
        let h = r.headers_mut();
        let set = |h: &mut http::HeaderMap, k: &'static str, v: String| {
            if let Ok(v) = http::HeaderValue::from_str(&v) {
                h.insert(k, v);
            }
        };
        set(h, "lambda-runtime-aws-request-id", inv.request_id.clone());
        set(h, "lambda-runtime-deadline-ms", deadline_ms.to_string());
        set(
            h,
            "lambda-runtime-invoked-function-arn",
            function.arn().to_string(),
        );
        set(
            h,
            "lambda-runtime-trace-id",
            format!(
                "Root=1-{}-{};Sampled=0",
                &uuid::Uuid::new_v4().simple().to_string()[..8],
                &uuid::Uuid::new_v4().simple().to_string()[..24]
            ),
        );
        set(h, "content-type", "application/json".to_string());
        return r;
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let (id, kind) = match rest
        .strip_prefix("invocation/")
        .and_then(|r| r.rsplit_once('/'))
    {
        Some((id, kind)) => (id.to_string(), kind.to_string()),
        None if rest == "init/error" => {
            tracing::warn!(function = %function.config.name, "init error: {}", String::from_utf8_lossy(&body));
            return reply(StatusCode::ACCEPTED, "{\"status\":\"OK\"}");
        }
        None => return reply(StatusCode::NOT_FOUND, "{\"errorMessage\":\"unknown path\"}"),
    };
    let current = state
        .current
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if current.as_deref() != Some(id.as_str()) {
        return reply(
            StatusCode::BAD_REQUEST,
            "{\"errorMessage\":\"Invalid request ID\",\"errorType\":\"InvalidRequestID\"}",
        );
    }
    // A path that is neither answer leaves the invocation open, so the
    // runtime can still answer it properly.
    let result = match kind.as_str() {
        "response" => Ok(body),
        "error" => Err(body),
        _ => return reply(StatusCode::NOT_FOUND, "{\"errorMessage\":\"unknown path\"}"),
    };
    let sender = state
        .replies
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    *state.current.lock().unwrap_or_else(|p| p.into_inner()) = None;
    // Counted before the answer goes out, so the caller's next invocation
    // finds this process about to be free.
    state.set_finishing(function, true);
    if let Some((sender, handed_out)) = sender {
        let ran = handed_out.elapsed();
        let _ = sender.send(Answer {
            result,
            ran,
            max_memory_mb: state.peak_memory_mb(),
            exited: false,
        });
    }
    reply(StatusCode::ACCEPTED, "{\"status\":\"OK\"}")
}
