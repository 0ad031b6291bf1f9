//! Benchmark (not a test): PutLogEvents over HTTP against the same store's
//! in-process rate, and FilterLogEvents scan speed over the hot tier and over
//! Parquet segments, all in one run.
//!
//! `cargo run --release -p gatewatch-aws-api --example ingest_http -- [WRITERS] [BATCHES_PER_WRITER]`
//!
//! The two sides take turns for `BENCH_ROUNDS` rounds (3 unless set; the
//! side that goes first alternates) and each keeps its best round, as the
//! suite's other comparisons do: one fsync-bound round on this kind of
//! machine can be twice as fast as the next.
//!
//! `INGEST_HTTP_ONLY=http` (or `local`) times only that side, for a
//! profiler, and skips the scans.

use std::convert::Infallible;
use std::time::Instant;

use bytes::Bytes;
use gatewatch_aws_api::LogsApi;
use gatewatch_store::{CreateLogGroup, InputLogEvent, Scope, Store, StoreConfig, StreamSelector};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// The allocator the `gatewatch` binary runs with, so that the request
/// bodies are allocated as they are there.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EVENTS_PER_BATCH: usize = 1_000;

/// A PutLogEvents request body.
#[derive(serde::Serialize)]
struct PutBody<'a> {
    #[serde(rename = "logGroupName")]
    group: &'a str,
    #[serde(rename = "logStreamName")]
    stream: &'a str,
    #[serde(rename = "logEvents")]
    events: Vec<PutEvent<'a>>,
}

/// One event of a PutLogEvents body.
#[derive(serde::Serialize)]
struct PutEvent<'a> {
    timestamp: i64,
    message: &'a str,
}

fn message(i: usize) -> String {
    format!(
        "{{\"requestId\":\"{:08x}-7f7e-4c55-9d47-1b1f5c0c7a11\",\"ip\":\"203.0.113.{}\",\"requestTime\":\"25/Nov/2026:10:39:40 +0000\",\"httpMethod\":\"GET\",\"resourcePath\":\"/pets/{{petId}}\",\"status\":\"{}\",\"responseLength\":\"{}\"}}",
        i,
        i % 255,
        if i.is_multiple_of(50) { 504 } else { 200 },
        100 + i % 900
    )
}

/// The events of one batch.
fn batch_events(now: i64) -> Vec<InputLogEvent> {
    (0..EVENTS_PER_BATCH)
        .map(|i| InputLogEvent {
            timestamp: now,
            message: message(i),
        })
        .collect()
}

/// The PutLogEvents body of one batch for stream `w{w}`, serialised
/// straight from the events, as the AWS SDKs' JSON writers do, rather than
/// through a JSON value tree.
fn batch_body(w: usize, events: &[InputLogEvent]) -> Bytes {
    let stream = format!("w{w}");
    let body = serde_json::to_vec(&PutBody {
        group: "http",
        stream: &stream,
        events: events
            .iter()
            .map(|e| PutEvent {
                timestamp: e.timestamp,
                message: &e.message,
            })
            .collect(),
    })
    .expect("body serialises");
    Bytes::from(body)
}

/// Each writer's batches, shared by the rounds.
type Inputs = std::sync::Arc<Vec<Vec<Vec<InputLogEvent>>>>;

async fn put_in_process(store: &Store, scope: &Scope, group: &str, inputs: &Inputs) -> f64 {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..inputs.len() {
        let (store, scope, group) = (store.clone(), scope.clone(), group.to_string());
        let inputs = inputs.clone();
        tasks.push(tokio::spawn(async move {
            let stream = format!("w{w}");
            for events in &inputs[w] {
                store
                    .put_log_events(&scope, &group, &stream, events)
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    started.elapsed().as_secs_f64()
}

/// Sends each writer's bodies as PutLogEvents requests, one writer per
/// task, each request after the previous one's answer.
async fn put_over_http(addr: std::net::SocketAddr, bodies: &[Vec<Bytes>]) -> f64 {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for bodies in bodies.iter().cloned() {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for body in bodies {
                let req = http::Request::post(format!("http://{addr}/"))
                    .header("x-amz-target", "Logs_20140328.PutLogEvents")
                    .header("content-type", "application/x-amz-json-1.1")
                    .body(Full::new(body))
                    .unwrap();
                let resp = client.request(req).await.unwrap();
                assert_eq!(resp.status(), 200);
                let _ = resp.into_body().collect().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    started.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let writers: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(4);
    let batches: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(50);
    let dir = std::env::temp_dir().join(format!("gatewatch-ingest-http-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(&dir, StoreConfig::default()).unwrap();
    let scope = Scope::new("000000000000", "us-east-1");
    for group in ["http", "local"] {
        store
            .create_log_group(&scope, group, CreateLogGroup::default())
            .await
            .unwrap();
        for w in 0..writers {
            store
                .create_log_stream(&scope, group, &format!("w{w}"))
                .await
                .unwrap();
        }
    }

    // The CloudWatch Logs API on a loopback port.
    let api = LogsApi::new(store.clone(), "000000000000", "us-east-1");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let api = api.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let api = api.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        Ok::<_, Infallible>(api.handle(&parts.headers, &body).await.map(Full::new))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    // Both sides get their inputs built before the clock starts: the
    // events for the in-process calls, the request bodies for HTTP (a
    // client's serialisation is the client's cost, and on this machine it
    // would compete with the server for the same cores).
    let now = gatewatch_store::now_ms();
    let inputs: Inputs = std::sync::Arc::new(
        (0..writers)
            .map(|_| (0..batches).map(|_| batch_events(now)).collect())
            .collect(),
    );
    let bodies: Vec<Vec<Bytes>> = inputs
        .iter()
        .enumerate()
        .map(|(w, bs)| bs.iter().map(|events| batch_body(w, events)).collect())
        .collect();
    let only = std::env::var("INGEST_HTTP_ONLY").unwrap_or_default();
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3)
        .max(1);
    // Each side's fastest round, in seconds.
    let (mut local_secs, mut http_secs) = (None::<f64>, None::<f64>);
    let best = |best: &mut Option<f64>, secs: f64| *best = Some(best.map_or(secs, |b| b.min(secs)));
    for round in 0..rounds {
        for side in if round % 2 == 0 {
            ["local", "http"]
        } else {
            ["http", "local"]
        } {
            if !only.is_empty() && only != side {
                continue;
            }
            if side == "local" {
                best(
                    &mut local_secs,
                    put_in_process(&store, &scope, "local", &inputs).await,
                );
            } else {
                best(&mut http_secs, put_over_http(addr, &bodies).await);
            }
        }
    }
    let events = (writers * batches * EVENTS_PER_BATCH) as f64;
    println!(
        "writers={writers} batches/writer={batches} events/batch={EVENTS_PER_BATCH} rounds={rounds} (best round each)"
    );
    if let Some(local) = local_secs {
        println!("in-process PutLogEvents: {:.0} events/s", events / local);
    }
    match (local_secs, http_secs) {
        (Some(local), Some(http)) => println!(
            "HTTP PutLogEvents:       {:.0} events/s (ratio {:.2})",
            events / http,
            local / http
        ),
        (None, Some(http)) => println!("HTTP PutLogEvents:       {:.0} events/s", events / http),
        _ => {}
    }

    if !only.is_empty() {
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    // Scans: every event of the group (every round's) through
    // FilterLogEvents' engine, with a JSON pattern, before and after
    // compaction into segments.
    let scanned = events * rounds as f64;
    let pattern = gatewatch_store::FilterPattern::parse("{ $.status = 5* }").unwrap();
    let bytes: f64 = (0..EVENTS_PER_BATCH)
        .map(|i| message(i).len())
        .sum::<usize>() as f64
        * (writers * batches * rounds) as f64;
    // A JSON pattern reads every event; a request id that no event holds
    // is what a search for one request costs (blocks and segments without
    // it are passed over).
    let absent =
        gatewatch_store::FilterPattern::parse("\"ffffffff-7f7e-4c55-9d47-1b1f5c0c7a11\"").unwrap();
    // The same search as a regex, which names no required text: every
    // event is read and tested, as every search was before the pass-over.
    let absent_read =
        gatewatch_store::FilterPattern::parse("%ffffffff-7f7e-4c55-9d47-1b1f5c0c7a11%").unwrap();
    for tier in ["hot", "segments"] {
        if tier == "segments" {
            store.compact(0).await.unwrap();
        }
        for (label, pattern) in [
            ("scan", &pattern),
            ("id search", &absent),
            ("id search reading every event", &absent_read),
        ] {
            let started = Instant::now();
            let mut after = None;
            let mut matched = 0;
            loop {
                let page = store
                    .filter_events(
                        &scope,
                        "local",
                        &StreamSelector::All,
                        None,
                        None,
                        after,
                        10_000,
                        1_000_000,
                        &|m| pattern.matches(m),
                        &pattern.required_literals(),
                    )
                    .await
                    .unwrap();
                matched += page.events.len();
                match page.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "FilterLogEvents {label} ({tier}): {:.1} MB/s, {:.0} events/s, {:.1} ms, {matched} matches",
                bytes / secs / 1e6,
                scanned / secs,
                secs * 1e3
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
