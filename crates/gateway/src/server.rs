//! The data-plane HTTP server, hardened like a public edge.
//!
//! - Request heads must arrive within `header_read_timeout`; the same
//!   timeout closes keep-alive connections idle for that long. A watchdog
//!   per connection enforces it (see [`idle`]), so requests arm no timer.
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
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::service::Gateway;

pub mod idle;

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
            accepted = accept(&listener) => accepted,
        };
        let Some(permit) = admit(&stream, &permits) else {
            continue;
        };
        tokio::spawn(connection(
            stream, peer, permit, &gateway, &config, &graceful,
        ));
    }
    drop(listener);
    drain(graceful, &gateway, &config).await;
}

/// The next connection; accept errors (out of file descriptors and the
/// like) back off briefly instead of spinning.
async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                return (stream, peer);
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// A connection slot, or `None` after answering 503 when all are taken
/// (the stream is then closed).
fn admit(stream: &TcpStream, permits: &Arc<Semaphore>) -> Option<OwnedSemaphorePermit> {
    if let Ok(p) = Arc::clone(permits).try_acquire_owned() {
        return Some(p);
    }
    // The busy answer goes out on a duplicate of the socket; both handles
    // are closed once it is written.
    if let Ok(std) = socket_dup(stream) {
        tokio::spawn(async move {
            let Ok(mut stream) = TcpStream::from_std(std) else {
                return;
            };
            let _ =
                tokio::time::timeout(Duration::from_secs(1), stream.write_all(BUSY_RESPONSE)).await;
            let _ = stream.shutdown().await;
        });
    }
    None
}

/// A second handle on the same socket.
fn socket_dup(stream: &TcpStream) -> std::io::Result<std::net::TcpStream> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        let owned = stream.as_fd().try_clone_to_owned()?;
        let std = std::net::TcpStream::from(owned);
        std.set_nonblocking(true)?;
        Ok(std)
    }
    #[cfg(not(unix))]
    {
        let _ = stream;
        Err(std::io::Error::other(
            "duplicating a socket is unix-only here",
        ))
    }
}

/// Serves one connection: the future, for the caller to spawn.
fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
    gateway: &Arc<Gateway>,
    config: &ServerConfig,
    graceful: &GracefulShutdown,
) -> impl Future<Output = ()> + Send + 'static {
    let gateway = Arc::clone(gateway);
    let activity = Arc::new(idle::Activity::default());
    let requests = Arc::clone(&activity);
    let service =
        service_fn(move |req| {
            let gateway = Arc::clone(&gateway);
            let in_flight = requests.request();
            // A client that hangs up must not cancel its request: like API
            // Gateway, the request completes and its record is still emitted.
            // Requests that can wait (a body to read, a full log queue) run in a
            // task of their own; backend calls always do (inside `handle`).
            async move {
                let _in_flight = in_flight;
                if gateway.runs_inline(&req) {
                    return Ok::<_, Infallible>(gateway.handle(req, peer).await);
                }
                let task_gateway = Arc::clone(&gateway);
                let handled = gateway
                    .spawn_detached(async move { task_gateway.handle(req, peer).await })
                    .await;
                Ok(handled
                    .unwrap_or_else(|_| crate::service::plain_json(500, "Internal server error")))
            }
        });
    let mut builder = http1::Builder::new();
    // hyper's own head timer is off: the watchdog below times the wait.
    builder
        .header_read_timeout(None::<Duration>)
        .max_buf_size(config.max_head_bytes.max(8192))
        .keep_alive(true);
    let io = idle::Watched::new(stream, Arc::clone(&activity));
    let conn = builder.serve_connection(TokioIo::new(io), service);
    let conn = graceful.watch(conn);
    let timeout = config.header_read_timeout;
    async move {
        let watchdog = AbortOnDrop(tokio::spawn(idle::watch(activity, timeout)));
        if let Err(e) = conn.await {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
        }
        drop(watchdog);
        drop(permit);
    }
}

/// Aborts a task when dropped (a connection's watchdog, also when the
/// connection's future is dropped unfinished).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Waits for in-flight requests, and for requests and backend calls
/// whose clients left, at most `drain_timeout`.
async fn drain(graceful: GracefulShutdown, gateway: &Gateway, config: &ServerConfig) {
    let all = async {
        graceful.shutdown().await;
        gateway.detached_done().await;
    };
    if tokio::time::timeout(config.drain_timeout, all)
        .await
        .is_err()
    {
        tracing::warn!("drain timeout: closing remaining connections");
    }
}

/// Work a data-plane thread runs beside its connections, such as its log
/// writer. It is called on the thread when the thread starts, before any
/// connection is served (so per-thread set-up, such as
/// [`ThreadSinks::install_here`](crate::sink::ThreadSinks::install_here),
/// belongs in the call itself, not in the future it returns), with a future
/// that resolves once the thread's connections are gone; the thread then
/// waits for the work to finish, at most [`WORK_STOP_TIMEOUT`].
pub type ThreadWork = Arc<dyn Fn(WorkFuture) -> WorkFuture + Send + Sync>;

/// The future a [`ThreadWork`] is given (its stop signal) and returns.
pub type WorkFuture = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// How long a stopping data-plane thread waits for its [`ThreadWork`].
pub const WORK_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// One accepted connection on its way to a data-plane thread.
struct Handoff {
    stream: std::net::TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
}

/// Serves the data plane thread-per-core: `threads` OS threads, each with
/// a single-threaded runtime. A task on the calling runtime accepts on
/// `listener` and hands connections to the threads in turn; from then on a
/// connection, its requests, their backend calls (per-thread connection
/// pools) and their timers stay on one thread, as in nginx's worker
/// processes, so a request never pays for waking a task on another core.
/// When `shutdown` turns true, accepting stops and each thread drains its
/// connections; join the returned handles to wait for that. `beside`, if
/// given, runs on every thread next to its connections (see
/// [`ThreadWork`]) and has finished when the thread's handle joins. Call
/// inside a runtime.
pub fn serve_on_threads(
    listener: TcpListener,
    threads: usize,
    gateway: Arc<Gateway>,
    config: ServerConfig,
    shutdown: tokio::sync::watch::Receiver<bool>,
    beside: Option<ThreadWork>,
) -> std::io::Result<Vec<std::thread::JoinHandle<()>>> {
    let mut senders = Vec::new();
    let mut handles = Vec::new();
    for i in 0..threads.max(1) {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Handoff>();
        senders.push(tx);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let gateway = Arc::clone(&gateway);
        let config = config.clone();
        let beside = beside.clone();
        handles.push(
            std::thread::Builder::new()
                .name(format!("gatewatch-data-{i}"))
                .spawn(move || {
                    runtime.block_on(async move {
                        let (stop_work, work_stop) = tokio::sync::oneshot::channel::<()>();
                        let work = beside.map(|start| {
                            tokio::spawn(start(Box::pin(async move {
                                let _ = work_stop.await;
                            })))
                        });
                        let graceful = GracefulShutdown::new();
                        let mut connections = tokio::task::JoinSet::new();
                        // Every connection handed over is served: the thread
                        // stops taking new ones when the acceptor stops and
                        // drops its end of the queue.
                        while let Some(handoff) = rx.recv().await {
                            match TcpStream::from_std(handoff.stream) {
                                Ok(stream) => {
                                    connections.spawn(connection(
                                        stream,
                                        handoff.peer,
                                        handoff.permit,
                                        &gateway,
                                        &config,
                                        &graceful,
                                    ));
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "cannot take a connection")
                                }
                            }
                            while connections.try_join_next().is_some() {}
                        }
                        drain(graceful, &gateway, &config).await;
                        // Connections still open after the drain timeout are
                        // closed here, while the thread's work (its log
                        // writer) still runs: their records reach it.
                        connections.shutdown().await;
                        let _ = stop_work.send(());
                        if let Some(work) = work {
                            if tokio::time::timeout(WORK_STOP_TIMEOUT, work).await.is_err() {
                                tracing::warn!(
                                    "a data-plane thread's log writer did not finish in time"
                                );
                            }
                        }
                    });
                })?,
        );
    }
    let mut stop = shutdown;
    let permits = Arc::new(Semaphore::new(config.max_connections));
    tokio::spawn(async move {
        let mut next = 0usize;
        loop {
            let (stream, peer) = tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                accepted = accept(&listener) => accepted,
            };
            let Some(permit) = admit(&stream, &permits) else {
                continue;
            };
            let stream = match stream.into_std() {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot hand a connection over");
                    continue;
                }
            };
            let _ = senders[next % senders.len()].send(Handoff {
                stream,
                peer,
                permit,
            });
            next = next.wrapping_add(1);
        }
    });
    Ok(handles)
}

/// Binds `addr` and reports the real address (for `:0`).
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}
