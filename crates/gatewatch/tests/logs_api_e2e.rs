//! End-to-end: the official AWS SDK for Rust (`aws-sdk-cloudwatchlogs`)
//! against the real `gatewatch` binary's CloudWatch Logs API.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::types::{InputLogEvent, OrderBy};
use aws_sdk_cloudwatchlogs::Client;
use common::Gatewatch;

fn client(gw: &Gatewatch, region: &str) -> Client {
    common::logs_client(gw, region)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn event(ts: i64, message: &str) -> InputLogEvent {
    InputLogEvent::builder()
        .timestamp(ts)
        .message(message)
        .build()
        .unwrap()
}

/// The service error's type name, e.g. `ResourceNotFoundException`.
fn error_code<E: aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn sdk_groups_streams_events_and_errors() {
    let gw = Gatewatch::start(&["-q"]);
    let logs = client(&gw, "eu-west-1");

    logs.create_log_group()
        .log_group_name("app")
        .send()
        .await
        .unwrap();
    let dup = logs
        .create_log_group()
        .log_group_name("app")
        .send()
        .await
        .unwrap_err();
    let dup = dup.into_service_error();
    assert!(dup.is_resource_already_exists_exception(), "{dup:?}");
    assert_eq!(
        dup.meta().message(),
        Some("The specified log group already exists")
    );
    let bad = logs
        .create_log_group()
        .log_group_name("bad name")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(error_code(&bad), "InvalidParameterException");

    logs.create_log_stream()
        .log_group_name("app")
        .log_stream_name("web-1")
        .send()
        .await
        .unwrap();
    logs.create_log_stream()
        .log_group_name("app")
        .log_stream_name("web-2")
        .send()
        .await
        .unwrap();
    let missing = logs
        .create_log_stream()
        .log_group_name("nope")
        .log_stream_name("x")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(missing.is_resource_not_found_exception());

    let now = now_ms();
    let put = logs
        .put_log_events()
        .log_group_name("app")
        .log_stream_name("web-1")
        .log_events(event(now - 15 * 86_400_000, "too old"))
        .log_events(event(now - 3, r#"{"status":"200","path":"/pets"}"#))
        .log_events(event(now - 2, r#"{"status":"504","path":"/slow"}"#))
        .log_events(event(now - 1, "plain ERROR line"))
        .send()
        .await
        .unwrap();
    assert!(put.next_sequence_token().is_some());
    assert_eq!(
        put.rejected_log_events_info()
            .unwrap()
            .too_old_log_event_end_index(),
        Some(1)
    );
    logs.put_log_events()
        .log_group_name("app")
        .log_stream_name("web-2")
        .log_events(event(now - 2, r#"{"status":"503","path":"/other"}"#))
        .send()
        .await
        .unwrap();
    let unordered = logs
        .put_log_events()
        .log_group_name("app")
        .log_stream_name("web-1")
        .log_events(event(now, "b"))
        .log_events(event(now - 10, "a"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        unordered.meta().message(),
        Some("Log events in a single PutLogEvents request must be in chronological order.")
    );

    // GetLogEvents from the head, one event a page, until the token repeats.
    let mut token: Option<String> = None;
    let mut seen = Vec::new();
    for _ in 0..10 {
        let page = logs
            .get_log_events()
            .log_group_name("app")
            .log_stream_name("web-1")
            .start_from_head(true)
            .limit(1)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        seen.extend(
            page.events()
                .iter()
                .map(|e| e.message().unwrap().to_string()),
        );
        let next = page.next_forward_token().unwrap().to_string();
        if token.as_deref() == Some(next.as_str()) {
            break;
        }
        token = Some(next);
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[2], "plain ERROR line");

    // FilterLogEvents across streams with a JSON pattern, through the paginator.
    let matched: Vec<String> = logs
        .filter_log_events()
        .log_group_name("app")
        .filter_pattern("{ $.status = 5* }")
        .limit(1)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .iter()
        .flat_map(|page| page.events())
        .map(|e| format!("{} {}", e.log_stream_name().unwrap(), e.message().unwrap()))
        .collect();
    assert_eq!(
        matched,
        [
            r#"web-1 {"status":"504","path":"/slow"}"#,
            r#"web-2 {"status":"503","path":"/other"}"#
        ]
    );
    let terms = logs
        .filter_log_events()
        .log_group_name("app")
        .filter_pattern("ERROR")
        .send()
        .await
        .unwrap();
    assert_eq!(terms.events().len(), 1);
    let bad_pattern = logs
        .filter_log_events()
        .log_group_name("app")
        .filter_pattern("{ $.status = ")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(error_code(&bad_pattern), "InvalidParameterException");

    let streams = logs
        .describe_log_streams()
        .log_group_name("app")
        .order_by(OrderBy::LastEventTime)
        .descending(true)
        .send()
        .await
        .unwrap();
    let names: Vec<_> = streams
        .log_streams()
        .iter()
        .map(|s| s.log_stream_name().unwrap())
        .collect();
    assert_eq!(names, ["web-1", "web-2"]);
    assert_eq!(
        streams.log_streams()[0].last_event_timestamp(),
        Some(now - 1)
    );

    logs.put_retention_policy()
        .log_group_name("app")
        .retention_in_days(7)
        .send()
        .await
        .unwrap();
    let invalid = logs
        .put_retention_policy()
        .log_group_name("app")
        .retention_in_days(2)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(error_code(&invalid), "InvalidParameterException");
    let groups = logs
        .describe_log_groups()
        .log_group_name_prefix("ap")
        .send()
        .await
        .unwrap();
    let group = &groups.log_groups()[0];
    assert_eq!(group.retention_in_days(), Some(7));
    assert_eq!(
        group.arn(),
        Some("arn:aws:logs:eu-west-1:000000000000:log-group:app:*")
    );

    // Regions are separate namespaces.
    let other = client(&gw, "us-west-2");
    assert!(other
        .describe_log_groups()
        .send()
        .await
        .unwrap()
        .log_groups()
        .is_empty());

    let arn = group.log_group_arn().unwrap();
    logs.tag_resource()
        .resource_arn(arn)
        .tags("team", "api")
        .send()
        .await
        .unwrap();
    let tags = logs
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags.tags().unwrap().get("team").map(String::as_str),
        Some("api")
    );

    logs.delete_log_group()
        .log_group_name("app")
        .send()
        .await
        .unwrap();
    let gone = logs
        .get_log_events()
        .log_group_name("app")
        .log_stream_name("web-1")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(gone.is_resource_not_found_exception());
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_events_survive_sigkill() {
    let dir = common::temp_dir("crash");
    let mut acknowledged = Vec::new();
    {
        let mut gw = Gatewatch::start_in(&dir, &["-q"]);
        let logs = client(&gw, "us-east-1");
        logs.create_log_group()
            .log_group_name("crash")
            .send()
            .await
            .unwrap();
        logs.create_log_stream()
            .log_group_name("crash")
            .log_stream_name("s")
            .send()
            .await
            .unwrap();
        let now = now_ms();
        for batch in 0..20 {
            let mut put = logs
                .put_log_events()
                .log_group_name("crash")
                .log_stream_name("s");
            for i in 0..100 {
                let message = format!("batch {batch:02} event {i:03}");
                put = put.log_events(event(now - 1000 + batch, &message));
                acknowledged.push(message);
            }
            put.send().await.unwrap();
        }
        // Killed right after the last acknowledgement: no shutdown, no flush.
        gw.kill_hard();
    }
    let gw = Gatewatch::start_in(&dir, &["-q"]);
    let logs = client(&gw, "us-east-1");
    let mut read = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = logs
            .get_log_events()
            .log_group_name("crash")
            .log_stream_name("s")
            .start_from_head(true)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        read.extend(
            page.events()
                .iter()
                .map(|e| e.message().unwrap().to_string()),
        );
        let next = page.next_forward_token().unwrap().to_string();
        if token.as_deref() == Some(next.as_str()) {
            break;
        }
        token = Some(next);
    }
    assert_eq!(read, acknowledged, "every acknowledged event, in order");
    drop(gw);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The calls `aws logs tail --follow` makes (aws-cli v2's tail.py):
/// FilterLogEvents with `interleaved` and an inclusive `startTime`, then the
/// same call from the newest timestamp seen, de-duplicated by eventId.
#[tokio::test(flavor = "multi_thread")]
#[allow(deprecated)] // `interleaved` is deprecated, but the CLI still sends it.
async fn tail_follow_sees_each_event_once() {
    let gw = Gatewatch::start(&["-q"]);
    let logs = client(&gw, "us-east-1");
    logs.create_log_group()
        .log_group_name("tail")
        .send()
        .await
        .unwrap();
    logs.create_log_stream()
        .log_group_name("tail")
        .log_stream_name("s")
        .send()
        .await
        .unwrap();
    let now = now_ms();
    logs.put_log_events()
        .log_group_name("tail")
        .log_stream_name("s")
        .log_events(event(now - 2, "one"))
        .log_events(event(now - 1, "two"))
        .send()
        .await
        .unwrap();

    let mut seen: std::collections::HashMap<i64, std::collections::HashSet<String>> =
        Default::default();
    let mut printed = Vec::new();
    let mut start = now - 600_000;
    for round in 0..2 {
        let page = logs
            .filter_log_events()
            .log_group_name("tail")
            .interleaved(true)
            .start_time(start)
            .send()
            .await
            .unwrap();
        assert!(page.next_token().is_none(), "no token at the end");
        for e in page.events() {
            let ts = e.timestamp().unwrap();
            if seen
                .entry(ts)
                .or_default()
                .insert(e.event_id().unwrap().to_string())
            {
                printed.push(e.message().unwrap().to_string());
            }
            start = start.max(ts);
        }
        if round == 0 {
            logs.put_log_events()
                .log_group_name("tail")
                .log_stream_name("s")
                .log_events(event(now - 1, "three, same millisecond as two"))
                .log_events(event(now, "four"))
                .send()
                .await
                .unwrap();
        }
    }
    assert_eq!(
        printed,
        ["one", "two", "three, same millisecond as two", "four"]
    );
}
