//! Renders one mapping template many times and prints the time per render:
//! `cargo run --release -p gatewatch-gateway --example template_render -- FILE`
//! (`N=...` sets the count, 100,000 by default). The request is fixed: a
//! POST with a path parameter, a query parameter, four headers, two stage
//! variables and a small JSON body. For measuring the template engine
//! alone (under `valgrind --tool=callgrind` with a small `N`, too).

use std::sync::Arc;

use gatewatch_gateway::context::RequestContext;
use gatewatch_gateway::request::MethodRequest;
use gatewatch_gateway::template::{render, TemplateInput};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: template_render FILE");
        std::process::exit(2);
    };
    let template = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        eprintln!("template_render: cannot read {path}: {e}");
        std::process::exit(1);
    });
    let mut stage = gatewatch_model::Stage::new("dev");
    stage.variables.insert("color".into(), "blue".into());
    stage.variables.insert("size".into(), "L".into());
    let mut headers = http::HeaderMap::new();
    for (name, value) in [
        ("host", "api.example.test"),
        ("content-type", "application/json"),
        ("user-agent", "curl/8"),
        ("accept", "*/*"),
    ] {
        headers.insert(name, http::HeaderValue::from_static(value));
    }
    let request = MethodRequest {
        method: http::Method::POST,
        path_parameters: vec![("id".into(), "7".into())],
        query: vec![("q".into(), "a".into())],
        raw_query: Some("q=a".into()),
        headers,
        body: bytes::Bytes::from_static(br#"{"n": 3, "items": [1, 2, 3]}"#),
        stage: Arc::new(stage),
        greedy_parameter: None,
    };
    let ctx = RequestContext {
        request_id: "r-1".into(),
        ..Default::default()
    };
    let input = TemplateInput {
        context: &ctx,
        request: Some(&request),
        body: &request.body,
    };
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let started = std::time::Instant::now();
    let mut bytes = 0;
    for _ in 0..n {
        bytes += render(&template, &input).len();
    }
    let each = started.elapsed().as_nanos() as f64 / n.max(1) as f64;
    println!("{each:.0} ns per render, {} bytes out", bytes / n.max(1));
}
