//! `gatewatch logs tail`, `gatewatch trace` and `gatewatch format preview`.
//!
//! The first two read a running gatewatch through its CloudWatch Logs API on
//! the admin listener (the same code that serves `aws logs`); the store is
//! owned by the server process.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

use crate::cli::{PreviewArgs, TailArgs, TraceArgs};

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

pub(crate) struct Admin {
    client: HttpClient,
    base: String,
}

impl Admin {
    pub(crate) fn new(endpoint: &str) -> Admin {
        Admin {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: endpoint.trim_end_matches('/').to_string(),
        }
    }

    async fn health(&self) -> Result<Value, String> {
        let req = http::Request::get(format!("{}/health", self.base))
            .body(Full::default())
            .map_err(|e| e.to_string())?;
        self.send(req).await
    }

    /// One CloudWatch Logs call.
    pub(crate) async fn logs(&self, operation: &str, input: Value) -> Result<Value, String> {
        let req = http::Request::post(format!("{}/", self.base))
            .header("x-amz-target", format!("Logs_20140328.{operation}"))
            .header("content-type", "application/x-amz-json-1.1")
            .body(Full::new(Bytes::from(input.to_string())))
            .map_err(|e| e.to_string())?;
        self.send(req).await
    }

    async fn send(&self, req: http::Request<Full<Bytes>>) -> Result<Value, String> {
        let resp = tokio::time::timeout(Duration::from_secs(30), self.client.request(req))
            .await
            .map_err(|_| format!("no answer from {} in 30 s", self.base))?
            .map_err(|e| {
                format!(
                    "cannot reach gatewatch at {} (is `gatewatch serve` running?): {e}",
                    self.base
                )
            })?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(format!(
                "{}: {}",
                value["__type"].as_str().unwrap_or("error"),
                value["message"].as_str().unwrap_or("")
            ));
        }
        Ok(value)
    }

    /// Every event of `group` matching `pattern` from `start`, following tokens.
    async fn filter_all(
        &self,
        group: &str,
        pattern: &str,
        start: Option<i64>,
    ) -> Result<Vec<Value>, String> {
        let mut input = json!({ "logGroupName": group, "filterPattern": pattern });
        if let Some(s) = start {
            input["startTime"] = json!(s);
        }
        let mut out = Vec::new();
        self.filter_pages(input, 10_000, |events| {
            out.extend(events);
            true
        })
        .await?;
        Ok(out)
    }

    /// Pages through FilterLogEvents with `input`, handing each page's
    /// events to `each` until it returns false, the pages end, or
    /// `max_pages` have been read.
    async fn filter_pages(
        &self,
        mut input: Value,
        max_pages: usize,
        mut each: impl FnMut(Vec<Value>) -> bool,
    ) -> Result<(), String> {
        for _ in 0..max_pages {
            let page = self.logs("FilterLogEvents", input.clone()).await?;
            if !each(page["events"].as_array().cloned().unwrap_or_default()) {
                break;
            }
            match page["nextToken"].as_str() {
                Some(t) => input["nextToken"] = json!(t),
                None => break,
            }
        }
        Ok(())
    }
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// `2024-05-01T12:34:56.789Z` from epoch milliseconds.
fn iso(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// The status a line reports: an access line's `status`, or an execution
/// line's `Method completed with status: N`.
fn status_of(message: &str) -> Option<u16> {
    if let Some(rest) = message.split("Method completed with status: ").nth(1) {
        return rest.trim().parse().ok();
    }
    if let Ok(v) = serde_json::from_str::<Value>(message) {
        return v["status"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .or_else(|| v["status"].as_u64().map(|n| n as u16));
    }
    message
        .split_whitespace()
        .find_map(|w| w.parse::<u16>().ok().filter(|n| (100..600).contains(n)))
}

fn colour(message: &str, enabled: bool) -> String {
    if !enabled {
        return message.to_string();
    }
    let code = match status_of(message) {
        Some(s) if s >= 500 => "31",
        Some(s) if s >= 400 => "33",
        Some(_) => "32",
        None if message.contains("Execution failed")
            || message.contains("Gateway response type") =>
        {
            "31"
        }
        None => return message.to_string(),
    };
    format!("\x1b[{code}m{message}\x1b[0m")
}

/// The (execution group, access group) of the chosen API and stage.
async fn stage_groups(
    admin: &Admin,
    api: Option<&str>,
    stage: Option<&str>,
) -> Result<(String, Option<String>), String> {
    let health = admin.health().await?;
    let apis = health["apis"].as_array().cloned().unwrap_or_default();
    let chosen = match api {
        Some(a) => apis.iter().find(|x| x["id"] == a || x["name"] == a),
        None if apis.len() == 1 => apis.first(),
        None => return Err("several APIs are served: choose one with --api NAME".into()),
    }
    .ok_or_else(|| format!("no API named {}", api.unwrap_or("")))?;
    let stages = chosen["stages"].as_array().cloned().unwrap_or_default();
    let stage = match stage {
        Some(s) => stages.iter().find(|x| x["name"] == s),
        None if stages.len() == 1 => stages.first(),
        None => return Err("the API has several stages: choose one with --stage NAME".into()),
    }
    .ok_or_else(|| format!("no stage named {}", stage.unwrap_or("")))?;
    Ok((
        stage["executionLogGroup"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        stage["accessLogGroup"].as_str().map(String::from),
    ))
}

/// How far before the newest line printed `logs tail --follow` reads again,
/// for lines committed after later ones (milliseconds).
const FOLLOW_LOOK_BACK_MS: i64 = 5_000;

/// `gatewatch logs tail`.
pub fn tail(args: &TailArgs) -> ExitCode {
    let result = runtime().block_on(async {
        let admin = Admin::new(&args.endpoint.endpoint);
        let mut groups = Vec::new();
        if let Some(function) = &args.lambda {
            // The group appears with the function's first invocation.
            groups.push(("lambda", format!("/aws/lambda/{function}")));
        } else {
            let (execution, access) =
                stage_groups(&admin, args.api.as_deref(), args.stage.as_deref()).await?;
            if !args.access {
                groups.push(("execution", execution));
            }
            if !args.execution {
                match access {
                    Some(a) => groups.push(("access", a)),
                    None if args.access => return Err("the stage has no access log".to_string()),
                    None => {}
                }
            }
        }
        let tty = std::io::stdout().is_terminal();
        let since = gatewatch_store::now_ms() - args.since;
        let mut start = since;
        // Event ids already printed, with their timestamps (to forget them
        // once they fall out of the look-back window).
        let mut seen: std::collections::HashMap<String, i64> = Default::default();
        loop {
            // Each poll reads again from a little before the newest line
            // printed: logs are committed per writer batch (one writer per
            // data-plane thread), so a line can arrive after a later one.
            let from = since.max(start - FOLLOW_LOOK_BACK_MS);
            seen.retain(|_, ts| *ts >= from);
            let mut events = Vec::new();
            for (kind, group) in &groups {
                // A group appears with the first request that logs to it.
                match admin.filter_all(group, "", Some(from)).await {
                    Ok(found) => events.extend(found.into_iter().map(|e| (*kind, e))),
                    Err(e) if e.starts_with("ResourceNotFoundException") => {}
                    Err(e) => return Err(e),
                }
            }
            events.sort_by_key(|(_, e)| {
                (
                    e["timestamp"].as_i64().unwrap_or(0),
                    e["eventId"].as_str().unwrap_or("").to_string(),
                )
            });
            let mut out = std::io::stdout().lock();
            for (kind, e) in &events {
                let id = format!("{kind}{}", e["eventId"].as_str().unwrap_or(""));
                let ts = e["timestamp"].as_i64().unwrap_or(0);
                if seen.insert(id, ts).is_some() {
                    continue;
                }
                start = start.max(ts);
                let message = e["message"].as_str().unwrap_or("");
                let _ = writeln!(out, "{} {kind:<9} {}", iso(ts), colour(message, tty));
            }
            let _ = out.flush();
            if !args.follow {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    finish(result)
}

/// `gatewatch trace REQUEST_ID`.
pub fn trace(args: &TraceArgs) -> ExitCode {
    let id = args.request_id.trim();
    let result = runtime().block_on(async {
        if id.is_empty() || id.contains('"') {
            return Err(
                "give a request id, as in the x-amzn-RequestId response header".to_string(),
            );
        }
        let admin = Admin::new(&args.endpoint.endpoint);
        let groups = admin.logs("DescribeLogGroups", json!({})).await?;
        let mut lines = Vec::new();
        let names: Vec<String> = groups["logGroups"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|g| g["logGroupName"].as_str().map(String::from))
            .collect();
        let kind_of = |name: &str| {
            if name.starts_with("API-Gateway-Execution-Logs_") {
                "execution"
            } else if name.starts_with("/aws/lambda/") {
                "lambda"
            } else {
                "access"
            }
        };
        // The request's own lines carry its id; a Lambda function's lines
        // carry the Lambda request id, which the execution log names.
        for name in names.iter().filter(|n| kind_of(n) != "lambda") {
            for e in admin.filter_all(name, &format!("\"{id}\""), None).await? {
                lines.push((
                    e["timestamp"].as_i64().unwrap_or(0),
                    kind_of(name),
                    name.clone(),
                    e["message"].as_str().unwrap_or("").to_string(),
                ));
            }
        }
        let lambda_ids: Vec<String> = lines
            .iter()
            .filter(|l| l.1 == "execution")
            .filter_map(|l| {
                l.3.split("AWS Integration Endpoint RequestId : ")
                    .nth(1)
                    .or_else(|| l.3.split("Lambda request id: ").nth(1))
                    .map(|rest| rest.trim().trim_end_matches('.').to_string())
            })
            .collect();
        for lambda_id in lambda_ids.iter().collect::<std::collections::BTreeSet<_>>() {
            for name in names.iter().filter(|n| kind_of(n) == "lambda") {
                for e in invocation_lines(&admin, name, lambda_id).await? {
                    lines.push((
                        e["timestamp"].as_i64().unwrap_or(0),
                        "lambda",
                        name.clone(),
                        e["message"].as_str().unwrap_or("").to_string(),
                    ));
                }
            }
        }
        if lines.is_empty() {
            return Err(format!("no log lines mention request {id}"));
        }
        // Stable: lines of one timestamp keep their stored order (a Lambda
        // invocation's output between its START and END).
        lines.sort_by_key(|l| (l.0, l.1 == "access"));
        let tty = std::io::stdout().is_terminal();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "request {id}");
        for kind in ["access", "execution", "lambda"] {
            let mine: Vec<_> = lines.iter().filter(|l| l.1 == kind).collect();
            if mine.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\n{kind} ({})", mine[0].2);
            for (ts, _, _, message) in mine {
                let _ = writeln!(out, "  {} {}", iso(*ts), colour(message, tty));
            }
        }
        Ok(())
    });
    finish(result)
}

/// The lines of one Lambda invocation in its function's group: from its
/// `START RequestId: {id}` to its `REPORT RequestId: {id}`, in stored order,
/// so the function's own output (which does not name the request id) is
/// included. An invocation's lines are written together, one after another
/// in their stream; lines of another invocation are never between them.
async fn invocation_lines(admin: &Admin, group: &str, id: &str) -> Result<Vec<Value>, String> {
    let starts = admin
        .filter_all(group, &format!("\"START RequestId: {id}\""), None)
        .await?;
    let Some(start) = starts.first() else {
        // No START line (an invocation that never started): whatever
        // names the request.
        return admin.filter_all(group, &format!("\"{id}\""), None).await;
    };
    let from = start["timestamp"].as_i64().unwrap_or(0);
    let stream = start["logStreamName"].as_str().unwrap_or_default();
    let start_line = format!("START RequestId: {id}");
    let report_line = format!("REPORT RequestId: {id}");
    let input = json!({
        "logGroupName": group,
        "logStreamNames": [stream],
        "startTime": from,
    });
    let mut out = Vec::new();
    admin
        .filter_pages(input, 1_000, |events| {
            for e in events {
                let message = e["message"].as_str().unwrap_or("");
                if out.is_empty() && !message.starts_with(&start_line) {
                    continue;
                }
                let last = message.starts_with(&report_line);
                out.push(e);
                if last {
                    return false;
                }
            }
            true
        })
        .await?;
    Ok(out)
}

pub(crate) fn finish(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatewatch: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `gatewatch format preview`.
pub fn preview(args: &PreviewArgs) -> ExitCode {
    let format = gatewatch_logging::access::presets::by_name(&args.format).unwrap_or(&args.format);
    let template = match gatewatch_logging::AccessLogTemplate::compile(format) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let sample = sample_context();
    let line = template.render(&sample);
    println!("{line}");
    for warning in lint(format, &line) {
        eprintln!("warning: {warning}");
    }
    ExitCode::SUCCESS
}

/// Problems a format has that AWS accepts but users regret.
fn lint(format: &str, rendered: &str) -> Vec<String> {
    let mut warnings = Vec::new();
    let trimmed = format.trim_start();
    if trimmed.starts_with('{') {
        // In a JSON format every value should sit inside quotes: `-` for a
        // missing number, or a user agent with a quote, breaks the line.
        let mut in_string = false;
        let mut escaped = false;
        let chars: Vec<char> = format.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = !in_string;
            } else if c == '$' && !in_string {
                let name: String = chars[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '.' || **c == '_')
                    .collect();
                warnings.push(format!(
                    "${} is not inside quotes: when it has no value it prints `-`, which is not valid JSON",
                    name.trim_end_matches('.')
                ));
            }
            i += 1;
        }
        if serde_json::from_str::<Value>(rendered).is_err() {
            warnings.push("the sample line is not valid JSON".to_string());
        }
        for risky in [
            "identity.userAgent",
            "path",
            "error.message",
            "authorizer.error",
            "integration.error",
        ] {
            if format.contains(&format!("$context.{risky}\""))
                || format.contains(&format!("$context.{risky} "))
            {
                warnings.push(format!(
                    "$context.{risky} is client- or backend-controlled text: a value containing a double quote breaks the JSON (AWS does not escape it)"
                ));
            }
        }
    }
    warnings
}

/// A request as the preview renders it.
fn sample_context() -> gatewatch_gateway::context::RequestContext {
    use gatewatch_gateway::context::{Identity, IntegrationOutcome, RequestContext};
    RequestContext {
        account_id: "123456789012".into(),
        api_id: "a1b2c3d4e5".into(),
        request_id: "c7f2a1e4-4b6f-4d4a-9a57-2f1e3c9b8d10".into(),
        extended_request_id: "Vts2pH6ArPEFcuQ=".into(),
        request_time: Some(SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_067_180_123)),
        http_method: "GET".into(),
        path: "/dev/pets/42".into(),
        path_without_stage: "/pets/42".into(),
        resource_path: Some("/pets/{petId}".into()),
        resource_id: Some("x1y2z3w4v5".into()),
        method_key: Some("GET".into()),
        stage: "dev".into(),
        domain_name: "a1b2c3d4e5.execute-api.localhost:8080".into(),
        protocol: "HTTP/1.1".into(),
        status: Some(200),
        response_length: Some(44),
        response_latency_ms: Some(12),
        xray_trace_id: "1-5c755b5d-07b29b94e632d3da19d88789".into(),
        identity: Identity {
            source_ip: "203.0.113.7".into(),
            user_agent: Some("curl/8.5.0".into()),
            ..Identity::default()
        },
        integration: IntegrationOutcome {
            status: Some(200),
            latency_ms: Some(9),
            ..Default::default()
        },
        ..RequestContext::default()
    }
}
