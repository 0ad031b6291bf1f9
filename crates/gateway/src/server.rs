//! The data-plane HTTP server, hardened like a public edge.
//!
//! - Request heads must arrive within `header_read_timeout`; the same timer
//!   closes keep-alive connections idle for that long (hyper starts it
//!   whenever the connection waits for a new request head).
//! - Request heads over `max_head_bytes` are refused by hyper with 431.
//! - At most `max_connections` connections are served at once; one more is
//!   answered `503 {"message":"Service Unavailable"}` and closed.
//! - Bodies are limited in size and read time by the service ([`Limits`](crate::Limits)).
//! - On shutdown, accepting stops and in-flight requests drain for at most
//!   `drain_timeout`.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::service::Gateway;

/// Connection-level settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Time to receive a request head; also the keep-alive idle timeout.
    pub header_read_timeout: Duration,
    /// Largest request head hyper will buffer.
    pub max_head_bytes: usize,
    /// Connections served at once.
    pub max_connections: usize,
    /// How long shutdown waits for in-flight requests.
    pub drain_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            header_read_timeout: Duration::from_secs(10),
            max_head_bytes: 64 * 1024,
            max_connections: 10_000,
            drain_timeout: Duration::from_secs(30),
        }
    }
}

const BUSY_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: 35\r\nconnection: close\r\n\r\n{\"message\":\"Service Unavailable\"}\r\n";

/// Serves the data plane on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(config.max_connections));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tokio::spawn(async move {
                let mut stream = stream;
                let _ =
                    tokio::time::timeout(Duration::from_secs(1), stream.write_all(BUSY_RESPONSE))
                        .await;
                let _ = stream.shutdown().await;
            });
            continue;
        };
        let gateway = Arc::clone(&gateway);
        let service = service_fn(move |req| {
            let gateway = Arc::clone(&gateway);
            async move {
                // Each request runs in its own task, so a client that hangs up
                // does not cancel the integration call: like API Gateway, the
                // request completes and its record is still emitted.
                Ok::<_, Infallible>(gateway.handle(req, peer).await)
            }
        });
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(config.header_read_timeout)
            .max_buf_size(config.max_head_bytes.max(8192))
            .keep_alive(true);
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(config.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("drain timeout: closing remaining connections");
    }
}

/// Binds `addr` and reports the real address (for `:0`).
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}
