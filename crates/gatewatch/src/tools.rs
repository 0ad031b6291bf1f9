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

    /// Every event of `group` matching `pattern` from `start` and before
    /// `end` (ms, either unbounded when `None`), following tokens.
    async fn filter_all(
        &self,
        group: &str,
        pattern: &str,
        start: Option<i64>,
        end: Option<i64>,
    ) -> Result<Vec<Value>, String> {
        let mut input = json!({ "logGroupName": group, "filterPattern": pattern });
        if let Some(start) = start {
            input["startTime"] = json!(start);
        }
        if let Some(end) = end {
            input["endTime"] = json!(end);
        }
        let mut out = Vec::new();
        self.filter_pages(input, 10_000, |events| {
            out.extend(events);
            true
        })
        .await?;
        Ok(out)
    }

    /// The names of every log group, following DescribeLogGroups' pages
    /// (50 groups each), at most [`MAX_GROUP_PAGES`] of them.
    async fn group_names(&self) -> Result<Vec<String>, String> {
        let mut names = Vec::new();
        let mut input = json!({});
        for _ in 0..MAX_GROUP_PAGES {
            let page = self.logs("DescribeLogGroups", input.clone()).await?;
            names.extend(
                page["logGroups"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|g| g["logGroupName"].as_str().map(String::from)),
            );
            match page["nextToken"].as_str() {
                Some(t) => input["nextToken"] = json!(t),
                None => break,
            }
        }
        Ok(names)
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

/// Most DescribeLogGroups pages `trace` reads (50 groups each).
const MAX_GROUP_PAGES: usize = 1_000;

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

/// A multi-line event (a stack trace) with its later lines indented by
/// `width`, under the first line's text rather than at the margin.
fn hang(text: &str, width: usize) -> String {
    if !text.contains('\n') {
        return text.to_string();
    }
    text.replace('\n', &format!("\n{}", " ".repeat(width)))
}

fn colour(message: &str, enabled: bool) -> String {
    // Lambda's lines end in a newline, as on AWS; the line printed for
    // them supplies its own.
    let message = message.strip_suffix('\n').unwrap_or(message);
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
                match admin.filter_all(group, "", Some(from), None).await {
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
                // The timestamp (24), the kind (9) and two spaces.
                let text = hang(&colour(message, tty), 35);
                let _ = writeln!(out, "{} {kind:<9} {text}", iso(ts));
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

/// A line of a traced request: timestamp, kind (`access`, `execution` or
/// `lambda`), group and message.
type TracedLine = (i64, &'static str, String, String);

/// Which kind of log a group holds, by its name.
fn kind_of(group: &str) -> &'static str {
    if group.starts_with("API-Gateway-Execution-Logs_") {
        "execution"
    } else if group.starts_with("/aws/lambda/") {
        "lambda"
    } else {
        "access"
    }
}

/// Where `trace` looks, around the arrival time a request id made by
/// Gatewatch carries (see `gatewatch_gateway::context::arrival_ms_of`):
/// from this long before it to this long after it, wider each time the
/// request's last line was not found; then the whole history, which is
/// also where it looks for ids that carry no time (a client's own
/// `x-amzn-RequestId`, ids of older stores). Lines are stamped by the
/// clock that stamped the id, at or after arrival, so the margin before is
/// small. Most requests finish within the first window, whose fraction of
/// a second of history is quick to search even after heavy traffic (and
/// lets a read of old events decode a few row groups of a segment rather
/// than all of it); the integration's 29 s timeout ends the rest but for
/// Lambda functions, which the third covers up to their 15-minute limit.
const TRACE_WINDOWS_MS: [(i64, i64); 3] = [(50, 250), (1_000, 35_000), (1_000, 16 * 60_000)];

/// Margin around the span of a request's own lines within which `trace`
/// looks for its function's lines.
const TRACE_LAMBDA_MARGIN_MS: i64 = 1_000;

/// Earliest arrival time taken from an id as a hint (2015-01-01); a UUID
/// made elsewhere decodes to an arbitrary instant, usually far outside
/// `[TRACE_EARLIEST_MS, now + 1 day]`.
const TRACE_EARLIEST_MS: i64 = 1_420_070_400_000;

/// The time windows (`None` for the whole history) `trace` searches for
/// request `id`, in order, at `now_ms`.
fn trace_windows(id: &str, now_ms: i64) -> Vec<Option<(i64, i64)>> {
    let hint = gatewatch_gateway::context::arrival_ms_of(id)
        .filter(|&t| (TRACE_EARLIEST_MS..=now_ms + 86_400_000).contains(&t));
    let mut windows: Vec<Option<(i64, i64)>> = match hint {
        Some(t) => TRACE_WINDOWS_MS
            .iter()
            .map(|(before, after)| Some((t - before, t + after)))
            .collect(),
        None => Vec::new(),
    };
    windows.push(None);
    windows
}

/// Whether the lines found for a request include its last one: its access
/// line (written when the response completed) or the execution log's
/// closing `Method completed with status` line.
fn request_finished(lines: &[TracedLine]) -> bool {
    lines.iter().any(|l| {
        l.1 == "access" || (l.1 == "execution" && l.3.contains(") Method completed with status: "))
    })
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
        let names = admin.group_names().await?;
        // The request's own lines carry its id; a Lambda function's lines
        // carry the Lambda request id, which the execution log names.
        let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
        let mut lines: Vec<TracedLine> = Vec::new();
        for window in trace_windows(id, now_ms) {
            lines.clear();
            for name in names.iter().filter(|n| kind_of(n) != "lambda") {
                for e in admin
                    .filter_all(
                        name,
                        &format!("\"{id}\""),
                        window.map(|w| w.0),
                        window.map(|w| w.1),
                    )
                    .await?
                {
                    lines.push((
                        e["timestamp"].as_i64().unwrap_or(0),
                        kind_of(name),
                        name.clone(),
                        e["message"].as_str().unwrap_or("").to_string(),
                    ));
                }
            }
            if request_finished(&lines) {
                break;
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
        // A function's lines were written while the request was in flight:
        // between its first and last line, give or take the same second.
        let span = lines
            .iter()
            .map(|l| l.0)
            .min()
            .zip(lines.iter().map(|l| l.0).max())
            .map(|(first, last)| {
                (
                    first - TRACE_LAMBDA_MARGIN_MS,
                    last + TRACE_LAMBDA_MARGIN_MS,
                )
            });
        for lambda_id in lambda_ids.iter().collect::<std::collections::BTreeSet<_>>() {
            for name in names.iter().filter(|n| kind_of(n) == "lambda") {
                for e in invocation_lines(&admin, name, lambda_id, span).await? {
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
                // Two spaces, the timestamp (24) and a space.
                let text = hang(&colour(message, tty), 27);
                let _ = writeln!(out, "  {} {text}", iso(*ts));
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
/// Its START line is looked for within `span` (start and end, ms) when
/// given, else in the whole group.
async fn invocation_lines(
    admin: &Admin,
    group: &str,
    id: &str,
    span: Option<(i64, i64)>,
) -> Result<Vec<Value>, String> {
    let starts = admin
        .filter_all(
            group,
            &format!("\"START RequestId: {id}\""),
            span.map(|s| s.0),
            span.map(|s| s.1),
        )
        .await?;
    let Some(start) = starts.first() else {
        // No START line (an invocation that never started): whatever
        // names the request.
        return admin
            .filter_all(
                group,
                &format!("\"{id}\""),
                span.map(|s| s.0),
                span.map(|s| s.1),
            )
            .await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_events_hang_under_their_first_line() {
        let event =
            "[ERROR] RuntimeError: no\nTraceback (most recent call last):\n  File \"x.py\"\n";
        assert_eq!(
            hang(&colour(event, false), 4),
            "[ERROR] RuntimeError: no\n    Traceback (most recent call last):\n      File \"x.py\""
        );
        assert_eq!(hang("one line", 4), "one line");
    }

    #[test]
    fn trace_looks_around_an_ids_arrival_first_then_everywhere() {
        let arrival = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_892_800_123);
        let ids = gatewatch_gateway::context::RequestIds::new(arrival, None, None);
        let now = 1_764_892_900_000;
        let t = 1_764_892_800_123;
        assert_eq!(
            trace_windows(&ids.request_id, now),
            vec![
                Some((t - 50, t + 250)),
                Some((t - 1_000, t + 35_000)),
                Some((t - 1_000, t + 16 * 60_000)),
                None,
            ]
        );
        // No time to start from: the whole history at once.
        for id in ["515f1e99-39db-11e9-9e96-01e5c04505b9", "nope"] {
            assert_eq!(trace_windows(id, now), vec![None], "{id}");
        }
        // An instant after tomorrow is no hint either.
        assert_eq!(
            trace_windows(&ids.request_id, t - 2 * 86_400_000),
            vec![None]
        );
    }

    #[test]
    fn a_request_is_finished_by_its_access_line_or_its_closing_execution_line() {
        let line = |kind: &'static str, message: &str| -> TracedLine {
            (0, kind, "g".to_string(), message.to_string())
        };
        assert!(!request_finished(&[]));
        assert!(!request_finished(&[line(
            "execution",
            "(x) Starting execution for request: x"
        )]));
        assert!(request_finished(&[line("access", "{}")]));
        assert!(request_finished(&[line(
            "execution",
            "(x) Method completed with status: 200"
        )]));
        // A function's line that happens to say so does not count.
        assert!(!request_finished(&[line(
            "lambda",
            "(x) Method completed with status: 200"
        )]));
    }
}
