//! Benchmark helper (not a test): the data plane alone — one OpenAPI file
//! served as stage `dev`, every finished request handed to a queue that a
//! task drains (as the log writer does) but nothing rendered or stored — to
//! profile the request path without the logging stage.
//!
//! `cargo run --release -p gatewatch-gateway --example serve_api -- API_FILE [PORT] [NAME=VALUE...]`
//!
//! NAME=VALUE pairs become stage variables. Prints `listening on ADDR`.

use std::net::SocketAddr;
use std::sync::Arc;

use gatewatch_gateway::{ChannelSink, DeployedApi, Deployments, Gateway, Limits, ServerConfig};
use gatewatch_model::import::{import_document, ImportOptions};
use gatewatch_model::Stage;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let text = std::fs::read_to_string(args.get(1).expect("API_FILE")).expect("readable API file");
    let port: u16 = args.get(2).and_then(|p| p.parse().ok()).unwrap_or(0);
    let api = import_document(&text, &ImportOptions::default())
        .expect("a valid API")
        .api;
    let mut stage = Stage::new("dev");
    for pair in args.iter().skip(3) {
        if let Some((k, v)) = pair.split_once('=') {
            stage.variables.insert(k.into(), v.into());
        }
    }
    let deployments = Deployments {
        apis: vec![DeployedApi::new(api, vec![stage])],
        account_id: "000000000000".into(),
        region: "us-east-1".into(),
    };
    let (sink, mut rx) = ChannelSink::new(8192);
    tokio::spawn(async move {
        let mut batch = Vec::new();
        while rx.recv_many(&mut batch, 1024).await > 0 {
            batch.clear();
        }
    });
    let gateway = Arc::new(Gateway::new(deployments, Arc::new(sink), Limits::default()));
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .expect("bind");
    println!("listening on {}", listener.local_addr().expect("address"));
    gatewatch_gateway::serve(
        listener,
        gateway,
        ServerConfig::default(),
        std::future::pending(),
    )
    .await;
}
