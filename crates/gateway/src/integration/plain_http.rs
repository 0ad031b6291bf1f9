//! A lean HTTP/1.1 client for plain-HTTP backends (`http://` URIs).
//!
//! HTTP and HTTP_PROXY integrations spend most of their own time talking to
//! the backend, so plain-HTTP backends skip the general-purpose client
//! (whose pool, dispatch channels and connection tasks cost more per request
//! than the gateway's own work) and use this one: the request's task owns
//! its backend connection from checkout until the response body has been
//! read, writes the request head with one system call, parses the response
//! head in place (`httparse`, header values shared with the read buffer, not
//! copied), and hands the connection back to its thread's idle pool when the
//! body is done. HTTPS backends keep the TLS-capable client.
//!
//! What it does, as a backend expects of a proxy:
//! - `Host` is the URI's authority unless the request carries its own;
//!   `Content-Length` is sent for a non-empty body and for POST, PUT and
//!   PATCH; nothing else is added.
//! - Response framing follows RFC 9112 §6.3: no body for HEAD, 1xx, 204 and
//!   304; `Transfer-Encoding` ending in `chunked` is de-chunked (trailers are
//!   read and dropped); other transfer codings and bodies without a length
//!   are read until the backend closes; `Content-Length` values must agree.
//!   Interim `1xx` responses before the final one are skipped.
//! - Connections are kept alive unless the backend says `Connection: close`
//!   (or answers HTTP/1.0 without `keep-alive`), and idle ones are dropped
//!   after 90 s. An idle connection the backend has closed is noticed from
//!   the socket's readiness before it is reused (no extra system call); a
//!   reused connection that still fails before any response byte arrives is
//!   retried once on a new connection for idempotent methods (GET, HEAD,
//!   PUT, DELETE, OPTIONS, TRACE), which is when a retry cannot run the
//!   request twice.
//! - Limits: response heads up to 64 KiB and 100 header lines; a chunk-size
//!   line up to 1 KiB; trailers up to 64 KiB.
//!
//! The pools are per thread, like the data plane's connections (see
//! `server::serve_on_threads`): a connection is only ever used by the
//! thread whose runtime opened it.

use std::cell::RefCell;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, StatusCode, Uri};

use super::outgoing::OutgoingHeaders;
use http_body::{Body, Frame, SizeHint};
use std::future::Future;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Idle connections older than this are closed instead of reused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Idle connections kept per backend (host and port) per thread.
const MAX_IDLE_PER_HOST: usize = 512;
/// Backends with idle connections kept per thread. An integration URI can
/// take its host from a request parameter, so clients could otherwise make
/// the pool's list of backends grow without end.
const MAX_IDLE_BACKENDS: usize = 64;
/// Largest response head accepted.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most header lines in a response head.
const MAX_HEADERS: usize = 100;
/// Longest chunk-size line (size plus extensions).
const MAX_CHUNK_LINE: usize = 1024;
/// Largest trailer section of a chunked body.
const MAX_TRAILER_BYTES: usize = 64 * 1024;
/// Bodies up to this size are written together with the head.
const COALESCE_BODY_BYTES: usize = 16 * 1024;
/// Whether `name` is a request header the client never copies from its
/// caller, because it frames the request and keeps the connection alive
/// itself: `content-length`, `transfer-encoding`, `connection`,
/// `keep-alive`, `upgrade`, `te` and `trailer`. The name's length picks the
/// one or two it can be, so a header is compared once or twice, not seven
/// times. (The integrations' hop-by-hop check builds on it.)
pub(super) fn is_framing(name: &str) -> bool {
    match name.len() {
        2 => name == "te",
        7 => name == "upgrade" || name == "trailer",
        10 => name == "connection" || name == "keep-alive",
        14 => name == "content-length",
        17 => name == "transfer-encoding",
        _ => false,
    }
}
/// Connecting gives up after this long (the integration timeout, usually
/// shorter, applies around the whole call).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a backend call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting, writing or reading failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The system's error.
        #[source]
        source: io::Error,
    },
    /// The backend's answer is not valid HTTP/1.1.
    #[error("invalid HTTP response from the backend: {0}")]
    Protocol(&'static str),
}

impl ClientError {
    fn io(context: &'static str) -> impl FnOnce(io::Error) -> ClientError {
        move |source| ClientError::Io { context, source }
    }
}

/// A backend's response head and its body, still arriving.
#[derive(Debug)]
pub struct ClientResponse {
    /// The final (non-1xx) status.
    pub status: StatusCode,
    /// Response headers, in the backend's order.
    pub headers: HeaderMap,
    /// The body, read as it is polled.
    pub body: PlainBody,
}

/// One connection and the bytes read from it that are not consumed yet.
#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    /// Which pool it returns to: the backend URI's authority as written
    /// (`host:port`, or `host` for the scheme's port; the two spellings of
    /// one backend keep separate pools, which is harmless).
    key: String,
}

/// An idle connection in a thread's pool.
struct Idle {
    conn: Conn,
    since: Instant,
}

thread_local! {
    /// Idle connections per backend (the URI's authority). A thread usually talks
    /// to a few backends, so a scan of their keys beats hashing the key
    /// twice per request; at most [`MAX_IDLE_BACKENDS`] are kept.
    static IDLE: RefCell<Vec<(String, Vec<Idle>)>> = const { RefCell::new(Vec::new()) };
}

/// Where `key`'s idle list is in `pools`, when it has one.
fn idle_list(pools: &[(String, Vec<Idle>)], key: &str) -> Option<usize> {
    pools.iter().position(|(k, _)| k == key)
}

/// A pooled connection to `key`, when one is idle and still usable.
fn checkout(key: &str) -> Option<Conn> {
    IDLE.with(|pools| {
        let mut pools = pools.borrow_mut();
        let at = idle_list(&pools, key)?;
        let list = &mut pools[at].1;
        while let Some(idle) = list.pop() {
            if idle.since.elapsed() >= IDLE_TIMEOUT {
                // Older ones sit below it: all expired.
                list.clear();
                break;
            }
            if !still_usable(&idle.conn.stream) {
                continue;
            }
            return Some(idle.conn);
        }
        None
    })
}

/// False when an idle connection has become readable because the backend
/// closed it or sent bytes nobody asked for: it cannot carry another
/// request. Reads finish short of a full buffer, which clears the socket's
/// readiness, so this usually answers from the readiness the runtime already
/// has; only a socket still marked readable is probed with one read.
fn still_usable(stream: &TcpStream) -> bool {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match stream.poll_read_ready(&mut cx) {
        Poll::Pending => true,
        Poll::Ready(Err(_)) => false,
        Poll::Ready(Ok(())) => {
            let mut probe = [0u8; 1];
            matches!(stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
        }
    }
}

/// Returns a connection whose last response was read completely.
fn checkin(mut conn: Conn) {
    if !conn.buf.is_empty() {
        // Bytes beyond the response: the connection is out of step.
        return;
    }
    conn.buf.clear();
    IDLE.with(|pools| {
        let mut pools = pools.borrow_mut();
        // The key is copied only for a backend's first idle connection.
        let at = match idle_list(&pools, &conn.key) {
            Some(at) => at,
            None => {
                if pools.len() >= MAX_IDLE_BACKENDS {
                    // Forget backends with nothing idle; failing that, close
                    // the idle connections of the longest-kept one.
                    pools.retain(|(_, list)| !list.is_empty());
                    if pools.len() >= MAX_IDLE_BACKENDS {
                        pools.remove(0);
                    }
                }
                pools.push((conn.key.clone(), Vec::new()));
                pools.len() - 1
            }
        };
        let list = &mut pools[at].1;
        if list.len() >= MAX_IDLE_PER_HOST {
            list.remove(0);
        }
        list.push(Idle {
            conn,
            since: Instant::now(),
        });
    });
}

/// Sends one request to a plain-HTTP backend and returns its response head;
/// the body streams from [`ClientResponse::body`]. Framing and connection
/// headers in `headers` (`Content-Length`, `Transfer-Encoding`, `Connection`, …)
/// are never sent; the other
/// hop-by-hop headers are the caller's to strip.
pub async fn send(
    uri: &Uri,
    method: &Method,
    headers: &OutgoingHeaders,
    body: &Bytes,
) -> Result<ClientResponse, ClientError> {
    let authority = uri
        .authority()
        .ok_or(ClientError::Protocol("request URI without a host"))?;
    // The pool key is the URI's authority as written: no string is built
    // for a request that finds an idle connection.
    let key = authority.as_str();
    let head = request_head(uri, method, headers, body, key);
    let idempotent = matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    );
    if let Some(conn) = checkout(key) {
        match exchange(conn, &head, body, method).await {
            Ok(response) => return Ok(response),
            Err(Failure::BeforeResponse(_)) if idempotent => {}
            Err(Failure::BeforeResponse(e) | Failure::During(e)) => return Err(e),
        }
    }
    let stream = connect(authority.host(), authority.port_u16().unwrap_or(80)).await?;
    let conn = Conn {
        stream,
        buf: BytesMut::with_capacity(8 * 1024),
        key: key.to_string(),
    };
    exchange(conn, &head, body, method)
        .await
        .map_err(|(Failure::BeforeResponse(e) | Failure::During(e))| e)
}

/// How an exchange failed: before any byte of the response arrived (a
/// reused connection the backend had closed) or later.
enum Failure {
    BeforeResponse(ClientError),
    During(ClientError),
}

async fn connect(host: &str, port: u16) -> Result<TcpStream, ClientError> {
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let attempt = async {
        let stream = match literal.parse::<IpAddr>() {
            Ok(ip) => TcpStream::connect(SocketAddr::new(ip, port)).await,
            Err(_) => TcpStream::connect((literal, port)).await,
        };
        stream.map_err(ClientError::io("tcp connect error"))
    };
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .map_err(|_| ClientError::Io {
            context: "tcp connect error",
            source: io::Error::new(io::ErrorKind::TimedOut, "connect timed out"),
        })??;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// The request line and headers, and the body when it is small.
fn request_head(
    uri: &Uri,
    method: &Method,
    headers: &OutgoingHeaders,
    body: &Bytes,
    authority: &str,
) -> Vec<u8> {
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let header_bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    let inline_body = body.len() <= COALESCE_BODY_BYTES;
    let mut out = Vec::with_capacity(
        method.as_str().len()
            + target.len()
            + header_bytes
            + authority.len()
            + 64
            + if inline_body { body.len() } else { 0 },
    );
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if !headers.contains(&http::header::HOST) {
        out.extend_from_slice(b"host: ");
        out.extend_from_slice(authority.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in headers.iter() {
        // The client frames the request itself: a framing or hop header
        // from a mapping would make the backend read the body differently
        // and leave the pooled connection out of step.
        if is_framing(name.as_str()) {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() || matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
        use std::io::Write as _;
        let _ = write!(out, "content-length: {}\r\n", body.len());
    }
    out.extend_from_slice(b"\r\n");
    if inline_body {
        out.extend_from_slice(body);
    }
    out
}

/// Writes the request and reads the response head on `conn`.
async fn exchange(
    mut conn: Conn,
    head: &[u8],
    body: &Bytes,
    method: &Method,
) -> Result<ClientResponse, Failure> {
    let written = async {
        conn.stream.write_all(head).await?;
        if body.len() > COALESCE_BODY_BYTES {
            conn.stream.write_all(body).await?;
        }
        io::Result::Ok(())
    };
    if let Err(e) = written.await {
        return Err(Failure::BeforeResponse(ClientError::Io {
            context: "error writing the request",
            source: e,
        }));
    }
    loop {
        let parsed = read_head(&mut conn).await?;
        if parsed.status.is_informational() {
            if parsed.status == StatusCode::SWITCHING_PROTOCOLS {
                return Err(Failure::During(ClientError::Protocol(
                    "unexpected 101 Switching Protocols",
                )));
            }
            continue;
        }
        let framing = framing(&parsed, method).map_err(Failure::During)?;
        let reusable = parsed.keep_alive && !matches!(framing, Framing::UntilClose);
        let mut body = PlainBody {
            conn: Some(conn),
            framing,
            reusable,
            done: false,
        };
        body.finish_if_done();
        return Ok(ClientResponse {
            status: parsed.status,
            headers: parsed.headers,
            body,
        });
    }
}

/// A parsed response head.
struct Head {
    status: StatusCode,
    headers: HeaderMap,
    keep_alive: bool,
}

/// Reads and parses one response head from `conn`, leaving what follows it
/// in the buffer.
async fn read_head(conn: &mut Conn) -> Result<Head, Failure> {
    let mut got_any = !conn.buf.is_empty();
    loop {
        if !conn.buf.is_empty() {
            if let Some(head) = parse_head(&mut conn.buf).map_err(Failure::During)? {
                return Ok(head);
            }
            if conn.buf.len() >= MAX_HEAD_BYTES {
                return Err(Failure::During(ClientError::Protocol(
                    "response head too large",
                )));
            }
        }
        let e = match read_more(conn).await {
            Ok(0) => ClientError::Io {
                context: "connection closed before the response",
                source: io::ErrorKind::UnexpectedEof.into(),
            },
            Ok(_) => {
                got_any = true;
                continue;
            }
            Err(e) => ClientError::Io {
                context: "error reading the response",
                source: e,
            },
        };
        return Err(if got_any {
            Failure::During(e)
        } else {
            Failure::BeforeResponse(e)
        });
    }
}

/// Reads what the socket has into the connection's buffer.
async fn read_more(conn: &mut Conn) -> io::Result<usize> {
    std::future::poll_fn(|cx| poll_read_more(&mut conn.stream, &mut conn.buf, cx)).await
}

/// One read into `buf`. Through the runtime's `AsyncRead`, which marks the
/// socket not readable after a short read (see [`still_usable`]).
fn poll_read_more(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(8 * 1024);
    }
    let read = std::pin::pin!(stream.read_buf(buf));
    read.poll(cx)
}

/// The head at the start of `buf`, removed from it, or `None` when it is
/// not complete yet.
fn parse_head(buf: &mut BytesMut) -> Result<Option<Head>, ClientError> {
    // Most heads have a handful of headers: parse with a small slot array
    // first (the slots are initialised on every call, so their size is paid
    // per response), and only a head with more takes the full-size one.
    match parse_head_in::<COMMON_HEADERS>(buf) {
        Err(ClientError::Protocol(TOO_MANY_HEADERS)) => parse_head_in::<MAX_HEADERS>(buf),
        other => other,
    }
}

/// Slots of the first parse attempt, enough for nearly every response.
const COMMON_HEADERS: usize = 24;

/// The error of a head with more than `N` headers.
const TOO_MANY_HEADERS: &str = "too many response headers";

/// [`parse_head`] with room for `N` headers.
fn parse_head_in<const N: usize>(buf: &mut BytesMut) -> Result<Option<Head>, ClientError> {
    let mut slots = [httparse::EMPTY_HEADER; N];
    let mut response = httparse::Response::new(&mut slots);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(ClientError::Protocol(TOO_MANY_HEADERS))
        }
        Err(_) => return Err(ClientError::Protocol("malformed response head")),
    };
    let code = response
        .code
        .ok_or(ClientError::Protocol("missing status code"))?;
    let status =
        StatusCode::from_u16(code).map_err(|_| ClientError::Protocol("invalid status code"))?;
    let version_11 = response.version == Some(1);
    let count = response.headers.len();
    // Offsets into the head, so the values can share its frozen bytes.
    let base = buf.as_ptr() as usize;
    let mut spans = [(0usize, 0usize, 0usize, 0usize); N];
    for (slot, h) in spans.iter_mut().zip(response.headers.iter()) {
        let name_at = h.name.as_ptr() as usize - base;
        let value_at = h.value.as_ptr() as usize - base;
        *slot = (name_at, h.name.len(), value_at, h.value.len());
    }
    let head = buf.split_to(len).freeze();
    // Room for the ids the gateway adds to the response, so the map is not
    // regrown for them.
    let mut headers = HeaderMap::with_capacity(count + crate::response::STANDARD_HEADERS);
    let mut keep_alive = version_11;
    for &(name_at, name_len, value_at, value_len) in &spans[..count] {
        let name = HeaderName::from_bytes(&head[name_at..name_at + name_len])
            .map_err(|_| ClientError::Protocol("invalid header name"))?;
        let value = HeaderValue::from_maybe_shared(head.slice(value_at..value_at + value_len))
            .map_err(|_| ClientError::Protocol("invalid header value"))?;
        if name == http::header::CONNECTION {
            let v = value.as_bytes();
            if has_token(v, b"close") {
                keep_alive = false;
            } else if !version_11 && has_token(v, b"keep-alive") {
                keep_alive = true;
            }
        }
        headers.append(name, value);
    }
    Ok(Some(Head {
        status,
        headers,
        keep_alive,
    }))
}

/// True when the comma-separated header value lists `token`.
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|b| *b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// This many bytes are left.
    Length(u64),
    /// Chunked transfer coding, at this point of the stream.
    Chunked(ChunkState),
    /// Everything until the backend closes the connection.
    UntilClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk, with this many bytes left.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// Reading trailer lines after the last chunk; bytes read so far.
    Trailers(usize),
}

fn framing(head: &Head, method: &Method) -> Result<Framing, ClientError> {
    let status = head.status.as_u16();
    if *method == Method::HEAD || status == 204 || status == 304 {
        return Ok(Framing::Length(0));
    }
    let mut codings = head.headers.get_all(http::header::TRANSFER_ENCODING).iter();
    if let Some(first) = codings.next() {
        let last = codings.next_back().unwrap_or(first);
        let chunked = last
            .as_bytes()
            .rsplit(|b| *b == b',')
            .next()
            .is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        return Ok(if chunked {
            Framing::Chunked(ChunkState::Size)
        } else {
            Framing::UntilClose
        });
    }
    let mut length: Option<u64> = None;
    for value in head.headers.get_all(http::header::CONTENT_LENGTH) {
        for part in value.as_bytes().split(|b| *b == b',') {
            let n = std::str::from_utf8(part.trim_ascii())
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or(ClientError::Protocol("invalid content-length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(ClientError::Protocol("conflicting content-length values"));
            }
            length = Some(n);
        }
    }
    Ok(length.map_or(Framing::UntilClose, Framing::Length))
}

/// A backend response body, read from the connection as it is polled. The
/// connection goes back to its thread's pool once the body is complete (and
/// is closed when the body is dropped early or the backend cannot keep it).
#[derive(Debug)]
pub struct PlainBody {
    conn: Option<Conn>,
    framing: Framing,
    reusable: bool,
    done: bool,
}

impl PlainBody {
    /// Ends the body when nothing is left, giving the connection back.
    fn finish_if_done(&mut self) {
        if matches!(self.framing, Framing::Length(0)) {
            self.finish();
        }
    }

    /// Ends the body and closes its connection (an error, or a backend
    /// that closes).
    fn abandon(&mut self) {
        self.reusable = false;
        self.finish();
    }

    fn finish(&mut self) {
        self.done = true;
        if let Some(conn) = self.conn.take() {
            if self.reusable {
                checkin(conn);
            }
        }
    }

    /// The next piece of body from what is buffered, `Ok(None)` when more
    /// must be read first.
    fn next_from_buffer(&mut self) -> Result<Option<Option<Bytes>>, ClientError> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(Some(None));
        };
        let buf = &mut conn.buf;
        loop {
            match &mut self.framing {
                Framing::Length(0) => return Ok(Some(None)),
                Framing::Length(left) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = (*left).min(buf.len() as u64) as usize;
                    *left -= n as u64;
                    return Ok(Some(Some(buf.split_to(n).freeze())));
                }
                Framing::UntilClose => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    return Ok(Some(Some(buf.split().freeze())));
                }
                Framing::Chunked(state) => match *state {
                    ChunkState::Size => {
                        let Some(end) = find_crlf(buf) else {
                            if buf.len() > MAX_CHUNK_LINE {
                                return Err(ClientError::Protocol("chunk-size line too long"));
                            }
                            return Ok(None);
                        };
                        let size = parse_chunk_size(&buf[..end])?;
                        buf.advance(end + 2);
                        *state = if size == 0 {
                            ChunkState::Trailers(0)
                        } else {
                            ChunkState::Data(size)
                        };
                    }
                    ChunkState::Data(left) => {
                        if buf.is_empty() {
                            return Ok(None);
                        }
                        let n = left.min(buf.len() as u64) as usize;
                        *state = if n as u64 == left {
                            ChunkState::DataEnd
                        } else {
                            ChunkState::Data(left - n as u64)
                        };
                        return Ok(Some(Some(buf.split_to(n).freeze())));
                    }
                    ChunkState::DataEnd => {
                        if buf.len() < 2 {
                            return Ok(None);
                        }
                        if &buf[..2] != b"\r\n" {
                            return Err(ClientError::Protocol("chunk data not followed by CRLF"));
                        }
                        buf.advance(2);
                        *state = ChunkState::Size;
                    }
                    ChunkState::Trailers(seen) => {
                        let Some(end) = find_crlf(buf) else {
                            if seen + buf.len() > MAX_TRAILER_BYTES {
                                return Err(ClientError::Protocol("trailers too large"));
                            }
                            return Ok(None);
                        };
                        buf.advance(end + 2);
                        if end == 0 {
                            self.framing = Framing::Length(0);
                        } else {
                            *state = ChunkState::Trailers(seen + end + 2);
                        }
                    }
                },
            }
        }
    }
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

fn parse_chunk_size(line: &[u8]) -> Result<u64, ClientError> {
    let digits = line
        .split(|b| *b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    if digits.is_empty() || digits.len() > 15 {
        return Err(ClientError::Protocol("invalid chunk size"));
    }
    let mut size = 0u64;
    for &b in digits {
        let d = (b as char)
            .to_digit(16)
            .ok_or(ClientError::Protocol("invalid chunk size"))?;
        size = size * 16 + u64::from(d);
    }
    Ok(size)
}

impl Body for PlainBody {
    type Data = Bytes;
    type Error = ClientError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ClientError>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match this.next_from_buffer() {
                Err(e) => {
                    this.abandon();
                    return Poll::Ready(Some(Err(e)));
                }
                Ok(Some(Some(data))) => {
                    this.finish_if_done();
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Ok(Some(None)) => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Ok(None) => {}
            }
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match poll_read_more(&mut conn.stream, &mut conn.buf, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) => {
                    this.abandon();
                    if this.framing == Framing::UntilClose {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Err(ClientError::Io {
                        context: "connection closed before the body was complete",
                        source: io::ErrorKind::UnexpectedEof.into(),
                    })));
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => {
                    this.abandon();
                    return Poll::Ready(Some(Err(ClientError::Io {
                        context: "error reading the body",
                        source: e,
                    })));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || matches!(self.framing, Framing::Length(0))
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing {
            Framing::Length(n) => SizeHint::with_exact(n),
            _ => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests;
