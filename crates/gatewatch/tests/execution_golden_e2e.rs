//! Golden execution logs from the real binary: one request per scenario
//! (MOCK, HTTP, HTTP_PROXY and AWS_PROXY, success and each kind of failure)
//! at INFO with data trace and at ERROR, read back with the AWS SDK's
//! FilterLogEvents and compared, complete and in order, with insta
//! snapshots. Only what differs from run to run is replaced by a name
//! (ids, ports, dates, latencies, durations, the fixtures' path), after
//! the store returned the lines, so cuts at 1 KB are AWS's cuts.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_cloudwatchlogs::Client;
use common::*;
use regex::Regex;

const API: &str = "goldenapi1";

/// One request of a scenario.
struct Scenario {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    body: &'static [u8],
    status: u16,
    /// The function whose log of the invocation is a golden too.
    function: Option<&'static str>,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "mock_success",
        method: "GET",
        path: "/mock",
        body: b"",
        status: 200,
        function: None,
    },
    Scenario {
        name: "http_proxy_success",
        method: "GET",
        path: "/proxy/200?q=1",
        body: b"",
        status: 200,
        function: None,
    },
    Scenario {
        name: "http_mapped_success",
        method: "POST",
        path: "/mapped/201",
        body: b"{\"k\": 1}",
        status: 200,
        function: None,
    },
    Scenario {
        name: "http_mapped_with_directives",
        method: "POST",
        path: "/shaped",
        body: br#"{"tags": ["good", "it's"], "age": 3}"#,
        status: 200,
        function: None,
    },
    Scenario {
        name: "http_mapped_passthrough_template",
        method: "POST",
        path: "/passthrough/7?q=a+b&page=2",
        body: br#"{"n": 3}"#,
        status: 200,
        function: None,
    },
    Scenario {
        name: "http_mapped_with_overrides",
        method: "POST",
        path: "/override/7",
        body: b"{}",
        status: 418,
        function: None,
    },
    Scenario {
        name: "mock_overriding_twice",
        method: "GET",
        path: "/override-twice",
        body: b"",
        status: 500,
        function: None,
    },
    Scenario {
        name: "http_proxy_timeout",
        method: "GET",
        path: "/slow",
        body: b"",
        status: 504,
        function: None,
    },
    Scenario {
        name: "http_proxy_unreachable",
        method: "GET",
        path: "/down",
        body: b"",
        status: 500,
        function: None,
    },
    Scenario {
        name: "aws_proxy_success",
        method: "GET",
        path: "/greet/ada?lang=en",
        body: b"",
        status: 200,
        function: Some("greet"),
    },
    Scenario {
        name: "aws_proxy_function_error",
        method: "POST",
        path: "/fails/now",
        body: b"{\"why\": \"testing\"}",
        status: 502,
        function: Some("fails"),
    },
    Scenario {
        name: "aws_proxy_malformed_response",
        method: "GET",
        path: "/malformed/x",
        body: b"",
        status: 502,
        function: Some("malformed"),
    },
    Scenario {
        name: "aws_proxy_timeout",
        method: "GET",
        path: "/late/x",
        body: b"",
        status: 504,
        function: None,
    },
    Scenario {
        name: "aws_proxy_function_crash",
        method: "GET",
        path: "/crash/x",
        body: b"",
        status: 502,
        function: Some("crash"),
    },
    Scenario {
        name: "aws_proxy_function_timeout",
        method: "GET",
        path: "/tired/x",
        body: b"",
        status: 502,
        function: Some("tired"),
    },
    Scenario {
        name: "aws_proxy_function_not_found",
        method: "GET",
        path: "/missing/x",
        body: b"",
        status: 500,
        function: None,
    },
    Scenario {
        name: "mock_without_status_code",
        method: "GET",
        path: "/mock/bad",
        body: b"",
        status: 500,
        function: None,
    },
    Scenario {
        name: "http_unmapped_status",
        method: "GET",
        path: "/unmapped/404",
        body: b"",
        status: 500,
        function: None,
    },
    Scenario {
        name: "missing_authentication_token",
        method: "GET",
        path: "/nothing/here",
        body: b"",
        status: 403,
        function: None,
    },
];

fn fixtures() -> String {
    format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"))
}

/// `gatewatch.toml`: the golden API with stage `info` (INFO + data trace)
/// and stage `error` (ERROR), and its Python functions.
fn config(dir: &std::path::Path, backend: &str, down: &str) -> std::path::PathBuf {
    let fixtures = fixtures();
    let mut text = format!("[[apis]]\nfile = \"{fixtures}/golden-api.yaml\"\nid = \"{API}\"\n");
    for (stage, settings) in [
        ("info", "loggingLevel = \"INFO\", dataTraceEnabled = true"),
        ("error", "loggingLevel = \"ERROR\""),
    ] {
        text.push_str(&format!(
            "[[apis.stages]]\nname = \"{stage}\"\nvariables = {{ backend = \"{backend}\", down = \"http://{down}\" }}\nmethodSettings.\"*/*\" = {{ {settings} }}\n"
        ));
    }
    for (name, timeout) in [
        ("greet", 3.0),
        ("fails", 3.0),
        ("malformed", 3.0),
        ("slow", 3.0),
        ("crash", 3.0),
    ] {
        text.push_str(&format!(
            "[[functions]]\nname = \"{name}\"\nruntime = \"python3.11\"\nhandler = \"handlers.{name}\"\ncode = \"{fixtures}/functions\"\ntimeout = {timeout}\n"
        ));
    }
    // The slow handler with less time than it needs.
    text.push_str(&format!(
        "[[functions]]\nname = \"tired\"\nruntime = \"python3.11\"\nhandler = \"handlers.slow\"\ncode = \"{fixtures}/functions\"\ntimeout = 1.0\n"
    ));
    let path = dir.join("gatewatch.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The messages of `group` that contain `needle`, waiting (bounded) until
/// one of them contains `last` (no wait when `last` is empty).
async fn messages(logs: &Client, group: &str, needle: &str, last: &str) -> Vec<String> {
    messages_with_when(logs, group, needle, |found| {
        last.is_empty() || found.iter().any(|m| m.contains(last))
    })
    .await
}

/// The events of `/aws/lambda/{function}` from the START to the REPORT of
/// one invocation, each with its newlines shown as `\n`.
async fn lambda_log(logs: &Client, function: &str, lambda_id: &str) -> Vec<String> {
    let group = format!("/aws/lambda/{function}");
    let deadline = Instant::now() + Duration::from_secs(15);
    let stream = loop {
        let page = logs
            .filter_log_events()
            .log_group_name(&group)
            .filter_pattern(format!("\"{lambda_id}\""))
            .send()
            .await;
        let events = page.as_ref().map(|p| p.events()).unwrap_or_default();
        let reported = events
            .iter()
            .any(|e| e.message().unwrap_or("").starts_with("REPORT "));
        if reported || Instant::now() > deadline {
            break events
                .first()
                .and_then(|e| e.log_stream_name())
                .unwrap_or_else(|| panic!("no log of {lambda_id} in {group}"))
                .to_string();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let page = logs
        .get_log_events()
        .log_group_name(&group)
        .log_stream_name(&stream)
        .start_from_head(true)
        .send()
        .await
        .unwrap();
    let messages: Vec<&str> = page.events().iter().filter_map(|e| e.message()).collect();
    let start = messages
        .iter()
        .position(|m| m.starts_with(&format!("START RequestId: {lambda_id} ")))
        .unwrap();
    let report = messages
        .iter()
        .position(|m| m.starts_with(&format!("REPORT RequestId: {lambda_id}\t")))
        .unwrap();
    messages[start..=report]
        .iter()
        .map(|m| m.replace('\n', "\\n").replace('\t', "\\t"))
        .collect()
}

/// Replaces what differs between runs by names.
struct Normaliser {
    rules: Vec<(Regex, &'static str)>,
    fixtures: String,
    content_length: Regex,
}

impl Normaliser {
    fn new() -> Normaliser {
        let rules = [
            (
                r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                "<uuid>",
            ),
            (r"([Rr]oot)=1-[0-9a-f]{8}-[0-9a-f]{24}", "$1=1-<trace>"),
            (r"127\.0\.0\.1:\d+", "127.0.0.1:<port>"),
            (
                r#""resourceId":"[a-z0-9]{10}""#,
                r#""resourceId":"<resource-id>""#,
            ),
            // The SigV4 placeholder and token are derived from the request id.
            (r"(Authorization=\*+)[0-9a-f]{6},", "$1<last-6>,"),
            (
                r"X-Amz-Security-Token=[A-Za-z0-9+/=]+ \[TRUNCATED\]$",
                "X-Amz-Security-Token=<token> [TRUNCATED]",
            ),
            (r"latency: \d+ ms", "latency: <n> ms"),
            (r"\d{8}T\d{6}Z", "<amz-date>"),
            (
                r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT",
                "<http-date>",
            ),
            (
                r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000",
                "<request-time>",
            ),
            (r"\b1\d{12}\b", "<epoch-ms>"),
            (r"(Duration|Init Duration): [\d.]+ ms", "$1: <n> ms"),
            (r"Billed Duration: \d+ ms", "Billed Duration: <n> ms"),
            (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", "<iso-time>"),
            (r"Max Memory Used: \d+ MB", "Max Memory Used: <n> MB"),
        ];
        Normaliser {
            rules: rules
                .into_iter()
                .map(|(re, to)| (Regex::new(re).unwrap(), to))
                .collect(),
            fixtures: fixtures(),
            content_length: Regex::new(r"Content-Length=\d+").unwrap(),
        }
    }

    /// The request's messages, one per line, with their variable parts named.
    fn golden(&self, messages: &[String], request_id: &str, extended_id: &str) -> String {
        // The fixtures' path (in a stack trace) is as long as the clone's
        // path, and so is the body that carries it.
        let path_sized = messages.iter().any(|m| m.contains(&self.fixtures));
        messages
            .iter()
            .map(|m| self.line(m, request_id, extended_id, path_sized) + "\n")
            .collect()
    }

    fn line(&self, line: &str, request_id: &str, extended_id: &str, path_sized: bool) -> String {
        let mut line = line
            .replace(request_id, "<request-id>")
            .replace(extended_id, "<extended-request-id>");
        // A cut at 1 KB can fall inside the request id.
        for len in (8..request_id.len()).rev() {
            let cut = format!("{} [TRUNCATED]", &request_id[..len]);
            if line.ends_with(&cut) {
                line.truncate(line.len() - cut.len());
                line.push_str("<request-id, cut> [TRUNCATED]");
                break;
            }
        }
        if path_sized {
            line = line.replace(&self.fixtures, "<fixtures>");
            line = self
                .content_length
                .replace_all(&line, "Content-Length=<n>")
                .into_owned();
        }
        for (re, to) in &self.rules {
            line = re.replace_all(&line, *to).into_owned();
        }
        line
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn execution_logs_match_their_goldens() {
    let upstream = Upstream::start();
    let dir = temp_dir("golden");
    let config = config(&dir, &upstream.url(), &closed_port().to_string());
    let gw = Gatewatch::start(&["--config", config.to_str().unwrap(), "-q"]);
    let logs = common::logs_client(&gw, "us-east-1");
    let normaliser = Normaliser::new();

    // Warm each function first, so the goldens do not depend on which
    // request found a cold runtime.
    for path in [
        "/info/greet/warm",
        "/info/fails/warm",
        "/info/malformed/warm",
    ] {
        get(gw.data, path);
    }

    // Successful requests at ERROR write nothing; checked once later
    // requests' lines are in (one writer commits in order).
    let mut silent = Vec::new();
    for stage in ["info", "error"] {
        let group = format!("API-Gateway-Execution-Logs_{API}/{stage}");
        for s in SCENARIOS {
            let path = format!("/{stage}{}", s.path);
            let mut headers = vec![
                ("Host", "api.example.test"),
                ("User-Agent", "golden/1.0"),
                ("Accept", "application/json"),
            ];
            if !s.body.is_empty() {
                headers.push(("Content-Type", "application/json"));
            }
            let resp = request(gw.data, s.method, &path, &headers, s.body);
            assert_eq!(resp.status, s.status, "{stage} {}: {}", s.name, resp.text());
            let id = resp.header("x-amzn-RequestId").unwrap().to_string();
            let extended = resp.header("x-amz-apigw-id").unwrap_or("-").to_string();
            if stage == "error" && s.status < 400 {
                silent.push((s.name, group.clone(), id));
                continue;
            }
            let found = messages(&logs, &group, &id, "Method completed with status").await;
            let prefix = format!("({id}) ");
            for m in &found {
                assert!(m.starts_with(&prefix), "{m} lacks {prefix}");
            }
            let golden = normaliser.golden(&found, &id, &extended);
            insta::assert_snapshot!(format!("{}_{stage}", s.name), golden);
            // The function's own log of that invocation, once per scenario.
            if let (Some(function), "info") = (s.function, stage) {
                let lambda_id = found
                    .iter()
                    .find_map(|m| m.split_once("AWS Integration Endpoint RequestId : "))
                    .map(|(_, id)| id.to_string())
                    .unwrap_or_else(|| panic!("{golden}"));
                let lines = lambda_log(&logs, function, &lambda_id).await;
                if function == "tired" {
                    // A timeout reports the time the function was given.
                    let report = lines.last().unwrap();
                    assert!(report.contains("\\tDuration: 1000.00 ms\\t"), "{report}");
                }
                let golden = normaliser.golden(&lines, &id, &extended);
                insta::assert_snapshot!(format!("{}_lambda_log", s.name), golden);
            }
        }
    }

    // A request whose headers pass API Gateway's 10,240-byte limit is
    // refused before a method is matched: 413, and still logged.
    let big = "a".repeat(11_000);
    for stage in ["info", "error"] {
        let group = format!("API-Gateway-Execution-Logs_{API}/{stage}");
        let resp = request(
            gw.data,
            "GET",
            &format!("/{stage}/mock"),
            &[("Host", "api.example.test"), ("X-Big", &big)],
            b"",
        );
        assert_eq!(resp.status, 413, "{}", resp.text());
        let id = resp.header("x-amzn-RequestId").unwrap().to_string();
        let extended = resp.header("x-amz-apigw-id").unwrap_or("-").to_string();
        let found = messages(&logs, &group, &id, "Method completed with status").await;
        let golden = normaliser.golden(&found, &id, &extended);
        insta::assert_snapshot!(format!("request_too_large_{stage}"), golden);
    }

    assert!(!silent.is_empty());
    for (name, group, id) in silent {
        let found = messages(&logs, &group, &id, "").await;
        assert!(found.is_empty(), "{name} at ERROR: {found:#?}");
    }

    drop(gw);
    let _ = std::fs::remove_dir_all(&dir);
}
