//! End-to-end: the real `gatewatch` binary on loopback, a real upstream, a
//! raw HTTP client. Covers the bundled example, addressing, routing, each
//! integration and every error path of the foundation issue.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn start_fixture(upstream: &Upstream) -> Gatewatch {
    let down = format!("down=http://{}", closed_port());
    let backend = format!("backend={}", upstream.url());
    Gatewatch::start(&[
        "--api",
        &fixture("e2e-api.yaml"),
        "--var",
        &backend,
        "--var",
        &down,
    ])
}

#[test]
fn bundled_example_serves_pets_and_403_for_unknown_paths() {
    let gw = Gatewatch::start(&[]);
    assert!(
        gw.stdout.contains("API \"Gatewatch Example Pets\""),
        "{}",
        gw.stdout
    );
    let pets = get(gw.data, "/dev/pets");
    assert_eq!(pets.status, 200);
    assert_eq!(pets.json()[0]["type"], "dog");
    insta::assert_snapshot!("example_pets", pets.redacted());

    let unknown = get(gw.data, "/dev/no/such/thing");
    insta::assert_snapshot!("example_unknown_path", unknown.redacted());
    let no_stage = get(gw.data, "/nostage");
    assert_eq!(no_stage.status, 403);
    assert_eq!(
        no_stage.text(),
        "{\"message\":\"Missing Authentication Token\"}"
    );

    // Path parameter and the HTTP_PROXY route that loops back to the example itself.
    assert_eq!(get(gw.data, "/dev/pets/42").json()["id"], "42");
    let proxied = get(gw.data, "/dev/upstream/pets/7");
    assert_eq!(proxied.status, 200);
    assert_eq!(proxied.json()["id"], "7");

    let created = request(
        gw.data,
        "POST",
        "/dev/pets",
        &[("Content-Type", "application/json")],
        b"{\"type\":\"cat\"}",
    );
    assert_eq!(created.status, 201);
    assert_eq!(
        created.json()["requestId"],
        created.header("x-amzn-RequestId").unwrap()
    );

    let preflight = request(gw.data, "OPTIONS", "/dev/pets/1", &[], b"");
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));

    // The Python function route (skipped only where python3 is missing).
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok()
    {
        let hello = get(gw.data, "/dev/hello/ada");
        assert_eq!(hello.status, 200, "{}", hello.text());
        assert_eq!(hello.json()["message"], "Hello, ada!");
        assert_eq!(
            hello.json()["requestId"],
            hello.header("x-amzn-RequestId").unwrap()
        );
    }

    let health = get(gw.admin, "/health");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    let metrics = get(gw.admin, "/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .text()
            .contains("gatewatch_log_records_dropped_total 0"),
        "{}",
        metrics.text()
    );
}

#[test]
fn a_relative_data_dir_works_for_functions_too() {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    // As a newcomer runs it: `gatewatch serve` from a folder, data in ./gatewatch-data.
    let cwd = temp_dir("relative");
    let mut child = std::process::Command::new(binary())
        .args([
            "serve",
            "-q",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .current_dir(&cwd)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut addr = None;
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("gatewatch listening data=") {
            addr = rest
                .split_whitespace()
                .next()
                .map(|a| a.parse::<std::net::SocketAddr>().unwrap());
            break;
        }
    }
    let hello = get(addr.expect("listening line"), "/dev/hello/ada");
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&cwd);
    assert_eq!(hello.status, 200, "{}", hello.text());
    assert!(cwd.join("gatewatch-data").to_str().is_some());
}

#[test]
fn three_addressing_forms_reach_the_same_api() {
    let gw = Gatewatch::start(&[]);
    let id = gw
        .stdout
        .lines()
        .find_map(|l| l.split("restApiId=").nth(1))
        .unwrap()
        .trim()
        .to_string();
    let by_path = get(gw.data, "/dev/pets/5");
    let host = format!("{id}.execute-api.localhost:{}", gw.data.port());
    let by_host = request(gw.data, "GET", "/dev/pets/5", &[("Host", &host)], b"");
    let by_restapis = get(
        gw.data,
        &format!("/restapis/{id}/dev/_user_request_/pets/5"),
    );
    for r in [&by_path, &by_host, &by_restapis] {
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.json()["id"], "5");
    }
    let wrong_api = request(
        gw.data,
        "GET",
        "/dev/pets",
        &[("Host", "zzzzzzzzzz.execute-api.localhost")],
        b"",
    );
    assert_eq!(wrong_api.status, 403);
    let wrong_stage = get(gw.data, &format!("/restapis/{id}/prod/_user_request_/pets"));
    assert_eq!(wrong_stage.status, 403);
}

#[test]
fn http_proxy_passes_everything_through() {
    let upstream = Upstream::start();
    let gw = start_fixture(&upstream);
    let body: Vec<u8> = (0u8..=255).collect();
    let r = request(
        gw.data,
        "PUT",
        "/dev/proxy/a/b%20c?x=1&x=2&y=",
        &[
            ("Content-Type", "application/octet-stream"),
            ("X-Forwarded-For", "10.1.2.3"),
            ("X-Forwarded-For", "10.4.5.6"),
            ("X-Custom", "kept"),
        ],
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-upstream"), Some("yes"));
    assert!(r.header("x-amzn-RequestId").is_some());
    let echo = r.json();
    assert_eq!(echo["method"], "PUT");
    assert_eq!(echo["path"], "/echo/a/b%20c");
    assert_eq!(echo["query"], "x=1&x=2&y=");
    let headers: Vec<(String, String)> = serde_json::from_value(echo["headers"].clone()).unwrap();
    let h = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(h("x-custom").as_deref(), Some("kept"));
    assert_eq!(h("x-from-gateway").as_deref(), Some("yes"));
    assert_eq!(
        h("x-forwarded-for").as_deref(),
        Some("10.1.2.3, 10.4.5.6, 127.0.0.1")
    );
    assert_eq!(
        h("host").as_deref(),
        Some(upstream.addr.to_string().as_str())
    );
    let echoed: Vec<u8> = serde_json::from_value(echo["body"].clone()).unwrap();
    assert_eq!(echoed, body, "binary body must arrive intact");

    // The backend's status passes through unchanged.
    let teapot = get(gw.data, "/dev/status/418");
    assert_eq!((teapot.status, teapot.text().as_str()), (418, "status 418"));
    // HEAD through an ANY proxy: headers, no body.
    let head = request(gw.data, "HEAD", "/dev/proxy/x", &[], b"");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

#[test]
fn http_non_proxy_maps_requests_and_responses() {
    let upstream = Upstream::start();
    let gw = start_fixture(&upstream);

    let ok = request(gw.data, "POST", "/dev/mapped/201", &[], b"");
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(
        ok.json(),
        serde_json::json!({"ok": true, "backend": "status 201"})
    );
    let bad = request(gw.data, "POST", "/dev/mapped/404", &[], b"");
    assert_eq!(bad.status, 400);
    assert_eq!(bad.header("x-backend-said"), Some("10"));
    // No pattern matches 503 and there is no default: API Gateway's 500.
    let unmapped = request(gw.data, "POST", "/dev/mapped/503", &[], b"");
    insta::assert_snapshot!("unmapped_status", unmapped.redacted());

    let r = request(
        gw.data,
        "POST",
        "/dev/passthrough?q=hello&other=dropped",
        &[
            ("Content-Type", "application/json"),
            ("X-Client", "not forwarded"),
        ],
        b"{\"a\":1}",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let echo = r.json();
    assert_eq!(echo["query"], "q=hello");
    let headers: Vec<(String, String)> = serde_json::from_value(echo["headers"].clone()).unwrap();
    let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    assert!(names.contains(&"x-from"), "{names:?}");
    assert!(!names.contains(&"x-client"), "{names:?}");
    let echoed: Vec<u8> = serde_json::from_value(echo["body"].clone()).unwrap();
    assert_eq!(echoed, b"{\"a\":1}");

    // passthroughBehavior NEVER: a matching template is used, no match is 415.
    let wrapped = request(
        gw.data,
        "POST",
        "/dev/never",
        &[("Content-Type", "application/json")],
        b"{\"b\":2}",
    );
    let echoed: Vec<u8> = serde_json::from_value(wrapped.json()["body"].clone()).unwrap();
    assert_eq!(
        String::from_utf8(echoed).unwrap(),
        "{\"wrapped\": {\"b\":2}}"
    );
    let refused = request(
        gw.data,
        "POST",
        "/dev/never",
        &[("Content-Type", "text/plain")],
        b"hi",
    );
    insta::assert_snapshot!("unsupported_media_type", refused.redacted());
}

#[test]
fn integration_failures_answer_like_api_gateway() {
    let upstream = Upstream::start();
    let gw = start_fixture(&upstream);

    let started = Instant::now();
    let timeout = get(gw.data, "/dev/slow");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_millis(2500),
        "{waited:?}"
    );
    insta::assert_snapshot!("integration_timeout", timeout.redacted());

    // The head arrives in time but the body does not: the stream is cut at
    // the integration timeout instead of holding the connection open.
    let started = Instant::now();
    let mut stream = TcpStream::connect(gw.data).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /dev/trickle HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        !text.ends_with("x123456789"),
        "the late body must not arrive: {text}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );

    let down = get(gw.data, "/dev/down");
    insta::assert_snapshot!("upstream_unreachable", down.redacted());

    let bad_mock = get(gw.data, "/dev/mock/bad");
    assert_eq!(bad_mock.status, 500);
    assert_eq!(bad_mock.text(), "{\"message\": \"Internal server error\"}");
}

#[test]
fn routing_and_method_rules() {
    let upstream = Upstream::start();
    let gw = start_fixture(&upstream);
    let mock = get(gw.data, "/dev/mock");
    assert_eq!(mock.status, 200);
    assert_eq!(
        mock.json(),
        serde_json::json!({"stage": "dev", "resource": "/mock"})
    );
    assert_eq!(mock.header("x-stage"), Some(upstream.url().as_str()));
    // Trailing slash matches the same resource.
    assert_eq!(get(gw.data, "/dev/mock/").status, 200);
    // No HEAD or ANY on /get-only: 403, with the DEFAULT_4XX customisation.
    let head = request(gw.data, "HEAD", "/dev/get-only", &[], b"");
    assert_eq!(head.status, 403);
    assert_eq!(head.header("access-control-allow-origin"), Some("*"));
    let options = request(gw.data, "OPTIONS", "/dev/get-only", &[], b"");
    assert_eq!(options.status, 403);
    let delete = request(gw.data, "DELETE", "/dev/mock", &[], b"");
    insta::assert_snapshot!("method_not_defined", delete.redacted());
}

#[test]
fn oversized_requests_get_413_without_reading_the_body() {
    let upstream = Upstream::start();
    let gw = start_fixture(&upstream);
    let hits_before = upstream.hits.load(std::sync::atomic::Ordering::SeqCst);
    // Declares 10 MB + 1 and sends nothing more: refused at once.
    let r = raw(
        gw.data,
        format!("POST /dev/proxy/big HTTP/1.1\r\nHost: {}\r\nContent-Length: 10485761\r\nConnection: close\r\n\r\n", gw.data).as_bytes(),
    );
    insta::assert_snapshot!("request_too_large", r.redacted());

    // A chunked body that grows past 10 MB is cut off too.
    let mut stream = TcpStream::connect(gw.data).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(stream, "POST /dev/proxy/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").unwrap();
    let chunk = vec![b'a'; 1024 * 1024];
    for _ in 0..11 {
        if write!(stream, "{:x}\r\n", chunk.len()).is_err()
            || stream.write_all(&chunk).is_err()
            || stream.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    let r = read_response(&mut stream);
    assert_eq!(r.status, 413);
    assert_eq!(
        upstream.hits.load(std::sync::atomic::Ordering::SeqCst),
        hits_before,
        "nothing reached the backend"
    );

    // Header values over 10,240 bytes.
    let big = "v".repeat(11_000);
    let r = request(gw.data, "GET", "/dev/mock", &[("X-Big", &big)], b"");
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["type"], "REQUEST_TOO_LARGE");
}

#[test]
fn client_request_id_is_kept_when_it_is_a_uuid() {
    let gw = Gatewatch::start(&[]);
    let id = "0b4a2c9e-7f7e-4c55-9d47-1b1f5c0c7a11";
    let r = request(
        gw.data,
        "GET",
        "/dev/pets",
        &[("x-amzn-RequestId", id)],
        b"",
    );
    assert_eq!(r.header("x-amzn-RequestId"), Some(id));
}

#[test]
fn sigterm_drains_in_flight_requests_then_exits_zero() {
    let upstream = Upstream::start();
    let mut gw = start_fixture(&upstream);
    // A request that takes ~300 ms (the integration times out) is in flight
    // when SIGTERM arrives; it must still get its full response.
    let addr = gw.data;
    let in_flight = std::thread::spawn(move || get(addr, "/dev/slow"));
    std::thread::sleep(Duration::from_millis(100));
    gw.signal("TERM");
    let r = in_flight.join().unwrap();
    assert_eq!(r.status, 504);
    assert_eq!(gw.wait_exit(Duration::from_secs(15)), Some(0));
    // And nothing listens any more.
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn sigint_exits_zero() {
    let mut gw = Gatewatch::start(&[]);
    gw.signal("INT");
    assert_eq!(gw.wait_exit(Duration::from_secs(15)), Some(0));
}

#[test]
fn serve_refuses_a_broken_api_file_and_names_the_problems() {
    let out = std::process::Command::new(binary())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--api",
        ])
        .arg(format!(
            "{}/../model/tests/fixtures/broken.yaml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot serve"), "{err}");
    assert!(
        err.contains("broken.yaml:9: error: /paths/pets: Invalid resource path 'pets'"),
        "{err}"
    );
}

#[test]
fn slow_clients_are_cut_off_not_waited_for() {
    // The header-read timeout is 10 s by default; a client that sends half a
    // request head is disconnected, the server stays responsive meanwhile.
    let gw = Gatewatch::start(&[]);
    let mut slow = TcpStream::connect(gw.data).unwrap();
    slow.write_all(b"GET /dev/pets HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    assert_eq!(get(gw.data, "/dev/pets").status, 200);
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let n = slow.read(&mut buf).unwrap_or(0);
    assert!(started.elapsed() < Duration::from_secs(15));
    // Closed (0 bytes) or answered with an error status; never left hanging.
    if n > 0 {
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("HTTP/1.1 4"), "{text}");
    }
}
