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

/// Binds `threads` listening sockets to one address with `SO_REUSEPORT`, so
/// the kernel spreads new connections over them; reports the real address
/// (for `:0`). Call inside a runtime; the sockets are returned unregistered,
/// for [`serve_on_threads`].
pub async fn bind_shared(
    addr: SocketAddr,
    threads: usize,
) -> std::io::Result<(Vec<std::net::TcpListener>, SocketAddr)> {
    let mut addr = addr;
    let mut out = Vec::with_capacity(threads.max(1));
    for _ in 0..threads.max(1) {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        #[cfg(unix)]
        socket.set_reuseport(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(1024)?;
        addr = listener.local_addr()?;
        out.push(listener.into_std()?);
        // Without SO_REUSEPORT only one socket can hold the address.
        if cfg!(not(unix)) {
            break;
        }
    }
    Ok((out, addr))
}

/// Serves the data plane thread-per-core: one OS thread with a
/// single-threaded runtime per listener (from [`bind_shared`]). A
/// connection, its requests, their backend calls and their timers all stay
/// on one thread, as in nginx's worker processes, so a request never pays
/// for waking a task on another core. Each thread drains and stops when
/// `shutdown` turns true; join the returned handles to wait for that.
pub fn serve_on_threads(
    listeners: Vec<std::net::TcpListener>,
    gateway: Arc<Gateway>,
    config: ServerConfig,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<Vec<std::thread::JoinHandle<()>>> {
    let per_thread = ServerConfig {
        max_connections: config.max_connections.div_ceil(listeners.len().max(1)),
        ..config
    };
    listeners
        .into_iter()
        .enumerate()
        .map(|(i, listener)| {
            let gateway = Arc::clone(&gateway);
            let config = per_thread.clone();
            let mut shutdown = shutdown.clone();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            std::thread::Builder::new()
                .name(format!("gatewatch-data-{i}"))
                .spawn(move || {
                    runtime.block_on(async move {
                        let listener = match TcpListener::from_std(listener) {
                            Ok(l) => l,
                            Err(e) => {
                                tracing::error!(error = %e, "data-plane listener unusable");
                                return;
                            }
                        };
                        serve(listener, gateway, config, async move {
                            let _ = shutdown.wait_for(|stop| *stop).await;
                        })
                        .await;
                    });
                })
        })
        .collect()
}

/// Binds `addr` and reports the real address (for `:0`).
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}
