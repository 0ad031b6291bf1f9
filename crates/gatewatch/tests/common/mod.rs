//! Helpers for end-to-end tests: start the real `gatewatch` binary on
//! loopback, a real upstream HTTP server, and a small raw HTTP/1.1 client
//! (raw so tests control every byte: Host headers, oversized heads, …).

#![allow(dead_code)]

pub mod sdk_http;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// A running `gatewatch serve`.
pub struct Gatewatch {
    pub child: Child,
    pub data: SocketAddr,
    pub admin: SocketAddr,
    pub stdout: String,
    pub data_dir: std::path::PathBuf,
    /// Remove the data dir on drop (false when the test owns it).
    pub owns_data_dir: bool,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("gatewatch-e2e-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_gatewatch")
}

impl Gatewatch {
    /// Starts `gatewatch serve ARGS --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0`
    /// and waits (at most 20 s) for its `gatewatch listening` line.
    pub fn start(args: &[&str]) -> Gatewatch {
        let mut gw = Gatewatch::start_in(&temp_dir("data"), args);
        gw.owns_data_dir = true;
        gw
    }

    /// Like [`Gatewatch::start`] on a data dir the caller keeps (restarts).
    pub fn start_in(data_dir: &std::path::Path, args: &[&str]) -> Gatewatch {
        let data_dir = data_dir.to_path_buf();
        let mut child = Command::new(binary())
            .arg("serve")
            .args(args)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(&data_dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start gatewatch");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let mut seen = String::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                seen.push_str(&line);
                seen.push('\n');
                if line.starts_with("gatewatch listening ") {
                    let _ = tx.send(seen.clone());
                }
            }
        });
        let seen = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(s) => s,
            Err(_) => {
                let _ = child.kill();
                panic!("gatewatch did not print its listening line in 20 s");
            }
        };
        let line = seen.lines().last().unwrap();
        let field = |name: &str| -> SocketAddr {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .unwrap()
                .parse()
                .unwrap()
        };
        Gatewatch {
            data: field("data="),
            admin: field("admin="),
            child,
            stdout: seen,
            data_dir,
            owns_data_dir: false,
        }
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends a signal to the process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (bounded) for the process to exit and returns its code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Gatewatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.owns_data_dir {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    /// Status, the gateway's own headers with ids replaced by shapes, and the body.
    pub fn redacted(&self) -> String {
        let mut out = format!("status: {}\n", self.status);
        let mut names: Vec<_> = self
            .headers
            .iter()
            .filter(|(k, _)| !matches!(k.to_ascii_lowercase().as_str(), "date"))
            .cloned()
            .collect();
        names.sort();
        for (k, v) in names {
            let k = k.to_ascii_lowercase();
            let v = match k.as_str() {
                "x-amzn-requestid" => shape(&v, "[uuid]", |v| v.len() == 36),
                "x-amz-apigw-id" => shape(&v, "[16 chars ending =]", |v| {
                    v.len() == 16 && v.ends_with('=')
                }),
                "x-amzn-trace-id" => shape(&v, "Root=1-[8 hex]-[24 hex]", |v| {
                    v.starts_with("Root=1-") && v.len() == "Root=1-".len() + 8 + 1 + 24
                }),
                _ => v,
            };
            out.push_str(&format!("{k}: {v}\n"));
        }
        out.push('\n');
        out.push_str(&self.text());
        out
    }
}

fn shape(value: &str, label: &str, ok: impl Fn(&str) -> bool) -> String {
    if ok(value) {
        label.to_string()
    } else {
        format!("UNEXPECTED SHAPE {value}")
    }
}

/// Sends raw request bytes (the caller adds `Connection: close`) and reads
/// the whole response.
pub fn raw(addr: SocketAddr, request: &[u8]) -> Resp {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(40)))
        .unwrap();
    stream.write_all(request).unwrap();
    read_response_to(&mut stream, request.starts_with(b"HEAD "))
}

pub fn read_response(stream: &mut TcpStream) -> Resp {
    read_response_to(stream, false)
}

/// Reads one response; `head` says it answers a HEAD request (no body).
pub fn read_response_to(stream: &mut TcpStream, head: bool) -> Resp {
    read_until_complete(stream, head)
        .unwrap_or_else(|data| panic!("incomplete response: {:?}", String::from_utf8_lossy(&data)))
}

/// Reads until one whole response has arrived; on EOF, a reset or a read
/// error before that, returns the bytes received so far as the error.
fn read_until_complete(stream: &mut TcpStream, head: bool) -> Result<Resp, Vec<u8>> {
    let mut data = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read failed: {e}"),
        }
        if let Some(resp) = parse_complete(&data, head) {
            return Ok(resp);
        }
    }
    parse_complete(&data, head).ok_or(data)
}

/// GET with `Connection: close` to a server that may be going away: `None`
/// when the connection is refused, reset or closed before a whole response
/// arrived (the request was not answered).
pub fn try_get(addr: SocketAddr, path: &str) -> Option<Resp> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(40)))
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    read_until_complete(&mut stream, false).ok()
}

/// Parses a response if `data` holds a complete one (content-length or
/// chunked framing, or no body for 204/304).
pub fn parse_complete(data: &[u8], is_head: bool) -> Option<Resp> {
    let end = data.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&data[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &data[end + 4..];
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let body = if is_head || status == 204 || status == 304 {
        Vec::new()
    } else if let Some(len) = get("content-length") {
        let len: usize = len.parse().ok()?;
        if rest.len() < len {
            return None;
        }
        rest[..len].to_vec()
    } else if get("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        let mut pos = 0;
        loop {
            let line_end = rest[pos..].windows(2).position(|w| w == b"\r\n")? + pos;
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[pos..line_end]).ok()?.trim(), 16)
                    .ok()?;
            pos = line_end + 2;
            if size == 0 {
                break;
            }
            if rest.len() < pos + size + 2 {
                return None;
            }
            body.extend_from_slice(&rest[pos..pos + size]);
            pos += size + 2;
        }
        body
    } else {
        return None;
    };
    Some(Resp {
        status,
        headers,
        body,
    })
}

/// GET with `Connection: close`.
pub fn get(addr: SocketAddr, path: &str) -> Resp {
    request(addr, "GET", path, &[], b"")
}

/// A request with extra headers and a body.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("Connection: close\r\n\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    raw(addr, &bytes)
}

/// A real upstream HTTP server on loopback, one thread per connection.
///
/// - `/echo/...`: 200 with JSON {method, path, query, headers, body}
///   (body as a byte array) and header `x-upstream: yes`.
/// - `/status/{n}`: responds with status n and body `status n`.
/// - `/slow/{ms}`: waits ms milliseconds, then 200 `slow`.
pub struct Upstream {
    pub addr: SocketAddr,
    pub hits: Arc<AtomicUsize>,
}

impl Upstream {
    pub fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let counter = Arc::clone(&counter);
                thread::spawn(move || {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let _ = serve_upstream(stream);
                });
            }
        });
        Upstream { addr, hits }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn serve_upstream(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut data = Vec::new();
    let mut buf = [0u8; 65536];
    let head_end = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(p) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_string();
    let target = first.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = data[head_end + 4..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let (status, extra, payload): (u16, &str, Vec<u8>) = if let Some(n) =
        path.strip_prefix("/status/")
    {
        let code = n.parse().unwrap_or(500);
        (code, "", format!("status {code}").into_bytes())
    } else if let Some(ms) = path.strip_prefix("/trickle/") {
        // Head and one byte at once, the rest of the body after `ms`.
        let ms: u64 = ms.parse().unwrap_or(1000);
        stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\nconnection: close\r\n\r\nx")?;
        stream.flush()?;
        thread::sleep(Duration::from_millis(ms));
        let _ = stream.write_all(b"123456789");
        return Ok(());
    } else if let Some(ms) = path.strip_prefix("/slow/") {
        thread::sleep(Duration::from_millis(ms.parse().unwrap_or(1000)));
        (200, "", b"slow".to_vec())
    } else {
        let json = serde_json::json!({
            "method": method,
            "path": path,
            "query": query,
            "headers": headers,
            "body": body,
        });
        (
            200,
            "x-upstream: yes\r\ncontent-type: application/json\r\n",
            json.to_string().into_bytes(),
        )
    };
    let head = format!(
        "HTTP/1.1 {status} Whatever\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n",
        payload.len()
    );
    stream.write_all(head.as_bytes())?;
    if method != "HEAD" {
        stream.write_all(&payload)?;
    }
    stream.flush()
}

/// A loopback port with nothing listening on it.
pub fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr
}

/// An AWS SDK CloudWatch Logs client for a running gatewatch's admin
/// listener (plain HTTP, any credentials).
pub fn logs_client(gw: &Gatewatch, region: &str) -> aws_sdk_cloudwatchlogs::Client {
    use aws_sdk_cloudwatchlogs::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_cloudwatchlogs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(format!("http://{}", gw.admin))
        .http_client(sdk_http::client())
        .build();
    aws_sdk_cloudwatchlogs::Client::from_conf(config)
}

/// Runs the gatewatch binary with `args`, asserts that it succeeded
/// (showing what it printed otherwise) and returns its standard output.
pub fn cli_ok<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let out = std::process::Command::new(binary())
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The messages of a log group's first FilterLogEvents page, in order.
pub async fn group_messages(logs: &aws_sdk_cloudwatchlogs::Client, group: &str) -> Vec<String> {
    logs.filter_log_events()
        .log_group_name(group)
        .send()
        .await
        .unwrap()
        .events()
        .iter()
        .map(|e| e.message().unwrap_or("").to_string())
        .collect()
}

/// [`group_messages`] once `ready` holds for them, or after 10 s: a
/// function's lines are stored off the request path, a moment after its
/// response.
pub async fn group_messages_when(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    ready: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = group_messages(logs, group).await;
        if ready(&found) || Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The messages of `group` that contain the term `needle` (one
/// FilterLogEvents page), once `ready` holds for them, or after 15 s.
pub async fn messages_with_when(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    needle: &str,
    ready: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let found: Vec<String> = match logs
            .filter_log_events()
            .log_group_name(group)
            .filter_pattern(format!("\"{needle}\""))
            .send()
            .await
        {
            Ok(page) => page
                .events()
                .iter()
                .map(|e| e.message().unwrap_or("").to_string())
                .collect(),
            Err(_) => Vec::new(),
        };
        if ready(&found) || Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn apigateway_client(gw: &Gatewatch, region: &str) -> aws_sdk_apigateway::Client {
    use aws_sdk_apigateway::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_apigateway::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(format!("http://{}", gw.admin))
        .http_client(sdk_http::client())
        .build();
    aws_sdk_apigateway::Client::from_conf(config)
}
