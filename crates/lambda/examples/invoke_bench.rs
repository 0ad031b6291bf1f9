//! Benchmark helper (not a test): a Lambda function called directly over
//! the Runtime API, the reference the gateway's AWS_PROXY route is compared
//! with.
//!
//! `cargo run --release -p gatewatch-lambda --example invoke_bench -- [INVOCATIONS]`
//!
//! Hosts the bundled Python example function (`hello.handler`), times its
//! cold start (spawn, import, first `invocation/next`) and then
//! INVOCATIONS sequential warm invocations with an API Gateway proxy event,
//! and prints one JSON line: `{"cold_ms", "warm_p50_ms", "warm_p99_ms",
//! "warm_mean_ms", "invocations"}`.

use std::time::{Duration, Instant};

use bytes::Bytes;
use gatewatch_lambda::{FunctionConfig, LambdaHost, Runtime};

const HANDLER: &str = include_str!("../../gatewatch/src/example-functions/hello.py");

const EVENT: &str = r#"{"resource":"/hello/{name}","path":"/hello/ada","httpMethod":"GET","headers":null,"multiValueHeaders":null,"queryStringParameters":null,"multiValueQueryStringParameters":null,"pathParameters":{"name":"ada"},"stageVariables":null,"requestContext":{"resourcePath":"/hello/{name}","httpMethod":"GET","path":"/dev/hello/ada","stage":"dev","requestId":"bench","identity":{"sourceIp":"127.0.0.1"},"apiId":"benchapi01"},"body":null,"isBase64Encoded":false}"#;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p / 100.0).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = std::env::temp_dir().join(format!("gw-invoke-bench-{}", std::process::id()));
    let code = dir.join("hello");
    std::fs::create_dir_all(&code).expect("temp dir");
    std::fs::write(code.join("hello.py"), HANDLER).expect("handler");
    let host = LambdaHost::new(
        vec![FunctionConfig {
            name: "hello".into(),
            runtime: Runtime::Python("3.12".into()),
            handler: "hello.handler".into(),
            code_dir: code,
            timeout: Duration::from_secs(3),
            memory_mb: 128,
            environment: Vec::new(),
            concurrency: 1,
            throttle: false,
            endpoint: None,
        }],
        "us-east-1",
        "000000000000",
        dir.join("work"),
    )
    .expect("host");
    let f = host.function("hello").expect("function").clone();
    let payload = Bytes::from_static(EVENT.as_bytes());
    let t = Instant::now();
    f.invoke(payload.clone()).await.expect("cold invoke");
    let cold = t.elapsed();
    // Warm-up, then the measured run.
    for _ in 0..50 {
        f.invoke(payload.clone()).await.expect("warm-up");
    }
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f.invoke(payload.clone()).await.expect("invoke");
        times.push(t.elapsed());
    }
    times.sort();
    let mean = times.iter().map(Duration::as_secs_f64).sum::<f64>() / n as f64 * 1000.0;
    println!(
        "{{\"cold_ms\": {:.3}, \"warm_p50_ms\": {:.3}, \"warm_p99_ms\": {:.3}, \"warm_mean_ms\": {:.3}, \"invocations\": {n}}}",
        cold.as_secs_f64() * 1000.0,
        percentile(&times, 50.0),
        percentile(&times, 99.0),
        mean
    );
    host.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
