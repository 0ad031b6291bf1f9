//! End-to-end: real requests through each integration type of the real
//! binary, then the execution and access logs read back with the AWS SDK.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_cloudwatchlogs::Client;
use common::*;

fn client(gw: &Gatewatch) -> Client {
    common::logs_client(gw, "us-east-1")
}

/// Messages of `group` that contain `needle`, waiting (bounded) for `want` of them.
async fn messages(logs: &Client, group: &str, needle: &str, want: usize) -> Vec<String> {
    messages_with_when(logs, group, needle, |found| found.len() >= want).await
}

/// The line texts after the `(requestId) ` prefix, checking the prefix.
fn lines(messages: &[String], request_id: &str) -> Vec<String> {
    let prefix = format!("({request_id}) ");
    messages
        .iter()
        .map(|m| {
            m.strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("{m} lacks {prefix}"))
                .to_string()
        })
        .collect()
}

fn kinds(lines: &[String]) -> Vec<String> {
    // The stable start of each line, without values.
    lines
        .iter()
        .map(|l| {
            l.split([':', '.'])
                .next()
                .unwrap_or("")
                .trim_end_matches(|c: char| c.is_ascii_digit() || c == ' ')
                .to_string()
        })
        .collect()
}

/// Writes `gatewatch.toml` in `dir`: the e2e fixture API as `api_id`, with
/// one stage `dev` whose settings are the TOML lines `stage`.
fn fixture_config(dir: &std::path::Path, api_id: &str, stage: &str) -> std::path::PathBuf {
    let config = dir.join("gatewatch.toml");
    let fixture = format!("{}/tests/fixtures/e2e-api.yaml", env!("CARGO_MANIFEST_DIR"));
    std::fs::write(
        &config,
        format!(
            "[[apis]]\nfile = \"{fixture}\"\nid = \"{api_id}\"\n\n[[apis.stages]]\nname = \"dev\"\n{stage}\n"
        ),
    )
    .unwrap();
    config
}

#[tokio::test(flavor = "multi_thread")]
async fn each_integration_writes_execution_and_access_logs() {
    let upstream = Upstream::start();
    let dir = temp_dir("logging");
    let config = fixture_config(
        &dir,
        "e2efixture",
        &format!(
            r#"variables = {{ backend = "{backend}", down = "http://{down}" }}
methodSettings."*/*" = {{ loggingLevel = "INFO", dataTraceEnabled = true }}
methodSettings."mock/GET" = {{ loggingLevel = "ERROR" }}
accessLogSettings = {{ destinationArn = "arn:aws:logs:us-east-1:000000000000:log-group:/e2e/access", format = '{{ "requestId":"$context.requestId", "status":"$context.status", "resourcePath":"$context.resourcePath", "error":"$context.error.responseType" }}' }}"#,
            backend = upstream.url(),
            down = closed_port(),
        ),
    );
    let gw = Gatewatch::start(&["--config", config.to_str().unwrap(), "-q"]);
    let logs = client(&gw);
    let execution_group = "API-Gateway-Execution-Logs_e2efixture/dev";

    let proxy = request(
        gw.data,
        "GET",
        "/dev/proxy/a/b?x=1",
        &[("Authorization", "Bearer secret-token-123456")],
        b"",
    );
    let mapped = request(
        gw.data,
        "POST",
        "/dev/mapped/201",
        &[("Content-Type", "application/json")],
        b"{\"k\":1}",
    );
    let timeout = get(gw.data, "/dev/slow");
    let mock = get(gw.data, "/dev/mock");
    let missing = get(gw.data, "/dev/nothing/here");
    let id = |r: &Resp| r.header("x-amzn-RequestId").unwrap().to_string();

    // HTTP_PROXY, INFO + data trace: the whole sequence, in order.
    let proxy_lines = lines(
        &messages(&logs, execution_group, &id(&proxy), 21).await,
        &id(&proxy),
    );
    assert_eq!(
        kinds(&proxy_lines),
        [
            "Extended Request Id",
            "Verifying Usage Plan for request",
            "API Key authorized because method 'ANY /proxy/{proxy+}' does not require API Key",
            "Usage Plan check succeeded for API Key and API Stage e2efixture/dev",
            "Starting execution for request",
            "HTTP Method",
            "Method request path",
            "Method request query string",
            "Method request headers",
            "Method request body before transformations",
            "Endpoint request URI",
            "Endpoint request headers",
            "Endpoint request body after transformations",
            "Sending request to http",
            "Received response",
            "Endpoint response headers",
            "Endpoint response body before transformations",
            "Method response body after transformations",
            "Method response headers",
            "Successfully completed execution",
            "Method completed with status",
        ]
    );
    // The streamed body, as it passed through.
    assert!(
        proxy_lines[16].contains("\"path\":\"/echo/a/b\""),
        "{}",
        proxy_lines[16]
    );
    assert_eq!(
        proxy_lines[16].split_once(": ").unwrap().1,
        proxy_lines[17].split_once(": ").unwrap().1
    );
    assert_eq!(
        proxy_lines[5],
        "HTTP Method: GET, Resource Path: /proxy/a/b"
    );
    // "Bearer secret-token-123456": all but the last six characters masked.
    let masked = format!("authorization={}123456", "*".repeat(20));
    assert!(proxy_lines[8].contains(&masked), "{}", proxy_lines[8]);
    assert_eq!(
        proxy_lines[13],
        format!("Sending request to {}/echo/a/b?x=1", upstream.url())
    );
    assert!(proxy_lines[14].starts_with("Received response. Status: 200, Integration latency: "));
    assert_eq!(proxy_lines[20], "Method completed with status: 200");

    // HTTP non-proxy: mapped request and response bodies are traced.
    let mapped_lines = lines(
        &messages(&logs, execution_group, &id(&mapped), 19).await,
        &id(&mapped),
    );
    assert!(
        mapped_lines.contains(&"Method request body before transformations: {\"k\":1}".to_string())
    );
    assert!(
        mapped_lines
            .contains(&"Endpoint response body before transformations: status 201".to_string()),
        "{mapped_lines:#?}"
    );
    // API Gateway's order and spelling for an HTTP integration: the mapped
    // headers as their mappings name them, then its own.
    let endpoint_headers = mapped_lines
        .iter()
        .find(|l| l.starts_with("Endpoint request headers: "))
        .unwrap_or_else(|| panic!("{mapped_lines:#?}"));
    assert_eq!(
        endpoint_headers.as_str(),
        format!(
            "Endpoint request headers: {{Content-Type=application/json, \
             x-amzn-apigateway-api-id=e2efixture, Accept=application/json, \
             User-Agent=AmazonAPIGateway_e2efixture, X-Amzn-Trace-Id={}}}",
            mapped.header("x-amzn-trace-id").unwrap()
        )
    );
    assert!(mapped_lines.contains(
        &"Method response body after transformations: {\"ok\": true, \"backend\": \"status 201\"}"
            .to_string()
    ));

    // Timeout: the error lines close the trace.
    let timeout_lines = lines(
        &messages(&logs, execution_group, &id(&timeout), 17).await,
        &id(&timeout),
    );
    let tail: Vec<&str> = timeout_lines
        .iter()
        .rev()
        .take(5)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "Execution failed due to a timeout error",
            "Gateway response type: INTEGRATION_TIMEOUT with status code: 504",
            "Gateway response body: {\"message\": \"Endpoint request timed out\"}",
            tail[3],
            "Method completed with status: 504",
        ]
    );

    // The per-method ERROR level: a successful MOCK writes no execution lines.
    let mock_access = messages(&logs, "/e2e/access", &id(&mock), 1).await;
    assert_eq!(mock_access.len(), 1);
    // The access line is written in the same batch, so one look suffices.
    assert!(messages(&logs, execution_group, &id(&mock), 0)
        .await
        .is_empty());

    // An early reject still has its error lines and an access line.
    let missing_lines = lines(
        &messages(&logs, execution_group, &id(&missing), 2).await,
        &id(&missing),
    );
    assert_eq!(
        missing_lines[0],
        "Gateway response type: MISSING_AUTHENTICATION_TOKEN with status code: 403"
    );
    assert_eq!(
        missing_lines.last().unwrap(),
        "Method completed with status: 403"
    );

    // Access lines share the request ids and carry the final status.
    for (resp, status, resource, error) in [
        (&proxy, "200", "/proxy/{proxy+}", "-"),
        (&mapped, "200", "/mapped/{code}", "-"),
        (&timeout, "504", "/slow", "INTEGRATION_TIMEOUT"),
        (&mock, "200", "/mock", "-"),
        (&missing, "403", "-", "MISSING_AUTHENTICATION_TOKEN"),
    ] {
        let lines = messages(&logs, "/e2e/access", &id(resp), 1).await;
        assert_eq!(lines.len(), 1, "one access line per request");
        let line: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(line["requestId"], id(resp));
        assert_eq!(line["status"], status);
        assert_eq!(line["resourcePath"], resource);
        assert_eq!(line["error"], error);
    }
    // `gatewatch trace` tells the whole story of the timed-out request,
    // with more groups than one DescribeLogGroups page holds sorting before
    // the stage's.
    for n in 0..60 {
        logs.create_log_group()
            .log_group_name(format!("/aaa/{n:02}"))
            .send()
            .await
            .unwrap();
    }
    let endpoint = format!("http://{}", gw.admin);
    let text = cli_ok(&["trace", &id(&timeout), "--endpoint", &endpoint]);
    assert!(text.contains("access (/e2e/access)"), "{text}");
    assert!(text.contains("\"status\":\"504\""), "{text}");
    assert!(
        text.contains("execution (API-Gateway-Execution-Logs_e2efixture/dev)"),
        "{text}"
    );
    let starting = text.find("Starting execution for request").unwrap();
    let failed = text
        .find("Execution failed due to a timeout error")
        .unwrap();
    assert!(starting < failed, "lines in time order");
    let unknown = std::process::Command::new(binary())
        .args([
            "trace",
            "00000000-0000-0000-0000-000000000000",
            "--endpoint",
            &endpoint,
        ])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(1));
    // A client's own x-amzn-RequestId carries no arrival time of ours. This
    // one's bits read as an instant years ago: trace finds nothing around
    // it, then looks through the whole history.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let client_id = (0u64..1_000_000)
        .map(|n| format!("00000000-0000-4000-8000-{n:012x}"))
        .find(|id| {
            gatewatch_gateway::context::arrival_ms_of(id)
                .is_some_and(|t| (1_420_070_400_000..now_ms - 86_400_000).contains(&t))
        })
        .unwrap();
    let own = request(
        gw.data,
        "GET",
        "/dev/mock",
        &[("x-amzn-RequestId", &client_id)],
        b"",
    );
    assert_eq!(id(&own), client_id);
    assert_eq!(messages(&logs, "/e2e/access", &client_id, 1).await.len(), 1);
    let text = cli_ok(&["trace", &client_id, "--endpoint", &endpoint]);
    assert!(text.contains("access (/e2e/access)"), "{text}");
    assert!(
        text.contains(&format!("\"requestId\":\"{client_id}\"")),
        "{text}"
    );

    // `gatewatch logs tail` prints both logs of the stage.
    let text = cli_ok(&[
        "logs",
        "tail",
        "--api",
        "e2efixture",
        "--stage",
        "dev",
        "--endpoint",
        &endpoint,
    ]);
    assert!(
        text.lines()
            .any(|l| l.contains(" access ") && l.contains(&id(&proxy))),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains(" execution ") && l.contains("Method completed with status: 504")),
        "{text}"
    );

    drop(gw);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_answered_request_is_logged_when_the_server_stops() {
    // Each data-plane thread writes its own requests' logs; on SIGTERM each
    // must store what it still holds before the process exits.
    let dir = temp_dir("drain-logs");
    let config = fixture_config(
        &dir,
        "e2edrain01",
        r#"accessLogSettings = { destinationArn = "arn:aws:logs:us-east-1:000000000000:log-group:/e2e/drain", format = '$context.requestId $context.status' }"#,
    );
    let data = dir.join("data");
    let args = ["--config", config.to_str().unwrap(), "-q"];
    let mut answered = Vec::new();
    {
        let mut gw = Gatewatch::start_in(&data, &args);
        let addr = gw.data;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Several clients at once, so connections land on every thread
        // (with two or more cores), sending until the signal: the last
        // answers' logs are then still queued.
        let clients: Vec<_> = (0..4)
            .map(|_| {
                let stop = std::sync::Arc::clone(&stop);
                std::thread::spawn(move || {
                    let mut ids = Vec::new();
                    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                        // A request sent as the signal lands may be refused
                        // or closed unanswered; only answered ones count.
                        let Some(r) = try_get(addr, "/dev/mock") else {
                            assert!(
                                stop.load(std::sync::atomic::Ordering::SeqCst),
                                "a request went unanswered before the server was stopped"
                            );
                            break;
                        };
                        assert_eq!(r.status, 200);
                        ids.push(r.header("x-amzn-RequestId").unwrap().to_string());
                    }
                    ids
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        gw.signal("TERM");
        for c in clients {
            answered.extend(c.join().unwrap());
        }
        assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));
    }
    let gw = Gatewatch::start_in(&data, &args);
    let logs = client(&gw);
    let mut stored = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = logs
            .filter_log_events()
            .log_group_name("/e2e/drain")
            .set_next_token(token.take())
            .send()
            .await
            .unwrap();
        stored.extend(
            page.events()
                .iter()
                .map(|e| e.message().unwrap_or("").to_string()),
        );
        match page.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    let mut want: Vec<String> = answered.iter().map(|id| format!("{id} 200")).collect();
    want.sort();
    stored.sort();
    assert!(want.len() >= 40, "only {} requests answered", want.len());
    // Every answered request has exactly one line. A request whose answer
    // was cut off by the stop (at most one per client, each stops at its
    // first unanswered request) may have been logged without the client
    // seeing it; nothing else may be.
    let mut extra = stored.clone();
    for line in &want {
        let at = extra
            .binary_search(line)
            .unwrap_or_else(|_| panic!("answered request not logged: {line}"));
        extra.remove(at);
    }
    assert!(
        extra.iter().all(|l| want.binary_search(l).is_err()),
        "a request was logged twice: {extra:?}"
    );
    assert!(
        extra.len() <= 4,
        "{} lines of requests no client saw answered: {extra:?}",
        extra.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn tail_follow_prints_a_line_committed_after_a_later_one() {
    // Log writers commit their batches independently: a line can reach the
    // store after one with a later timestamp. `logs tail --follow` must
    // still print it.
    let dir = temp_dir("tail-follow");
    let config = fixture_config(&dir, "e2etail001", "");
    let gw = Gatewatch::start(&["--config", config.to_str().unwrap(), "-q"]);
    let logs = client(&gw);
    let group = "API-Gateway-Execution-Logs_e2etail001/dev";
    logs.create_log_group()
        .log_group_name(group)
        .send()
        .await
        .unwrap();
    logs.create_log_stream()
        .log_group_name(group)
        .log_stream_name("s")
        .send()
        .await
        .unwrap();
    let mut tail = std::process::Command::new(binary())
        .args([
            "logs",
            "tail",
            "--api",
            "e2etail001",
            "--stage",
            "dev",
            "--execution",
            "--follow",
            "--since",
            "1m",
            "--endpoint",
            &format!("http://{}", gw.admin),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = tail.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let wait_for = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return true,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        false
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let put = |ts: i64, message: &str| {
        logs.put_log_events()
            .log_group_name(group)
            .log_stream_name("s")
            .log_events(
                aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                    .timestamp(ts)
                    .message(message)
                    .build()
                    .unwrap(),
            )
            .send()
    };
    put(now, "the later line").await.unwrap();
    let later = wait_for("the later line");
    // Committed after the later line has been printed, 2 s older than it.
    put(now - 2_000, "the earlier line").await.unwrap();
    let earlier = wait_for("the earlier line");
    let _ = tail.kill();
    let _ = tail.wait();
    assert!(later, "tail never printed the later line");
    assert!(earlier, "tail skipped a line committed after a later one");
    let _ = std::fs::remove_dir_all(&dir);
}
