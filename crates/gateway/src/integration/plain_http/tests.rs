//! The plain-HTTP client against scripted backends on loopback: each test
//! backend reads a request and answers with bytes the test chose, so every
//! framing and connection rule is exercised exactly.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// What a scripted backend does after answering one request.
#[derive(Clone, Copy, PartialEq)]
enum After {
    KeepOpen,
    Close,
}

/// A backend answering the n-th request on any connection with
/// `answers[n]` (the last one repeats), recording each raw request head.
struct Backend {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
}

async fn backend(answers: Vec<(&'static [u8], After)>) -> Backend {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let answered = Arc::new(AtomicUsize::new(0));
    let (c, r) = (Arc::clone(&connections), Arc::clone(&requests));
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            c.fetch_add(1, Ordering::SeqCst);
            let (r, answers, answered) = (Arc::clone(&r), answers.clone(), Arc::clone(&answered));
            tokio::spawn(async move {
                let mut pending = Vec::new();
                loop {
                    // One request: its head, then a Content-Length body.
                    let head_end = loop {
                        if let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        let mut chunk = [0u8; 4096];
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => pending.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&pending[..head_end]).to_string();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .map_or(0, |n| n.trim().parse::<usize>().unwrap());
                    while pending.len() < head_end + length {
                        let mut chunk = [0u8; 4096];
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => pending.extend_from_slice(&chunk[..n]),
                        }
                    }
                    pending.drain(..head_end + length);
                    r.lock().unwrap().push(head);
                    let n = answered.fetch_add(1, Ordering::SeqCst);
                    let (bytes, after) = answers[n.min(answers.len() - 1)];
                    // Written in two pieces, so parsers see split input.
                    let cut = bytes.len() / 2;
                    let _ = stream.write_all(&bytes[..cut]).await;
                    let _ = stream.flush().await;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    let _ = stream.write_all(&bytes[cut..]).await;
                    if after == After::Close {
                        let _ = stream.shutdown().await;
                        return;
                    }
                }
            });
        }
    });
    Backend {
        addr,
        connections,
        requests,
    }
}

async fn call(
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: &'static [u8],
) -> Result<(StatusCode, HeaderMap, Bytes), ClientError> {
    let uri: Uri = format!("http://{addr}{path}").parse().unwrap();
    let r = send(
        &uri,
        &method,
        &OutgoingHeaders::default(),
        &Bytes::from_static(body),
    )
    .await?;
    let collected = r.body.collect().await?;
    Ok((r.status, r.headers, collected.to_bytes()))
}

#[tokio::test]
async fn content_length_bodies_arrive_and_the_connection_is_reused() {
    let b = backend(vec![(
        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: 1\r\nx-a: 2\r\n\r\nhello",
        After::KeepOpen,
    )])
    .await;
    for _ in 0..3 {
        let (status, headers, body) = call(b.addr, Method::GET, "/a?b=c", b"").await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(&body[..], b"hello");
        let values: Vec<_> = headers.get_all("x-a").iter().collect();
        assert_eq!(values, ["1", "2"]);
    }
    assert_eq!(b.connections.load(Ordering::SeqCst), 1);
    let first = b.requests.lock().unwrap()[0].clone();
    assert!(first.starts_with("GET /a?b=c HTTP/1.1\r\n"), "{first}");
    assert!(first.contains(&format!("host: {}\r\n", b.addr)), "{first}");
    assert!(!first.contains("content-length"), "{first}");
}

#[tokio::test]
async fn request_bodies_carry_their_length_and_post_always_does() {
    let b = backend(vec![(
        b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n",
        After::KeepOpen,
    )])
    .await;
    let big: &'static [u8] = Box::leak(vec![b'x'; COALESCE_BODY_BYTES + 10].into_boxed_slice());
    call(b.addr, Method::POST, "/", b"").await.unwrap();
    call(b.addr, Method::PUT, "/", b"abc").await.unwrap();
    let (status, _, _) = call(b.addr, Method::PUT, "/", big).await.unwrap();
    assert_eq!(status, 201);
    let seen = b.requests.lock().unwrap().clone();
    assert!(seen[0].contains("content-length: 0\r\n"), "{}", seen[0]);
    assert!(seen[1].contains("content-length: 3\r\n"), "{}", seen[1]);
    assert!(
        seen[2].contains(&format!("content-length: {}\r\n", big.len())),
        "{}",
        seen[2]
    );
    assert_eq!(b.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn chunked_bodies_are_dechunked_with_extensions_and_trailers() {
    let b = backend(vec![(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-trailer: t\r\n\r\n",
        After::KeepOpen,
    )])
    .await;
    let (_, _, body) = call(b.addr, Method::GET, "/", b"").await.unwrap();
    assert_eq!(&body[..], b"hello, world");
    let (_, _, body) = call(b.addr, Method::GET, "/", b"").await.unwrap();
    assert_eq!(&body[..], b"hello, world");
    assert_eq!(
        b.connections.load(Ordering::SeqCst),
        1,
        "chunked ends cleanly"
    );
}

#[tokio::test]
async fn broken_chunking_is_an_error_not_a_hang() {
    let b = backend(vec![(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        After::KeepOpen,
    )])
    .await;
    let err = call(b.addr, Method::GET, "/", b"").await.unwrap_err();
    assert!(err.to_string().contains("invalid chunk size"), "{err}");
}

#[tokio::test]
async fn a_body_without_length_runs_until_close_and_is_not_reused() {
    let b = backend(vec![(b"HTTP/1.1 200 OK\r\n\r\nall of it", After::Close)]).await;
    let (_, _, body) = call(b.addr, Method::GET, "/", b"").await.unwrap();
    assert_eq!(&body[..], b"all of it");
    let (_, _, body) = call(b.addr, Method::GET, "/", b"").await.unwrap();
    assert_eq!(&body[..], b"all of it");
    assert_eq!(b.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn head_responses_and_no_content_have_no_body() {
    let b = backend(vec![
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n",
            After::KeepOpen,
        ),
        (b"HTTP/1.1 204 No Content\r\n\r\n", After::KeepOpen),
    ])
    .await;
    let (status, headers, body) = call(b.addr, Method::HEAD, "/", b"").await.unwrap();
    assert_eq!((status.as_u16(), body.len()), (200, 0));
    assert_eq!(headers["content-length"], "100");
    let (status, _, body) = call(b.addr, Method::GET, "/", b"").await.unwrap();
    assert_eq!((status.as_u16(), body.len()), (204, 0));
    assert_eq!(b.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn interim_responses_are_skipped() {
    let b = backend(vec![(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        After::KeepOpen,
    )])
    .await;
    let (status, _, body) = call(b.addr, Method::POST, "/", b"x").await.unwrap();
    assert_eq!((status.as_u16(), &body[..]), (200, &b"ok"[..]));
}

#[tokio::test]
async fn connection_close_and_http_1_0_are_honoured() {
    let b = backend(vec![
        (
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\na",
            After::Close,
        ),
        (
            b"HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\nb",
            After::Close,
        ),
    ])
    .await;
    let (_, _, first) = call(b.addr, Method::GET, "/", b"").await.unwrap();
    let (_, _, second) = call(b.addr, Method::GET, "/", b"").await.unwrap();
    let (_, _, third) = call(b.addr, Method::GET, "/", b"").await.unwrap();
    assert_eq!(
        (&first[..], &second[..], &third[..]),
        (&b"a"[..], &b"b"[..], &b"b"[..])
    );
    assert_eq!(b.connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_idle_connection_the_backend_closed_is_not_reused() {
    // The backend answers with a length, keeps the connection looking
    // reusable, then closes it while idle.
    let b = backend(vec![(
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        After::Close,
    )])
    .await;
    call(b.addr, Method::GET, "/", b"").await.unwrap();
    // Let the runtime see the close.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (_, _, body) = call(b.addr, Method::POST, "/", b"p").await.unwrap();
    assert_eq!(&body[..], b"ok");
    assert_eq!(b.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_reused_connection_that_fails_first_is_retried_for_idempotent_methods() {
    let b = backend(vec![(
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        After::KeepOpen,
    )])
    .await;
    call(b.addr, Method::GET, "/", b"").await.unwrap();
    // Break the pooled connection in a way readiness cannot see yet: the
    // pool holds it, its peer is gone the moment it is written to.
    let key = format!("{}:{}", b.addr.ip(), b.addr.port());
    let mut conn = checkout(&key).expect("the first call left its connection idle");
    let _ = conn.stream.shutdown().await;
    assert!(
        still_usable(&conn.stream),
        "the pool cannot tell yet, so only the retry saves the call"
    );
    checkin(conn);
    let (_, _, body) = call(b.addr, Method::GET, "/", b"").await.unwrap();
    assert_eq!(&body[..], b"ok");
    assert_eq!(b.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn malformed_heads_and_lengths_are_protocol_errors() {
    let garbage = backend(vec![(b"NOT HTTP AT ALL\r\n\r\n", After::Close)]).await;
    let err = call(garbage.addr, Method::GET, "/", b"").await.unwrap_err();
    assert!(err.to_string().contains("malformed response head"), "{err}");

    let conflicting = backend(vec![(
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nabc",
        After::Close,
    )])
    .await;
    let err = call(conflicting.addr, Method::GET, "/", b"")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("conflicting content-length"),
        "{err}"
    );

    let short = backend(vec![(
        b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc",
        After::Close,
    )])
    .await;
    let err = call(short.addr, Method::GET, "/", b"").await.unwrap_err();
    assert!(
        err.to_string().contains("before the body was complete"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreachable_backend_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = call(addr, Method::GET, "/", b"").await.unwrap_err();
    assert!(err.to_string().starts_with("tcp connect error"), "{err}");
}

#[tokio::test]
async fn a_body_dropped_early_closes_its_connection() {
    let b = backend(vec![(
        b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n01234",
        After::KeepOpen,
    )])
    .await;
    let uri: Uri = format!("http://{}/", b.addr).parse().unwrap();
    let r = send(
        &uri,
        &Method::GET,
        &OutgoingHeaders::default(),
        &Bytes::new(),
    )
    .await
    .unwrap();
    drop(r);
    let key = format!("{}:{}", b.addr.ip(), b.addr.port());
    assert!(
        checkout(&key).is_none(),
        "a half-read connection is never pooled"
    );
}

#[tokio::test]
async fn framing_headers_from_the_caller_are_never_sent() {
    let b = backend(vec![(
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        After::KeepOpen,
    )])
    .await;
    let uri: Uri = format!("http://{}/", b.addr).parse().unwrap();
    let mut headers = OutgoingHeaders::default();
    for (name, value) in [
        ("transfer-encoding", "chunked"),
        ("content-length", "999"),
        ("connection", "close"),
        ("x-kept", "1"),
    ] {
        headers.insert(
            http::HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    let r = send(
        &uri,
        &Method::POST,
        &headers,
        &Bytes::from_static(b"0\r\n\r\n"),
    )
    .await
    .unwrap();
    r.body.collect().await.unwrap();
    let seen = b.requests.lock().unwrap()[0].clone();
    assert!(!seen.contains("transfer-encoding"), "{seen}");
    assert!(!seen.contains("connection"), "{seen}");
    assert!(!seen.contains("999"), "{seen}");
    assert!(seen.contains("content-length: 5\r\n"), "{seen}");
    assert!(seen.contains("x-kept: 1\r\n"), "{seen}");
}

/// A response head with `n` distinct `x-h{i}` headers and a 2-byte body.
fn head_with_headers(n: usize) -> &'static [u8] {
    let mut head = String::from("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n");
    for i in 0..n {
        head.push_str(&format!("x-h{i}: v{i}\r\n"));
    }
    head.push_str("\r\nok");
    Box::leak(head.into_bytes().into_boxed_slice())
}

#[tokio::test]
async fn heads_beyond_the_common_size_parse_up_to_the_limit() {
    // More headers than the first, small parse attempt has room for.
    let many = backend(vec![(head_with_headers(60), After::KeepOpen)]).await;
    let (status, headers, body) = call(many.addr, Method::GET, "/", b"").await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(&body[..], b"ok");
    assert_eq!(headers.len(), 61);
    assert_eq!(headers["x-h0"], "v0");
    assert_eq!(headers["x-h59"], "v59");

    // Past the limit of 100 header lines.
    let too_many = backend(vec![(head_with_headers(100), After::Close)]).await;
    let err = call(too_many.addr, Method::GET, "/", b"")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("too many response headers"),
        "{err}"
    );
}

#[tokio::test]
async fn the_idle_pool_keeps_a_bounded_number_of_backends() {
    let answer: &'static [u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
    let mut backends = Vec::new();
    for _ in 0..=MAX_IDLE_BACKENDS {
        backends.push(backend(vec![(answer, After::KeepOpen)]).await);
    }
    for b in &backends {
        call(b.addr, Method::GET, "/", b"").await.unwrap();
    }
    let kept = IDLE.with(|pools| pools.borrow().len());
    assert_eq!(kept, MAX_IDLE_BACKENDS);
    // The first backend's idle connection made room for the last one's:
    // calling it again connects anew, while the last one's is reused.
    let (first, last) = (&backends[0], &backends[MAX_IDLE_BACKENDS]);
    call(last.addr, Method::GET, "/", b"").await.unwrap();
    assert_eq!(last.connections.load(Ordering::SeqCst), 1);
    call(first.addr, Method::GET, "/", b"").await.unwrap();
    assert_eq!(first.connections.load(Ordering::SeqCst), 2);
}

#[test]
fn framing_headers_are_recognised_and_no_others() {
    for name in [
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
    ] {
        assert!(is_framing(name), "{name}");
    }
    for name in [
        "tx",
        "host",
        "accept",
        "upgradE",
        "trailers",
        "connexion1",
        "keep-alive2",
        "content-type",
        "content-lengtx",
        "transfer-encodin",
        "x-forwarded-for",
    ] {
        assert!(!is_framing(name), "{name}");
    }
}
