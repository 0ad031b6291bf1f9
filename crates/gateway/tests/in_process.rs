//! The data plane served in-process on a loopback port with small limits,
//! driven by a real HTTP client: the records it emits, and the refusals that
//! protect it (connection limit, endless bodies).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gatewatch_gateway::context::{ExecutionEventKind, RequestRecord};
use gatewatch_gateway::{ChannelSink, DeployedApi, Deployments, Gateway, Limits, ServerConfig};
use gatewatch_model::import::{import_document, ImportOptions};
use gatewatch_model::Stage;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::Receiver;

const API: &str = r#"
openapi: 3.0.1
info: { title: in-process, version: "1" }
paths:
  /items/{id}:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: { application/json: '{"statusCode": 200}' }
        responses:
          default:
            statusCode: "200"
            responseTemplates: { application/json: '{"id": "$input.params(''id'')"}' }
  /upload:
    post:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: { application/json: '{"statusCode": 202}' }
        responses: { default: { statusCode: "202" } }
  /broken:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: { application/json: '{"statusCode": 200}' }
        responses: { default: { statusCode: "500" } }
  /unparsable:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: { application/json: 'not json' }
        responses: { default: { statusCode: "200" } }
"#;

struct Running {
    addr: SocketAddr,
    records: Receiver<RequestRecord>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

/// The tests' HTTP client.
type TestClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// `GET uri` without a body: the response, its body still to be read.
async fn get(client: &TestClient, uri: String) -> http::Response<hyper::body::Incoming> {
    client
        .request(http::Request::get(uri).body(Full::default()).unwrap())
        .await
        .unwrap()
}

async fn start(limits: Limits, config: ServerConfig, data_trace: bool) -> Running {
    start_at(
        limits,
        config,
        data_trace,
        gatewatch_model::LoggingLevel::Info,
    )
    .await
}

async fn start_at(
    limits: Limits,
    config: ServerConfig,
    data_trace: bool,
    level: gatewatch_model::LoggingLevel,
) -> Running {
    start_with(limits, config, data_trace, level, false).await
}

async fn start_with(
    limits: Limits,
    config: ServerConfig,
    data_trace: bool,
    level: gatewatch_model::LoggingLevel,
    errors_only_tracing: bool,
) -> Running {
    let api = import_document(API, &ImportOptions::default()).unwrap().api;
    let mut stage = Stage::new("test");
    stage.errors_only_tracing = errors_only_tracing;
    // INFO in most tests, so that records carry every execution event (a
    // method at OFF keeps none: nothing would render them).
    stage.method_settings.insert(
        "*/*".into(),
        gatewatch_model::MethodSetting {
            logging_level: level,
            data_trace_enabled: data_trace,
            ..Default::default()
        },
    );
    let deployments = Deployments {
        apis: vec![DeployedApi::new(api, vec![stage])],
        account_id: "123456789012".into(),
        region: "eu-west-1".into(),
    };
    let (sink, records) = ChannelSink::new(64);
    let gateway = Arc::new(Gateway::new(deployments, Arc::new(sink), limits));
    let (listener, addr) = gatewatch_gateway::server::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gatewatch_gateway::serve(listener, gateway, config, async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        records,
        stop,
        server,
    }
}

impl Running {
    async fn shutdown(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.server)
            .await
            .unwrap()
            .unwrap();
    }
}

async fn next_record(rx: &mut Receiver<RequestRecord>) -> RequestRecord {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a record")
        .expect("channel open")
}

#[tokio::test]
async fn a_finished_request_yields_one_complete_record() {
    let mut running = start(Limits::default(), ServerConfig::default(), false).await;
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let uri = format!("http://{}/test/items/a%2Fb?x=1&x=2", running.addr);
    let req = http::Request::get(uri)
        .header("user-agent", "itest/1.0")
        .body(Full::default())
        .unwrap();
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let request_id = resp.headers()["x-amzn-requestid"]
        .to_str()
        .unwrap()
        .to_string();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"{\"id\": \"a/b\"}");

    let record = next_record(&mut running.records).await;
    let c = &record.context;
    assert_eq!(c.request_id, request_id);
    assert_eq!(&*c.account_id, "123456789012");
    assert_eq!(&*c.stage, "test");
    assert_eq!(c.http_method, "GET");
    assert_eq!(c.path, "/test/items/a%2Fb");
    assert_eq!(c.path_without_stage, "/items/a%2Fb");
    assert_eq!(c.resource_path.as_deref(), Some("/items/{id}"));
    assert_eq!(c.resource_id.as_deref().map(str::len), Some(10));
    assert_eq!(c.protocol, "HTTP/1.1");
    assert_eq!(c.identity.source_ip, "127.0.0.1");
    assert_eq!(c.identity.user_agent.as_deref(), Some("itest/1.0"));
    assert_eq!(c.status, Some(200));
    assert_eq!(c.response_length, Some(body.len() as u64));
    assert!(c.response_latency_ms.is_some());
    assert_eq!(c.integration.status, Some(200));
    assert!(c.error.response_type.is_none());
    let kinds: Vec<&str> = record
        .events
        .iter()
        .map(|e| match &e.kind {
            ExecutionEventKind::MethodRequest { .. } => "method-request",
            ExecutionEventKind::MethodResponse { .. } => "method-response",
            ExecutionEventKind::Succeeded => "succeeded",
            ExecutionEventKind::Completed { .. } => "completed",
            other => panic!("unexpected event {other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "method-request",
            "method-response",
            "succeeded",
            "completed"
        ]
    );
    // Without data trace, nothing of the request is copied into events.
    match &record.events[0].kind {
        ExecutionEventKind::MethodRequest { headers, query, .. } => {
            assert!(headers.is_empty() && query.is_empty());
        }
        _ => unreachable!(),
    }
    running.shutdown().await;
}

#[tokio::test]
async fn data_trace_captures_parameters_headers_and_bodies() {
    let mut running = start(Limits::default(), ServerConfig::default(), true).await;
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let uri = format!("http://{}/test/items/7?x=1&x=2", running.addr);
    let resp = get(&client, uri).await;
    let _ = resp.into_body().collect().await.unwrap();
    let record = next_record(&mut running.records).await;
    match &record.events[0].kind {
        ExecutionEventKind::MethodRequest {
            path_parameters,
            query,
            headers,
            ..
        } => {
            assert_eq!(path_parameters.iter().collect::<Vec<_>>(), [("id", "7")]);
            assert_eq!(query.iter().collect::<Vec<_>>(), [("x", "1"), ("x", "2")]);
            assert!(headers.iter().any(|(k, _)| k == "Host"));
        }
        other => panic!("{other:?}"),
    }
    match &record.events[1].kind {
        ExecutionEventKind::MethodResponse { body, .. } => {
            assert_eq!(body.as_deref(), Some(&b"{\"id\": \"7\"}"[..]))
        }
        other => panic!("{other:?}"),
    }
    running.shutdown().await;
}

#[tokio::test]
async fn errors_only_tracing_copies_request_data_for_failed_requests_only() {
    let mut running = start_with(
        Limits::default(),
        ServerConfig::default(),
        false,
        gatewatch_model::LoggingLevel::Info,
        true,
    )
    .await;
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let request_data = |record: &RequestRecord| match &record.events[0].kind {
        ExecutionEventKind::MethodRequest {
            path_parameters,
            query,
            headers,
            ..
        } => (
            path_parameters
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>(),
            query
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>(),
            headers.iter().any(|(k, _)| k == "Host"),
        ),
        other => panic!("{other:?}"),
    };
    let response_body = |record: &RequestRecord| {
        record.events.iter().find_map(|e| match &e.kind {
            ExecutionEventKind::MethodResponse { headers, body, .. } => {
                Some((headers.len(), body.clone()))
            }
            _ => None,
        })
    };
    // Healthy: nothing copied, since nothing will write it.
    let resp = get(&client, format!("http://{}/test/items/7?x=1", running.addr)).await;
    assert_eq!(resp.status(), 200);
    let record = next_record(&mut running.records).await;
    assert_eq!(request_data(&record), (vec![], vec![], false));
    assert_eq!(response_body(&record), Some((0, None)));
    // An integration response with an error status, and a failed
    // integration: the request's data is in the record, as at arrival.
    for (path, status) in [("broken", 500), ("unparsable", 500)] {
        let resp = get(&client, format!("http://{}/test/{path}?q=2", running.addr)).await;
        assert_eq!(resp.status(), status, "{path}");
        let _ = resp.into_body().collect().await.unwrap();
        let record = next_record(&mut running.records).await;
        assert_eq!(
            request_data(&record),
            (vec![], vec!["q=2".to_string()], true),
            "{path}"
        );
        if path == "broken" {
            // The mapped 500's own data is kept too.
            let (headers, body) = response_body(&record).unwrap();
            assert!(headers > 0 && body.is_some(), "{path}");
        }
    }
    running.shutdown().await;
}

#[tokio::test]
async fn failures_are_recorded_with_their_gateway_response() {
    let mut running = start(Limits::default(), ServerConfig::default(), false).await;
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let resp = get(&client, format!("http://{}/test/nothing", running.addr)).await;
    assert_eq!(resp.status(), 403);
    let _ = resp.into_body().collect().await.unwrap();
    let record = next_record(&mut running.records).await;
    let c = &record.context;
    assert_eq!(c.status, Some(403));
    assert_eq!(c.response_length, Some(42));
    assert_eq!(
        c.error.message.as_deref(),
        Some("Missing Authentication Token")
    );
    assert_eq!(
        c.error.response_type.map(|t| t.as_str()),
        Some("MISSING_AUTHENTICATION_TOKEN")
    );
    assert!(c.resource_path.is_none());
    assert!(matches!(
        record.events.last().unwrap().kind,
        ExecutionEventKind::Completed { status: 403 }
    ));
    running.shutdown().await;
}

#[tokio::test]
async fn one_connection_over_the_limit_gets_503() {
    let config = ServerConfig {
        max_connections: 1,
        ..ServerConfig::default()
    };
    let running = start(Limits::default(), config, false).await;
    // The first connection holds the only slot (idle keep-alive).
    let mut first = TcpStream::connect(running.addr).await.unwrap();
    first
        .write_all(b"GET /test/items/1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = first.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    let mut second = TcpStream::connect(running.addr).await.unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), second.read_to_end(&mut reply))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&reply);
    assert!(
        text.starts_with("HTTP/1.1 503 Service Unavailable"),
        "{text}"
    );
    assert!(
        text.ends_with("{\"message\":\"Service Unavailable\"}\r\n"),
        "{text}"
    );
    drop(first);
    running.shutdown().await;
}

#[tokio::test]
async fn slow_heads_and_idle_connections_are_closed_busy_ones_are_not() {
    let timeout = Duration::from_millis(400);
    let config = ServerConfig {
        header_read_timeout: timeout,
        ..ServerConfig::default()
    };
    let running = start(Limits::default(), config, false).await;
    let closed_within = |mut stream: TcpStream| async move {
        let started = std::time::Instant::now();
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
            .await
            .expect("closed by the server")
            .ok();
        (started.elapsed(), rest)
    };

    // A head trickled a byte at a time (faster than the timeout) is cut.
    let mut slow = TcpStream::connect(running.addr).await.unwrap();
    let started = std::time::Instant::now();
    let trickled = async {
        for b in b"GET /test/items/1 HTTP/1.1\r\nHost: x\r\n".iter() {
            tokio::time::sleep(timeout / 4).await;
            if slow.write_all(&[*b]).await.is_err() {
                break;
            }
        }
    };
    trickled.await;
    let (_, rest) = closed_within(slow).await;
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    let cut_after = started.elapsed();
    assert!(
        cut_after >= timeout && cut_after < timeout * 8,
        "{cut_after:?}"
    );

    // A connection that keeps sending requests, with pauses shorter than
    // the timeout, stays open well past it; once it stops, it is closed.
    let mut busy = TcpStream::connect(running.addr).await.unwrap();
    let mut buf = vec![0u8; 4096];
    for _ in 0..6 {
        busy.write_all(b"GET /test/items/1 HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let n = busy.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        tokio::time::sleep(timeout / 2).await;
    }
    let (idle_for, rest) = closed_within(busy).await;
    assert!(rest.is_empty());
    assert!(idle_for < timeout * 8, "{idle_for:?}");
    running.shutdown().await;
}

#[tokio::test]
async fn a_body_that_never_ends_is_refused_in_time() {
    let limits = Limits {
        body_read_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let mut running = start(limits, ServerConfig::default(), false).await;
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    stream
        .write_all(
            b"POST /test/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly a little",
        )
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 400 Bad Request"), "{text}");
    assert!(
        text.contains("x-amzn-errortype: BadRequestException"),
        "{text}"
    );
    assert!(
        text.ends_with("{\"message\":\"Invalid request body\"}"),
        "{text}"
    );
    let record = next_record(&mut running.records).await;
    assert_eq!(
        record.context.error.response_type.map(|t| t.as_str()),
        Some("BAD_REQUEST_BODY")
    );
    running.shutdown().await;
}

async fn start_with_sink(sink: ChannelSink) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let api = import_document(API, &ImportOptions::default()).unwrap().api;
    let deployments = Deployments {
        apis: vec![DeployedApi::new(api, vec![Stage::new("test")])],
        account_id: "123456789012".into(),
        region: "eu-west-1".into(),
    };
    let gateway = Arc::new(Gateway::new(deployments, Arc::new(sink), Limits::default()));
    let (listener, addr) = gatewatch_gateway::server::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(gatewatch_gateway::serve(
        listener,
        gateway,
        ServerConfig::default(),
        async {
            let _ = stopped.await;
        },
    ));
    (addr, stop)
}

#[tokio::test]
async fn a_full_log_queue_slows_responses_instead_of_losing_records() {
    let (sink, mut records) = ChannelSink::new(1);
    let (addr, _stop) = start_with_sink(sink.clone()).await;
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let started = std::time::Instant::now();
    let mut calls = Vec::new();
    for i in 0..5 {
        let client = client.clone();
        calls.push(tokio::spawn(async move {
            let resp = get(&client, format!("http://{addr}/test/items/{i}")).await;
            resp.into_body().collect().await.unwrap();
        }));
    }
    // A slow consumer: one record every 100 ms.
    let mut received = 0;
    while received < 5 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        next_record(&mut records).await;
        received += 1;
    }
    for c in calls {
        tokio::time::timeout(Duration::from_secs(5), c)
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(sink.dropped(), 0, "backpressure loses nothing");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "the responses waited for the queue"
    );
}

#[tokio::test]
async fn the_drop_policy_counts_what_it_loses() {
    let (sink, _records) = ChannelSink::new(1);
    let sink = sink.with_policy(gatewatch_gateway::QueuePolicy::Drop);
    let (addr, _stop) = start_with_sink(sink.clone()).await;
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    for i in 0..5 {
        let resp = get(&client, format!("http://{addr}/test/items/{i}")).await;
        assert_eq!(resp.status(), 200);
        resp.into_body().collect().await.unwrap();
    }
    // One record fits; the rest are dropped without slowing anyone.
    assert_eq!(sink.dropped(), 4);
}

#[tokio::test]
async fn a_stage_that_logs_nothing_emits_records_only_for_failures() {
    let api = import_document(API, &ImportOptions::default()).unwrap().api;
    let deployments = Deployments {
        apis: vec![DeployedApi::new(api, vec![Stage::new("test")])],
        account_id: "123456789012".into(),
        region: "eu-west-1".into(),
    };
    let (sink, mut records) = ChannelSink::new(64);
    let gateway = Arc::new(
        Gateway::new(deployments, Arc::new(sink), Limits::default()).with_record_all(false),
    );
    let (listener, addr) = gatewatch_gateway::server::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gatewatch_gateway::serve(
        listener,
        gateway,
        ServerConfig::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let ok = get(&client, format!("http://{addr}/test/items/7")).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.into_body().collect().await.unwrap().to_bytes(),
        r#"{"id": "7"}"#
    );
    let missing = get(&client, format!("http://{addr}/test/nope")).await;
    assert_eq!(missing.status(), 403);
    let _ = missing.into_body().collect().await;
    // The one record is the failure's: the success left none.
    let record = next_record(&mut records).await;
    assert_eq!(record.context.status, Some(403));
    assert!(
        tokio::time::timeout(Duration::from_millis(200), records.recv())
            .await
            .is_err()
    );
    let _ = stop.send(());
    let _ = server.await;
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_body_still_leaves_a_record() {
    let mut running = start(Limits::default(), ServerConfig::default(), false).await;
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    stream
        .write_all(b"POST /test/upload HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"partial\":")
        .await
        .unwrap();
    stream.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(stream);
    let record = next_record(&mut running.records).await;
    assert_eq!(record.context.status, Some(400));
    assert_eq!(record.context.resource_path.as_deref(), Some("/upload"));
    running.shutdown().await;
}

#[tokio::test]
async fn a_method_logging_at_error_keeps_only_events_with_error_lines() {
    let limits = Limits {
        max_body_bytes: 8,
        ..Limits::default()
    };
    let mut running = start_at(
        limits,
        ServerConfig::default(),
        true,
        gatewatch_model::LoggingLevel::Error,
    )
    .await;
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let kinds = |record: &RequestRecord| -> Vec<String> {
        record
            .events
            .iter()
            .map(|e| {
                format!("{:?}", e.kind)
                    .split([' ', '{', '('])
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    // A healthy request keeps only its completion (an error line when the
    // status is one), however much data tracing the stage asked for.
    let uri = format!("http://{}/test/items/a", running.addr);
    let resp = get(&client, uri).await;
    assert_eq!(resp.status(), 200);
    let record = next_record(&mut running.records).await;
    assert_eq!(kinds(&record), ["Completed"]);
    // A request refused after its method matched keeps what its error
    // lines need, and no INFO-only step.
    let uri = format!("http://{}/test/upload", running.addr);
    let resp = client
        .request(
            http::Request::post(uri)
                .body(Full::new(Bytes::from_static(b"far more than eight bytes")))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let record = next_record(&mut running.records).await;
    let kinds = kinds(&record);
    assert!(kinds.contains(&"GatewayResponse".to_string()), "{kinds:?}");
    assert!(!kinds.contains(&"MethodRequest".to_string()), "{kinds:?}");
    for event in &record.events {
        if let ExecutionEventKind::GatewayResponse { headers, body, .. } = &event.kind {
            assert!(headers.is_empty() && body.is_empty(), "no data captured");
        }
    }
    running.shutdown().await;
}

#[tokio::test]
async fn a_method_logging_at_off_keeps_no_execution_events() {
    let mut running = start_at(
        Limits::default(),
        ServerConfig::default(),
        false,
        gatewatch_model::LoggingLevel::Off,
    )
    .await;
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let uri = format!("http://{}/test/items/a", running.addr);
    let resp = get(&client, uri).await;
    assert_eq!(resp.status(), 200);
    let record = next_record(&mut running.records).await;
    // The access-log fields are all there; the execution trace is not.
    assert_eq!(record.context.status, Some(200));
    assert!(record.context.response_latency_ms.is_some());
    assert!(record.events.is_empty(), "{:?}", record.events);
    running.shutdown().await;
}
