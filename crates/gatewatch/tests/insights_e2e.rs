//! End-to-end: Logs Insights through the official AWS SDK for Rust and the
//! `gatewatch query` / `gatewatch export` commands, against the real binary
//! serving real requests.

mod common;

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::operation::get_query_results::GetQueryResultsOutput;
use aws_sdk_cloudwatchlogs::types::{InputLogEvent, QueryStatus};
use aws_sdk_cloudwatchlogs::Client;
use common::Gatewatch;

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn wait(logs: &Client, id: &str) -> GetQueryResultsOutput {
    for _ in 0..400 {
        let r = logs.get_query_results().query_id(id).send().await.unwrap();
        match r.status() {
            Some(QueryStatus::Complete) | Some(QueryStatus::Failed) => return r,
            _ => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
    panic!("query {id} did not finish in 10 s");
}

/// Starts a query over the last hour; returns its id.
async fn start(logs: &Client, group: &str, query: &str) -> String {
    logs.start_query()
        .log_group_name(group)
        .start_time(now_s() - 3600)
        .end_time(now_s())
        .query_string(query)
        .send()
        .await
        .unwrap()
        .query_id()
        .unwrap()
        .to_string()
}

/// Rows as `field=value` strings, `@ptr` left out.
fn rows(r: &GetQueryResultsOutput) -> Vec<String> {
    r.results()
        .iter()
        .map(|row| {
            row.iter()
                .filter(|f| f.field() != Some("@ptr"))
                .map(|f| format!("{}={}", f.field().unwrap_or(""), f.value().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn insights_over_real_access_logs() {
    let gw = Gatewatch::start(&["-q"]);
    // Real traffic: 6 hits on /pets, 2 on a missing route.
    for _ in 0..6 {
        assert_eq!(common::get(gw.data, "/dev/pets").status, 200);
    }
    for _ in 0..2 {
        assert_eq!(common::get(gw.data, "/dev/nope").status, 403);
    }
    let logs = common::logs_client(&gw, "us-east-1");
    let group = "/gatewatch/access/example";
    // Access lines are written when each response completes, off the
    // request path: wait until all eight are stored.
    let mut stored = 0;
    for _ in 0..200 {
        // The group is created by the first write, which may not have
        // happened yet: "does not exist" means "keep waiting".
        stored = match logs.filter_log_events().log_group_name(group).send().await {
            Ok(page) => page.events().len(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                0
            }
            Err(e) => panic!("FilterLogEvents failed: {e:?}"),
        };
        if stored == 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(stored, 8);

    let (start, end) = (now_s() - 600, now_s() + 60);
    let id = logs
        .start_query()
        .log_group_name(group)
        .start_time(start)
        .end_time(end)
        .query_string("stats count(*) as n by status | sort status")
        .send()
        .await
        .unwrap()
        .query_id()
        .unwrap()
        .to_string();
    let r = wait(&logs, &id).await;
    assert_eq!(r.status(), Some(&QueryStatus::Complete));
    assert_eq!(rows(&r), ["status=200 n=6", "status=403 n=2"]);
    let stats = r.statistics().unwrap();
    assert_eq!(stats.records_matched(), 8.0);
    assert_eq!(stats.records_scanned(), 8.0);
    assert!(stats.bytes_scanned() > 8.0 * 100.0);

    // Events carry @ptr, which GetLogRecord resolves.
    let id = logs
        .start_query()
        .log_group_names(group)
        .start_time(start)
        .end_time(end)
        .query_string("filter status = 403 | fields @timestamp, status, resourcePath | limit 1")
        .send()
        .await
        .unwrap()
        .query_id()
        .unwrap()
        .to_string();
    let r = wait(&logs, &id).await;
    let row = &r.results()[0];
    let fields: Vec<&str> = row.iter().filter_map(|f| f.field()).collect();
    assert_eq!(fields, ["@timestamp", "status", "resourcePath", "@ptr"]);
    let ptr = row
        .iter()
        .find(|f| f.field() == Some("@ptr"))
        .and_then(|f| f.value())
        .unwrap();
    let record = logs
        .get_log_record()
        .log_record_pointer(ptr)
        .send()
        .await
        .unwrap();
    let record = record.log_record().unwrap();
    assert_eq!(record.get("status").map(String::as_str), Some("403"));
    assert!(record["@message"].contains("\"status\":\"403\""));
    assert_eq!(record["@log"], format!("000000000000:{group}"));

    // SOURCE picks the groups inside the query.
    let id = logs
        .start_query()
        .start_time(start)
        .end_time(end)
        .query_string("SOURCE logGroups(namePrefix: ['/gatewatch/access/']) | stats count(*) as n")
        .send()
        .await
        .unwrap()
        .query_id()
        .unwrap()
        .to_string();
    assert_eq!(rows(&wait(&logs, &id).await), ["n=8"]);

    // DescribeQueries lists them, newest first; StopQuery on a finished one.
    let described = logs.describe_queries().send().await.unwrap();
    let q = &described.queries()[0];
    assert_eq!(q.query_id(), Some(id.as_str()));
    assert_eq!(q.status(), Some(&QueryStatus::Complete));
    assert_eq!(described.queries().len(), 3);
    let stopped = logs.stop_query().query_id(&id).send().await.unwrap();
    assert!(!stopped.success());

    // Errors, in AWS's shapes.
    let e = logs
        .start_query()
        .log_group_name(group)
        .start_time(start)
        .end_time(end)
        .query_string("stats count(*) | frob")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_malformed_query_exception(), "{e:?}");
    assert_eq!(
        aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata::message(&e),
        Some("Unknown command 'frob' at line 1, column 18")
    );
    let e = logs
        .start_query()
        .log_group_name("/no/such/group")
        .start_time(start)
        .end_time(end)
        .query_string("stats count(*)")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    let e = logs
        .start_query()
        .start_time(start)
        .end_time(end)
        .query_string("stats count(*)")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_invalid_parameter_exception(), "{e:?}");
    let e = logs
        .get_query_results()
        .query_id("00000000-0000-4000-8000-000000000000")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");

    // The CLI gives the same answer, readably, and as CSV.
    let endpoint = format!("http://{}", gw.admin);
    let stdout = common::cli_ok(&[
        "query",
        "stats count(*) as n by status | sort status",
        "--group",
        group,
        "--since",
        "1h",
        "--endpoint",
        &endpoint,
    ]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "status │ n");
    assert_eq!(lines[2], "200    │ 6");
    assert_eq!(lines[3], "403    │ 2");
    assert!(lines[5].starts_with("2 rows in "), "{stdout}");
    assert!(lines[5].contains("8 records matched"), "{stdout}");
    let out = Command::new(common::binary())
        .args([
            "query",
            "filter status = 200 | stats count(*) as n",
            "-g",
            group,
        ])
        .args(["--format", "csv", "--endpoint", &endpoint])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "n\n6\n");
    let out = Command::new(common::binary())
        .args([
            "query",
            "stats count(*) | limit",
            "-g",
            group,
            "--endpoint",
            &endpoint,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("MalformedQueryException"));

    // Export for DuckDB/pandas users.
    let dir = common::temp_dir("export");
    let nd = dir.join("access.ndjson");
    let out = Command::new(common::binary())
        .args(["export", "--group", group, "--format", "ndjson"])
        .arg(&nd)
        .args(["--endpoint", &endpoint])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&nd).unwrap();
    assert_eq!(text.lines().count(), 8);
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert!(first["@timestamp"].is_i64());
    assert!(first["status"].is_string());
    let pq = dir.join("access.parquet");
    let out = Command::new(common::binary())
        .args(["export", "--group", group, "--format", "parquet"])
        .arg(&pq)
        .args(["--endpoint", &endpoint])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&pq).unwrap();
    assert_eq!(&bytes[..4], b"PAR1");
    assert_eq!(&bytes[bytes.len() - 4..], b"PAR1");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn insights_aggregates_many_events() {
    let gw = Gatewatch::start(&["-q"]);
    let logs = common::logs_client(&gw, "us-east-1");
    logs.create_log_group()
        .log_group_name("/bulk")
        .send()
        .await
        .unwrap();
    logs.create_log_stream()
        .log_group_name("/bulk")
        .log_stream_name("s")
        .send()
        .await
        .unwrap();
    let base = (now_s() - 300) * 1000;
    for batch in 0..5 {
        let events: Vec<InputLogEvent> = (0..2000)
            .map(|i| {
                let n = batch * 2000 + i;
                InputLogEvent::builder()
                    .timestamp(base + n)
                    .message(format!(
                        "{{\"n\":{n},\"kind\":\"{}\"}}",
                        if n % 4 == 0 { "a" } else { "b" }
                    ))
                    .build()
                    .unwrap()
            })
            .collect();
        logs.put_log_events()
            .log_group_name("/bulk")
            .log_stream_name("s")
            .set_log_events(Some(events))
            .send()
            .await
            .unwrap();
    }
    let id = start(
        &logs,
        "/bulk",
        "stats count(*) as c, sum(n) as total, max(n) as top by kind | sort kind",
    )
    .await;
    let r = wait(&logs, &id).await;
    assert_eq!(
        rows(&r),
        [
            "kind=a c=2500 total=12495000 top=9996",
            "kind=b c=7500 total=37500000 top=9999"
        ]
    );
    // The default result cap and the request's limit.
    let id = logs
        .start_query()
        .log_group_name("/bulk")
        .start_time(now_s() - 3600)
        .end_time(now_s())
        .query_string("fields n")
        .limit(7)
        .send()
        .await
        .unwrap()
        .query_id()
        .unwrap()
        .to_string();
    let r = wait(&logs, &id).await;
    assert_eq!(r.results().len(), 7);
    // Newest first by default.
    assert_eq!(rows(&r)[0], "n=9999");
}
