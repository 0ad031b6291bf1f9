//! End-to-end: AWS_PROXY routes through the real binary to Python functions
//! run by the built-in Lambda host, and their logs.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// A stand-in for an external Lambda Invoke endpoint (e.g. the runtime
/// interface emulator): `remote` answers a proxy response, `remoteerr` a
/// function error.
fn invoke_endpoint() -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut data = Vec::new();
                let mut buf = [0u8; 65536];
                loop {
                    let Ok(n) = stream.read(&mut buf) else { return };
                    if n == 0 {
                        return;
                    }
                    data.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&data).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len: usize = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if data.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let text = String::from_utf8_lossy(&data).to_string();
                let (extra, body) = if text
                    .starts_with("POST /2015-03-31/functions/remote/invocations")
                {
                    (
                        "",
                        r#"{"statusCode": 207, "body": "from the endpoint"}"#.to_string(),
                    )
                } else {
                    (
                        "X-Amz-Function-Error: Unhandled\r\n",
                        r#"{"errorMessage": "remote failure", "errorType": "Error"}"#.to_string(),
                    )
                };
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-amzn-RequestId: 11111111-2222-3333-4444-555555555555\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes());
            });
        }
    });
    addr
}

fn start() -> (Gatewatch, std::path::PathBuf) {
    let dir = temp_dir("lambda");
    let fixtures = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut config = format!(
        "[[apis]]\nfile = \"{fixtures}/lambda-api.yaml\"\nid = \"lambdafixt\"\n[[apis.stages]]\nname = \"dev\"\nvariables = {{ color = \"blue\", fn = \"echo\" }}\nmethodSettings.\"*/*\" = {{ loggingLevel = \"INFO\" }}\n"
    );
    for (name, timeout, concurrency) in [
        ("echo", 3.0, 10),
        ("binary", 3.0, 10),
        ("fails", 3.0, 10),
        ("malformed", 3.0, 10),
        ("slow", 1.0, 10),
        ("crash", 3.0, 10),
        ("sleepy", 3.0, 2),
    ] {
        config.push_str(&format!(
            "[[functions]]\nname = \"{name}\"\nruntime = \"python3.11\"\nhandler = \"handlers.{name}\"\ncode = \"{fixtures}/functions\"\ntimeout = {timeout}\nreservedConcurrency = {concurrency}\n"
        ));
    }
    for (name, handler) in [
        ("nodeecho", "node_handlers.echo"),
        ("nodefails", "node_handlers.fails"),
    ] {
        config.push_str(&format!(
            "[[functions]]\nname = \"{name}\"\nruntime = \"nodejs20.x\"\nhandler = \"{handler}\"\ncode = \"{fixtures}/functions\"\n"
        ));
    }
    let endpoint = invoke_endpoint();
    for name in ["remote", "remoteerr"] {
        config.push_str(&format!(
            "[[functions]]\nname = \"{name}\"\nendpoint = \"http://{endpoint}\"\n"
        ));
    }
    config.push_str(&format!(
        "[[functions]]\nname = \"throttled\"\nruntime = \"python3.11\"\nhandler = \"handlers.sleepy\"\ncode = \"{fixtures}/functions\"\nreservedConcurrency = 1\nthrottle = true\n"
    ));
    let path = dir.join("gatewatch.toml");
    std::fs::write(&path, config).unwrap();
    (
        Gatewatch::start(&["--config", path.to_str().unwrap(), "-q"]),
        dir,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn python_functions_behind_aws_proxy() {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let (gw, dir) = start();

    // The proxy event, and the response shaped from the function's answer.
    let r = request(
        gw.data,
        "POST",
        "/dev/echo/a/b?q=1&q=2&one=x",
        &[
            ("Content-Type", "application/json"),
            ("X-Multi", "m1"),
            ("X-Multi", "m2"),
        ],
        b"{\"k\":1}",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-single"), Some("one"));
    assert_eq!(r.headers.iter().filter(|(k, _)| k == "x-multi").count(), 2);
    let body = r.json();
    let event = &body["event"];
    assert_eq!(event["resource"], "/echo/{proxy+}");
    assert_eq!(event["path"], "/echo/a/b");
    assert_eq!(event["httpMethod"], "POST");
    assert_eq!(event["pathParameters"]["proxy"], "a/b");
    assert_eq!(event["queryStringParameters"]["q"], "2");
    assert_eq!(
        event["multiValueQueryStringParameters"]["q"],
        serde_json::json!(["1", "2"])
    );
    assert_eq!(
        event["multiValueHeaders"]["x-multi"],
        serde_json::json!(["m1", "m2"])
    );
    assert_eq!(event["stageVariables"]["color"], "blue");
    assert_eq!(event["body"], "{\"k\":1}");
    assert_eq!(event["isBase64Encoded"], false);
    assert_eq!(event["requestContext"]["stage"], "dev");
    assert_eq!(
        event["requestContext"]["requestId"],
        r.header("x-amzn-RequestId").unwrap()
    );
    let keys: Vec<&str> = event
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        &keys[..5],
        [
            "resource",
            "path",
            "httpMethod",
            "headers",
            "multiValueHeaders"
        ]
    );

    // Binary bodies: base64 in the event for binary media types, decoded on the way out.
    let r = request(
        gw.data,
        "POST",
        "/dev/binary/x",
        &[("Content-Type", "application/octet-stream")],
        &[0, 1, 2, 255],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, [0, 1, 2, 255]);

    // Failures answer like API Gateway.
    let fails = get(gw.data, "/dev/fails/x");
    assert_eq!(
        (fails.status, fails.text().as_str()),
        (502, "{\"message\": \"Internal server error\"}")
    );
    let malformed = get(gw.data, "/dev/malformed/x");
    assert_eq!(malformed.status, 502);
    let started = Instant::now();
    let slow = get(gw.data, "/dev/slow/x");
    assert_eq!(slow.status, 502, "a function timeout is a function error");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let crash = get(gw.data, "/dev/crash/x");
    assert_eq!(crash.status, 502);
    // After a crash the function still works (a new process).
    assert_eq!(get(gw.data, "/dev/echo/again").status, 200);
    let missing = get(gw.data, "/dev/missing/x");
    assert_eq!(missing.status, 500);

    // Concurrency: six parallel requests to a function limited to two processes.
    let addr = gw.data;
    let started = Instant::now();
    let handles: Vec<_> = (0..6)
        .map(|_| std::thread::spawn(move || get(addr, "/dev/sleepy/x")))
        .collect();
    let pids: std::collections::HashSet<i64> = handles
        .into_iter()
        .map(|h| {
            let r = h.join().unwrap();
            assert_eq!(r.status, 200, "{}", r.text());
            r.json()["pid"].as_i64().unwrap()
        })
        .collect();
    assert!(pids.len() <= 2, "at most two processes: {pids:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(850),
        "six 300 ms calls on two processes take three rounds"
    );

    // The function named through a stage variable.
    let staged = get(gw.data, "/dev/staged/x");
    assert_eq!(staged.status, 200, "{}", staged.text());
    assert_eq!(staged.json()["event"]["resource"], "/staged/{proxy+}");
    // The integration timeout (500 ms) before the function's (1 s): 504.
    let started = Instant::now();
    let timed_out = get(gw.data, "/dev/slow504/x");
    assert_eq!(
        (timed_out.status, timed_out.text().as_str()),
        (504, "{\"message\": \"Endpoint request timed out\"}")
    );
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );

    // Functions on an external Lambda Invoke endpoint.
    let remote = get(gw.data, "/dev/remote/x");
    assert_eq!(
        (remote.status, remote.text().as_str()),
        (207, "from the endpoint")
    );
    assert_eq!(get(gw.data, "/dev/remoteerr/x").status, 502);

    // Throttling: one process, no queueing; the second concurrent call is refused.
    let addr = gw.data;
    let first = std::thread::spawn(move || get(addr, "/dev/throttled/a"));
    std::thread::sleep(Duration::from_millis(150));
    let refused = get(gw.data, "/dev/throttled/b");
    assert_eq!(first.join().unwrap().status, 200);
    assert_eq!(refused.status, 500, "{}", refused.text());
    assert_eq!(refused.text(), "{\"message\": \"Internal server error\"}");

    // Node.js handlers, when Node is installed.
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok()
    {
        let r = get(gw.data, "/dev/nodeecho/x/y");
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["path"], "/nodeecho/x/y");
        assert_eq!(r.json()["requestId"], r.header("x-amzn-RequestId").unwrap());
        let fails = get(gw.data, "/dev/nodefails/x");
        assert_eq!(fails.status, 502);
    } else {
        eprintln!("Node.js part skipped: node is not installed");
    }

    // Logs: the execution lines name the failures; the function logs hold START/END/REPORT.
    let logs = logs_client(&gw, "us-east-1");
    let group = "API-Gateway-Execution-Logs_lambdafixt/dev";
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut execution = Vec::new();
    while Instant::now() < deadline {
        execution = logs
            .filter_log_events()
            .log_group_name(group)
            .filter_pattern("\"Lambda execution failed\"")
            .send()
            .await
            .map(|p| {
                p.events()
                    .iter()
                    .map(|e| e.message().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default();
        if execution.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        execution.iter().any(|m| m.contains(
            "due to customer function error: the handler failed on purpose. Lambda request id: "
        )),
        "{execution:#?}"
    );
    assert!(
        execution
            .iter()
            .any(|m| m.contains("Task timed out after 1.00 seconds")),
        "{execution:#?}"
    );
    let malformed_lines = logs
        .filter_log_events()
        .log_group_name(group)
        .filter_pattern(format!(
            "\"{}\"",
            malformed.header("x-amzn-RequestId").unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert!(malformed_lines
        .events()
        .iter()
        .any(|e| e.message().unwrap().ends_with(
            "Execution failed due to configuration error: Malformed Lambda proxy response"
        )));
    let throttled_lines = logs
        .filter_log_events()
        .log_group_name(group)
        .filter_pattern(format!(
            "\"{}\"",
            refused.header("x-amzn-RequestId").unwrap()
        ))
        .send()
        .await
        .unwrap();
    let throttled: Vec<&str> = throttled_lines
        .events()
        .iter()
        .map(|e| e.message().unwrap())
        .collect();
    assert!(
        throttled
            .iter()
            .any(|m| m.contains("Lambda invocation failed with status: 429. Lambda request id: ")),
        "{throttled:#?}"
    );
    assert!(
        throttled
            .iter()
            .any(|m| m.ends_with("Execution failed due to configuration error: Rate Exceeded.")),
        "{throttled:#?}"
    );
    let function_logs = logs
        .filter_log_events()
        .log_group_name("/aws/lambda/echo")
        .send()
        .await
        .unwrap();
    let lines: Vec<&str> = function_logs
        .events()
        .iter()
        .map(|e| e.message().unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("START RequestId: ") && l.ends_with(" Version: $LATEST\n")),
        "{lines:#?}"
    );
    let cold = lines
        .iter()
        .find(|l| l.starts_with("REPORT RequestId: ") && l.contains("\tInit Duration: "))
        .unwrap_or_else(|| panic!("no cold start's REPORT line: {lines:#?}"));
    // As on AWS, a cold start's Duration is the handler's run alone: the
    // start-up is in Init Duration, not counted twice. (The echo handler
    // runs in well under a millisecond; starting Python takes tens.)
    let number = |field: &str| -> f64 {
        cold.split('\t')
            .find_map(|part| part.strip_prefix(field))
            .and_then(|v| v.strip_suffix(" ms").or(v.strip_suffix(" MB")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in {cold:?}"))
    };
    assert!(number("Duration: ") < number("Init Duration: "), "{cold:?}");
    // Every line of a function's log is an event ending in a newline, as
    // CloudWatch Logs holds Lambda's; REPORT's fields end in a tab before it.
    assert!(cold.ends_with(" ms\t\n"), "{cold:?}");
    assert!(lines.iter().all(|l| l.ends_with('\n')), "{lines:#?}");
    // Max Memory Used is the process's real peak: a Python interpreter
    // holds a few MB at least.
    let max_memory = number("Max Memory Used: ");
    assert!((2.0..128.0).contains(&max_memory), "{cold:?}");
    // The function's own output is in its invocation's log, between START
    // and END, once per invocation; the bootstraps' log fences are not.
    let starts = lines
        .iter()
        .filter(|l| l.starts_with("START RequestId: "))
        .count();
    let printed = lines.iter().filter(|l| **l == "echo called\n").count();
    assert!(
        starts > 0 && printed == starts,
        "{starts} invocations, {printed} printed: {lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("gatewatch-log-fence")),
        "{lines:#?}"
    );
    for (i, line) in lines.iter().enumerate() {
        if *line == "echo called\n" {
            assert!(
                i > 0 && lines[i - 1].starts_with("START RequestId: "),
                "{lines:#?}"
            );
            assert!(lines[i + 1].starts_with("END RequestId: "), "{lines:#?}");
        }
    }
    let stream = function_logs.events()[0].log_stream_name().unwrap();
    assert!(
        stream.contains("/[$LATEST]") && stream.len() == "2026/11/25/[$LATEST]".len() + 32,
        "{stream}"
    );

    // One event holds the error and its traceback, lines and all.
    let failed = group_messages_when(&logs, "/aws/lambda/fails", |m| {
        m.iter().any(|l| l.starts_with("[WARNING]\t"))
            && m.iter().any(|l| l.starts_with("[ERROR] "))
    })
    .await;
    // A `logging` record in the managed runtime's text format, with its
    // invocation's request id.
    let at = failed
        .iter()
        .position(|m| m.starts_with("[WARNING]\t"))
        .unwrap_or_else(|| panic!("{failed:#?}"));
    let fields: Vec<&str> = failed[at].split('\t').collect();
    let id = invocation_id(&failed[..at]);
    assert_eq!(fields.len(), 4, "{}", failed[at]);
    assert!(
        fields[1].ends_with('Z') && fields[1].len() == 24,
        "{}",
        failed[at]
    );
    assert_eq!([fields[2], fields[3]], [id, "failing now\n"]);
    let error = failed
        .iter()
        .find(|m| m.starts_with("[ERROR] "))
        .unwrap_or_else(|| panic!("{failed:#?}"));
    assert!(
        error.starts_with(
            "[ERROR] ValueError: the handler failed on purpose\nTraceback (most recent call last):\n  File \""
        ) && error.contains("handlers.py\", line ")
            && error.ends_with("raise ValueError(\"the handler failed on purpose\")\n"),
        "{error}"
    );

    // The Node bootstrap fences its output the same way.
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok()
    {
        let lines = group_messages_when(&logs, "/aws/lambda/nodeecho", |m| {
            m.iter().any(|l| l.starts_with("END RequestId: "))
        })
        .await;
        let at = lines
            .iter()
            .position(|l| l.ends_with("node echo called\n"))
            .unwrap_or_else(|| panic!("{lines:#?}"));
        assert!(lines[at - 1].starts_with("START RequestId: "), "{lines:#?}");
        assert!(lines[at + 1].starts_with("END RequestId: "), "{lines:#?}");
        // In the managed runtime's text format: time, request id, level.
        let fields: Vec<&str> = lines[at].split('\t').collect();
        let id = invocation_id(&lines[..at]);
        assert_eq!(fields.len(), 4, "{}", lines[at]);
        assert!(
            fields[0].ends_with('Z') && fields[0].len() == 24,
            "{}",
            lines[at]
        );
        assert_eq!(&fields[1..], [id, "INFO", "node echo called\n"]);
        // An unhandled error: `ERROR Invoke Error` and the error as JSON.
        let failed = group_messages_when(&logs, "/aws/lambda/nodefails", |m| {
            m.iter().any(|l| l.contains("\tERROR\tInvoke Error \t"))
        })
        .await;
        let error = failed
            .iter()
            .find(|m| m.contains("\tERROR\tInvoke Error \t"))
            .unwrap_or_else(|| panic!("{failed:#?}"));
        let json: serde_json::Value =
            serde_json::from_str(error.split("Invoke Error \t").nth(1).unwrap()).unwrap();
        assert_eq!(json["errorType"], "TypeError");
        assert_eq!(json["errorMessage"], "node handler failed on purpose");
        assert!(json["stack"][0]
            .as_str()
            .unwrap()
            .starts_with("TypeError: node handler failed on purpose"));
    }

    // `gatewatch trace` on the failing request tells the whole story,
    // including the function's own lines, and only its own: the function
    // fails once more first, in the same log stream.
    assert_eq!(get(gw.data, "/dev/fails/again").status, 502);
    // Its lines are written off the request path, within a moment.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let endpoint = format!("http://{}", gw.admin);
    let text = cli_ok(&[
        "trace",
        fails.header("x-amzn-RequestId").unwrap(),
        "--endpoint",
        &endpoint,
    ]);
    assert!(
        text.contains("Lambda execution failed with status 200 due to customer function error"),
        "{text}"
    );
    assert!(text.contains("lambda (/aws/lambda/fails)"), "{text}");
    assert!(text.contains("about to fail"), "{text}");
    // The unhandled error is logged as the managed runtime logs it.
    assert!(
        text.contains("[ERROR] ValueError: the handler failed on purpose"),
        "{text}"
    );
    // Only this invocation's lines, not the second failure's.
    assert_eq!(text.matches("START RequestId: ").count(), 1, "{text}");

    // `gatewatch logs tail --lambda FN` prints the function's group.
    let tail = cli_ok(&["logs", "tail", "--lambda", "fails", "--endpoint", &endpoint]);
    // START, the function's print, its error, END, REPORT: in that order.
    let mut from = 0;
    for marker in [
        "lambda    START RequestId: ",
        "lambda    about to fail",
        "lambda    [WARNING]\t",
        "lambda    [ERROR] ValueError: the handler failed on purpose",
        "lambda    END RequestId: ",
        "lambda    REPORT RequestId: ",
    ] {
        let at = tail[from..]
            .find(marker)
            .unwrap_or_else(|| panic!("{marker} after byte {from}: {tail}"));
        from += at + marker.len();
    }
    assert!(
        text.contains("START RequestId: ") && text.contains("REPORT RequestId: "),
        "{text}"
    );

    drop(gw);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The request id of the invocation whose output ends `before`: the one on
/// its last `START` line.
fn invocation_id(before: &[String]) -> &str {
    before
        .iter()
        .rev()
        .find_map(|m| m.strip_prefix("START RequestId: "))
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no START line in {before:#?}"))
}
