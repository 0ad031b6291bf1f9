//! Benchmark (not a test): what logging costs the data plane.
//!
//! `cargo run --release -p gatewatch-logging --example logging_cost -- [CONNECTIONS] [SECONDS]`
//!
//! One process serves a MOCK route through the real server, log writer and
//! durable store, and drives it with keep-alive HTTP/1.1 clients on loopback,
//! once per logging configuration: off, access log only, + execution ERROR,
//! INFO, INFO + data trace, and errors-only tracing. Reports req/s and
//! latency percentiles; the load generator shares the two cores.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gatewatch_gateway::{
    ChannelSink, DeployedApi, Deployments, Gateway, Limits, RecordSink, ServerConfig,
};
use gatewatch_logging::LogWriter;
use gatewatch_model::import::{import_document, ImportOptions};
use gatewatch_model::{AccessLogSettings, LoggingLevel, MethodSetting, Stage};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const API: &str = r#"
openapi: 3.0.1
info: { title: bench, version: "1" }
paths:
  /pets/{petId}:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: { application/json: '{"statusCode": 200}' }
        responses:
          default:
            statusCode: "200"
            responseTemplates: { application/json: '{"id": "$input.params(''petId'')", "type": "dog"}' }
"#;

fn stage(name: &str) -> Stage {
    let mut stage = Stage::new("dev");
    let access = || AccessLogSettings {
        destination_arn: "arn:aws:logs:us-east-1:000000000000:log-group:/bench/access".into(),
        format: gatewatch_logging::access::presets::JSON.into(),
    };
    let level = |level: LoggingLevel, data_trace_enabled: bool| MethodSetting {
        logging_level: level,
        data_trace_enabled,
        ..Default::default()
    };
    match name {
        "off" => {}
        "access" => stage.access_log_settings = Some(access()),
        "access+error" => {
            stage.access_log_settings = Some(access());
            stage
                .method_settings
                .insert("*/*".into(), level(LoggingLevel::Error, false));
        }
        "access+info" => {
            stage.access_log_settings = Some(access());
            stage
                .method_settings
                .insert("*/*".into(), level(LoggingLevel::Info, false));
        }
        "access+info+data" => {
            stage.access_log_settings = Some(access());
            stage
                .method_settings
                .insert("*/*".into(), level(LoggingLevel::Info, true));
        }
        "access+errors-only" => {
            stage.access_log_settings = Some(access());
            stage.errors_only_tracing = true;
            stage
                .method_settings
                .insert("*/*".into(), level(LoggingLevel::Info, true));
        }
        _ => unreachable!(),
    }
    stage
}

async fn run(config: &str, connections: usize, seconds: u64) -> (f64, Vec<Duration>) {
    let dir = std::env::temp_dir().join(format!(
        "gatewatch-logging-cost-{}-{config}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let store = gatewatch_store::Store::open(&dir, Default::default()).unwrap();
    let api = import_document(API, &ImportOptions::default()).unwrap().api;
    let deployments = Deployments {
        apis: vec![DeployedApi::new(api, vec![stage(config)])],
        account_id: "000000000000".into(),
        region: "us-east-1".into(),
    };
    let (sink, records) = ChannelSink::new(65_536);
    let queue = sink.clone();
    let sink: Arc<dyn RecordSink> = Arc::new(sink);
    let gateway = Arc::new(Gateway::new(deployments, sink, Limits::default()));
    let writer = Arc::new(LogWriter::new(store.clone(), gateway.clone()));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let writer_task = tokio::spawn(gatewatch_logging::writer::run(
        records,
        writer,
        |_| {},
        async {
            let _ = stop_rx.await;
        },
    ));
    let (listener, addr) = gatewatch_gateway::server::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let (server_stop_tx, server_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gatewatch_gateway::serve(
        listener,
        gateway.clone(),
        ServerConfig::default(),
        async {
            let _ = server_stop_rx.await;
        },
    ));

    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(connections)
        .build_http();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let uri: http::Uri = format!("http://{addr}/dev/pets/{c}").parse().unwrap();
            while Instant::now() < deadline {
                let t = Instant::now();
                let resp = client.get(uri.clone()).await.unwrap();
                let _ = resp.into_body().collect().await.unwrap();
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let rate = latencies.len() as f64 / started.elapsed().as_secs_f64();
    let dropped = queue.dropped();
    let _ = server_stop_tx.send(());
    let _ = server.await;
    let _ = stop_tx.send(());
    let _ = writer_task.await;
    if dropped > 0 {
        println!("  ({config}: {dropped} records dropped at the queue)");
    }
    let _ = std::fs::remove_dir_all(&dir);
    (rate, latencies)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let connections: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(32);
    let seconds: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5);
    println!("| logging | req/s | vs off | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|");
    let mut baseline = None;
    for config in [
        "off",
        "access",
        "access+error",
        "access+info",
        "access+info+data",
        "access+errors-only",
    ] {
        let (rate, mut lat) = run(config, connections, seconds).await;
        lat.sort();
        let base = *baseline.get_or_insert(rate);
        println!(
            "| {config} | {rate:.0} | {:.2} | {:.2} | {:.2} |",
            rate / base,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        );
    }
}
