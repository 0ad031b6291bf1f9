use std::time::{Duration, SystemTime};

use bytes::Bytes;
use gatewatch_gateway::context::{
    ErrorInfo, ExecutionEvent, ExecutionEventKind, FailureKind, IntegrationOutcome, RequestContext,
};
use gatewatch_model::{GatewayResponseType, LoggingLevel};

use super::*;

const T0: u64 = 1_698_414_057_744;

fn at(offset_ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(T0 + offset_ms)
}

fn ev(offset_ms: u64, kind: ExecutionEventKind) -> ExecutionEvent {
    ExecutionEvent {
        at: at(offset_ms),
        kind,
    }
}

fn pairs(items: &[(&str, &str)]) -> HeaderList {
    items.iter().copied().collect()
}

fn ctx(status: u16) -> RequestContext {
    RequestContext {
        account_id: "123456789012".into(),
        api_id: "h733q2j6gb".into(),
        request_id: "515f1e99-39db-11e9-9e96-01e5c04505b9".into(),
        extended_request_id: "Vts2pH6ArPEFcuQ=".into(),
        request_time: Some(at(0)),
        http_method: "GET".into(),
        path: "/dev/pets/42".into(),
        path_without_stage: "/pets/42".into(),
        resource_path: Some("/pets/{petId}".into()),
        resource_id: Some("abc123defg".into()),
        method_key: Some("GET".into()),
        stage: "dev".into(),
        status: Some(status),
        ..RequestContext::default()
    }
}

fn method_request() -> ExecutionEventKind {
    ExecutionEventKind::MethodRequest {
        path_parameters: pairs(&[("petId", "42")]),
        query: pairs(&[("type", "dog"), ("type", "cat")]),
        headers: pairs(&[
            ("Accept", "application/json, text/plain, */*"),
            (
                "Authorization",
                "Bearer eyJhbGciOiJIUzI1NiJ9.payload.signature123456",
            ),
            ("x-api-key", "abcdefghijklmnopqrstuvwxyz0123456789bMZHBg"),
            ("User-Agent", "curl/8.5.0"),
        ]),
        body: Bytes::new(),
    }
}

fn text(lines: &[Line]) -> String {
    lines
        .iter()
        .map(|l| format!("{} {}\n", l.timestamp - T0 as i64, l.message))
        .collect()
}

fn verbosity(level: LoggingLevel, data_trace: bool) -> Verbosity {
    Verbosity {
        level,
        data_trace,
        max_line_chars: None,
    }
}

fn mock_success() -> Vec<ExecutionEvent> {
    vec![
        ev(0, method_request()),
        ev(
            1,
            ExecutionEventKind::MethodResponse {
                status: 200,
                headers: pairs(&[("Content-Type", "application/json")]),
                body: Some(Bytes::from_static(b"{\"id\": \"42\"}")),
            },
        ),
        ev(1, ExecutionEventKind::Succeeded),
        ev(1, ExecutionEventKind::Completed { status: 200 }),
    ]
}

#[test]
fn mock_success_at_each_level() {
    let c = ctx(200);
    insta::assert_snapshot!(
        "mock_info_data_trace",
        text(&render(
            &c,
            &mock_success(),
            verbosity(LoggingLevel::Info, true)
        ))
    );
    insta::assert_snapshot!(
        "mock_info",
        text(&render(
            &c,
            &mock_success(),
            verbosity(LoggingLevel::Info, false)
        ))
    );
    assert!(
        render(&c, &mock_success(), verbosity(LoggingLevel::Error, true)).is_empty(),
        "no error lines on success"
    );
    assert!(render(&c, &mock_success(), verbosity(LoggingLevel::Off, true)).is_empty());
}

#[test]
fn http_proxy_success_with_data_trace() {
    let mut c = ctx(200);
    c.integration = IntegrationOutcome {
        status: Some(200),
        latency_ms: Some(12),
        ..Default::default()
    };
    let events = vec![
        ev(0, method_request()),
        ev(
            1,
            ExecutionEventKind::EndpointRequest {
                uri: "http://backend.internal:9000/pets/42?type=dog&type=cat".into(),
                headers: pairs(&[
                    ("Accept", "application/json"),
                    ("x-amzn-apigateway-api-id", "h733q2j6gb"),
                    (
                        "X-Amzn-Trace-Id",
                        "Root=1-5c755b5d-07b29b94e632d3da19d88789",
                    ),
                ]),
                body: Bytes::new(),
            },
        ),
        ev(
            13,
            ExecutionEventKind::EndpointResponse {
                status: 200,
                latency_ms: 12,
                headers: pairs(&[
                    ("Content-Type", "application/json"),
                    ("Set-Cookie", "a=1"),
                    ("Set-Cookie", "b=2"),
                ]),
                body: None,
            },
        ),
        ev(
            13,
            ExecutionEventKind::MethodResponse {
                status: 200,
                headers: pairs(&[("Content-Type", "application/json")]),
                body: None,
            },
        ),
        ev(13, ExecutionEventKind::Succeeded),
        ev(13, ExecutionEventKind::Completed { status: 200 }),
    ];
    insta::assert_snapshot!(text(&render(
        &c,
        &events,
        verbosity(LoggingLevel::Info, true)
    )));
}

fn timeout_events() -> (RequestContext, Vec<ExecutionEvent>) {
    let mut c = ctx(504);
    c.error = ErrorInfo {
        message: Some("Endpoint request timed out".into()),
        response_type: Some(GatewayResponseType::IntegrationTimeout),
        validation_error: None,
    };
    let events = vec![
        ev(0, method_request()),
        ev(
            1,
            ExecutionEventKind::EndpointRequest {
                uri: "http://backend.internal:9000/slow".into(),
                headers: HeaderList::new(),
                body: Bytes::new(),
            },
        ),
        ev(
            29_001,
            ExecutionEventKind::Failure {
                kind: FailureKind::Timeout,
                detail: String::new(),
            },
        ),
        ev(
            29_001,
            ExecutionEventKind::GatewayResponse {
                response_type: GatewayResponseType::IntegrationTimeout,
                status: 504,
                body: Bytes::from_static(b"{\"message\": \"Endpoint request timed out\"}"),
                headers: pairs(&[
                    ("content-type", "application/json"),
                    ("x-amzn-errortype", "InternalServerErrorException"),
                ]),
            },
        ),
        ev(29_001, ExecutionEventKind::Completed { status: 504 }),
    ];
    (c, events)
}

#[test]
fn integration_timeout_at_error_and_info() {
    let (c, events) = timeout_events();
    insta::assert_snapshot!(
        "timeout_error",
        text(&render(&c, &events, verbosity(LoggingLevel::Error, false)))
    );
    insta::assert_snapshot!(
        "timeout_info_data_trace",
        text(&render(&c, &events, verbosity(LoggingLevel::Info, true)))
    );
}

#[test]
fn early_reject_writes_its_error_lines() {
    let mut c = ctx(403);
    c.resource_path = None;
    c.method_key = None;
    c.error.response_type = Some(GatewayResponseType::MissingAuthenticationToken);
    let events = vec![
        ev(
            0,
            ExecutionEventKind::GatewayResponse {
                response_type: GatewayResponseType::MissingAuthenticationToken,
                status: 403,
                body: Bytes::from_static(b"{\"message\":\"Missing Authentication Token\"}"),
                headers: HeaderList::new(),
            },
        ),
        ev(0, ExecutionEventKind::Completed { status: 403 }),
    ];
    insta::assert_snapshot!(text(&render(
        &c,
        &events,
        verbosity(LoggingLevel::Error, false)
    )));
}

#[test]
fn long_lines_are_cut_like_aws() {
    let mut events = mock_success();
    events[0] = ev(
        0,
        ExecutionEventKind::MethodRequest {
            path_parameters: HeaderList::new(),
            query: HeaderList::new(),
            headers: HeaderList::new(),
            body: Bytes::from("é".repeat(2000)),
        },
    );
    let lines = render(&ctx(200), &events, verbosity(LoggingLevel::Info, true));
    let body = lines
        .iter()
        .find(|l| l.message.contains("Method request body"))
        .unwrap();
    let after_prefix = body.message.split_once(") ").unwrap().1;
    assert_eq!(after_prefix.chars().count(), 1024 + " [TRUNCATED]".len());
    assert!(after_prefix.ends_with("é [TRUNCATED]"));
    // The 39-character prefix + 1024 + 12, as measured in real logs.
    assert_eq!(body.message.chars().count(), 39 + 1024 + 12);
    // Lifting the cut keeps the whole line.
    let full = render(
        &ctx(200),
        &events,
        Verbosity {
            level: LoggingLevel::Info,
            data_trace: true,
            max_line_chars: Some(100_000),
        },
    );
    assert!(full.iter().any(|l| l.message.ends_with(&"é".repeat(10))));
}

#[test]
fn masking_keeps_the_last_six_characters() {
    assert_eq!(
        mask("abcdefghijklmnopqrstuvwxyz01234567bMZHBg"),
        format!("{}bMZHBg", "*".repeat(34))
    );
    assert_eq!(mask("short"), "*****");
    assert_eq!(
        map_text(&pairs(&[("A", "1"), ("a", "2"), ("B", "3")]), false),
        "{A=1,2, B=3}"
    );
    assert_eq!(map_text(&HeaderList::new(), false), "{}");
}

#[test]
fn masking_counts_characters_and_covers_every_repeated_secret() {
    assert_eq!(mask("ééé"), "***");
    assert_eq!(mask("ééé1234567"), "****234567");
    assert_eq!(mask("abcdef"), "******");
    assert_eq!(mask("abcdefg"), "*bcdefg");
    assert_eq!(
        map_text(
            &pairs(&[
                ("Authorization", "Bearer 1234567890"),
                ("Host", "example.com"),
                ("authorization", "second-abcdef"),
                ("X-API-Key", "k123456"),
            ]),
            true
        ),
        "{Authorization=***********567890,*******abcdef, Host=example.com, X-API-Key=*123456}"
    );
    // Without masking, secrets are shown as sent (the response maps).
    assert_eq!(
        map_text(&pairs(&[("Authorization", "Bearer 1234567890")]), false),
        "{Authorization=Bearer 1234567890}"
    );
}

#[test]
fn maps_group_repeats_however_long_the_list() {
    // Past the names kept at hand: a repeat of the first name near the end
    // still joins its values under the first spelling.
    let names: Vec<String> = (0..20).map(|i| format!("h{i}")).collect();
    let mut items: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
    items.push(("H0", "w"));
    let text = map_text(&pairs(&items), false);
    assert!(text.starts_with("{h0=v,w, h1=v, "), "{text}");
    assert!(text.ends_with(", h19=v}"), "{text}");
    assert_eq!(text.matches("h0=").count() + text.matches("H0=").count(), 1);
    // A list without repeats keeps its order and spelling.
    assert_eq!(
        map_text(&pairs(&[("B", "2"), ("a", "1"), ("C", "3")]), false),
        "{B=2, a=1, C=3}"
    );
}
