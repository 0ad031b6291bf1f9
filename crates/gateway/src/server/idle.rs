//! The request-head timeout of data-plane connections, kept off the request
//! path.
//!
//! hyper can time each wait for a request head itself, but it then creates,
//! registers and drops a runtime timer for every request: about 1,500 of
//! the 23,000 instructions a MOCK request costs. Here a connection instead
//! has one watchdog task, which wakes every half timeout and compares three
//! counters the connection keeps as it goes (requests started, requests
//! finished, socket writes that moved bytes). The connection is closed
//! when, at two wake-ups in a row, no request was in flight and none of
//! the counters had moved:
//!
//! - a client that opens a connection, or finishes a request, and then
//!   sends no complete request head is closed after between one and one and
//!   a half timeouts, whether it sends nothing or trickles a partial head
//!   (bytes read do not count as activity, so a slow head does not keep a
//!   connection open);
//! - a request being handled is never cut here (backend calls have their
//!   own timeouts), and neither is a response body a client is reading,
//!   however slowly;
//! - a response the client has stopped reading altogether (no write moves a
//!   byte) is cut like an idle connection, as nginx's `send_timeout` does.
//!
//! Closing makes the connection's next read see the end of the stream (and
//! a pending write fail), so hyper ends the connection as if the client had
//! left.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use atomic_waker::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What one connection has done, as its watchdog sees it. Only the
/// connection's own task moves the counters (a plain load and store, no
/// locked instruction); the watchdog only reads them.
#[derive(Debug, Default)]
pub struct Activity {
    started: AtomicU64,
    finished: AtomicU64,
    writes: AtomicU64,
    expired: AtomicBool,
    waker: AtomicWaker,
}

fn bump(counter: &AtomicU64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
}

impl Activity {
    /// Counts a request whose head has arrived; the returned guard counts
    /// it finished when dropped (the response is ready, or the request was
    /// abandoned).
    pub fn request(self: &Arc<Self>) -> InFlight {
        bump(&self.started);
        InFlight(Arc::clone(self))
    }

    /// (started, finished, writes) now.
    fn counters(&self) -> (u64, u64, u64) {
        (
            self.started.load(Ordering::Relaxed),
            self.finished.load(Ordering::Relaxed),
            self.writes.load(Ordering::Relaxed),
        )
    }

    /// Marks the connection timed out and wakes it, so its pending read or
    /// write sees that.
    fn expire(&self) {
        self.expired.store(true, Ordering::Release);
        self.waker.wake();
    }

    fn is_expired(&self) -> bool {
        self.expired.load(Ordering::Acquire)
    }
}

/// One request in flight on a connection (see [`Activity::request`]).
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        bump(&self.0.finished);
    }
}

/// Watches `activity` until the connection has been idle for `timeout`
/// (see the module docs), then closes it. Runs as a task of its own for the
/// life of the connection; abort it when the connection ends.
pub async fn watch(activity: Arc<Activity>, timeout: Duration) {
    let tick = (timeout / 2).max(Duration::from_millis(1));
    let mut seen = activity.counters();
    let mut quiet_ticks = 0;
    loop {
        tokio::time::sleep(tick).await;
        let now = activity.counters();
        let (started, finished, _) = now;
        if started != finished || now != seen {
            seen = now;
            quiet_ticks = 0;
            continue;
        }
        quiet_ticks += 1;
        if quiet_ticks >= 2 {
            activity.expire();
            return;
        }
    }
}

/// A connection's socket, counting the writes that move bytes and ending
/// once its [`Activity`] has expired.
#[derive(Debug)]
pub struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    /// Wraps `inner`, reporting to `activity`.
    pub fn new(inner: S, activity: Arc<Activity>) -> Watched<S> {
        Watched { inner, activity }
    }

    /// Waits for the watchdog as well as the socket: registered only when
    /// the socket is not ready, then checked again, so an expiry between
    /// the two is not missed.
    fn pending_or_expired(&self, cx: &Context<'_>) -> bool {
        self.activity.waker.register(cx.waker());
        self.activity.is_expired()
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection idle for too long")
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.activity.is_expired() {
            // The end of the stream: hyper closes the connection.
            return Poll::Ready(Ok(()));
        }
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Pending if this.pending_or_expired(cx) => Poll::Ready(Ok(())),
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .write_with(cx, |inner, cx| inner.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .write_with(cx, |inner, cx| inner.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl<S: AsyncWrite + Unpin> Watched<S> {
    /// One write through `write`: refused once expired, counted when it
    /// moves bytes, and waiting for the watchdog too while it cannot.
    fn write_with(
        &mut self,
        cx: &mut Context<'_>,
        write: impl FnOnce(Pin<&mut S>, &mut Context<'_>) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        if self.activity.is_expired() {
            return Poll::Ready(Err(timed_out()));
        }
        match write(Pin::new(&mut self.inner), cx) {
            Poll::Ready(Ok(n)) if n > 0 => {
                bump(&self.activity.writes);
                Poll::Ready(Ok(n))
            }
            Poll::Pending if self.pending_or_expired(cx) => Poll::Ready(Err(timed_out())),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // Real time, scaled down: a 400 ms timeout, so ticks of 200 ms.
    const TIMEOUT: Duration = Duration::from_millis(400);

    #[tokio::test]
    async fn an_idle_connection_expires_after_one_to_one_and_a_half_timeouts() {
        let activity = Arc::new(Activity::default());
        let started = tokio::time::Instant::now();
        watch(Arc::clone(&activity), TIMEOUT).await;
        assert!(activity.is_expired());
        let waited = started.elapsed();
        // At most one and a half timeouts, with room for a loaded machine.
        assert!(waited >= TIMEOUT && waited <= TIMEOUT * 5, "{waited:?}");
    }

    #[tokio::test]
    async fn a_request_in_flight_or_moving_writes_keep_it_open() {
        let activity = Arc::new(Activity::default());
        let watchdog = tokio::spawn(watch(Arc::clone(&activity), TIMEOUT));
        // A request handled for two and a half timeouts.
        let request = activity.request();
        tokio::time::sleep(TIMEOUT * 5 / 2).await;
        assert!(!activity.is_expired());
        drop(request);
        // Then a response body read slowly: a write every quarter timeout.
        let (client, server) = tokio::io::duplex(8);
        let mut server = Watched::new(server, Arc::clone(&activity));
        let reader = tokio::spawn(async move {
            let mut client = client;
            let mut buf = [0u8; 8];
            let mut got = 0;
            while got < 80 {
                tokio::time::sleep(TIMEOUT / 4).await;
                got += client.read(&mut buf).await.unwrap();
            }
            client
        });
        for _ in 0..10 {
            server.write_all(&[7u8; 8]).await.unwrap();
        }
        let _client = reader.await.unwrap();
        assert!(!activity.is_expired());
        // Then nothing: closed, and a pending read sees the end.
        let mut buf = [0u8; 4];
        assert_eq!(server.read(&mut buf).await.unwrap(), 0);
        assert!(activity.is_expired());
        watchdog.await.unwrap();
    }

    #[tokio::test]
    async fn a_trickled_partial_head_does_not_keep_it_open() {
        let activity = Arc::new(Activity::default());
        let watchdog = tokio::spawn(watch(Arc::clone(&activity), TIMEOUT));
        let (mut client, server) = tokio::io::duplex(64);
        let mut server = Watched::new(server, Arc::clone(&activity));
        // A byte every quarter timeout.
        let trickle = tokio::spawn(async move {
            for b in b"GET / HTTP/1.1\r\nHost: x".iter() {
                tokio::time::sleep(TIMEOUT / 4).await;
                if client.write_all(&[*b]).await.is_err() {
                    break;
                }
            }
            client
        });
        let started = tokio::time::Instant::now();
        let mut buf = [0u8; 64];
        let mut read = 0;
        loop {
            let n = server.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            read += n;
        }
        assert!(read > 0 && read < 23, "{read}");
        assert!(started.elapsed() <= TIMEOUT * 5);
        watchdog.await.unwrap();
        drop(trickle);
    }
}
