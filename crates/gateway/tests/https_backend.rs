//! HTTPS backends: a real TLS server with a self-signed certificate. The
//! default client refuses it (500, configuration error naming the TLS
//! failure); an integration with `tlsConfig.insecureSkipVerification` reaches it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gatewatch_gateway::context::{ExecutionEventKind, FailureKind};
use gatewatch_gateway::{ChannelSink, DeployedApi, Deployments, Gateway, Limits, ServerConfig};
use gatewatch_model::import::{import_document, ImportOptions};
use gatewatch_model::Stage;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

const API: &str = r#"
openapi: 3.0.1
info: { title: tls, version: "1" }
paths:
  /strict:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "${stageVariables.tls}/hello"
  /relaxed:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: "${stageVariables.tls}/hello"
        tlsConfig: { insecureSkipVerification: true }
"#;

/// A one-response-per-connection HTTPS server answering `hello over tls`.
async fn tls_upstream() -> std::net::SocketAddr {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let der = CertificateDer::from(cert.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                break;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let body = "hello over tls";
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn self_signed_backends_need_insecure_skip_verification() {
    let upstream = tls_upstream().await;
    let api = import_document(API, &ImportOptions::default()).unwrap().api;
    let mut stage = Stage::new("dev");
    // Execution events are kept only where a level writes them.
    stage.method_settings.insert(
        "*/*".into(),
        gatewatch_model::MethodSetting {
            logging_level: gatewatch_model::LoggingLevel::Error,
            ..Default::default()
        },
    );
    stage.variables.insert(
        "tls".into(),
        format!("https://localhost:{}", upstream.port()),
    );
    let deployments = Deployments {
        apis: vec![DeployedApi::new(api, vec![stage])],
        account_id: "123456789012".into(),
        region: "us-east-1".into(),
    };
    let (sink, mut records) = ChannelSink::new(16);
    let gateway = Arc::new(Gateway::new(deployments, Arc::new(sink), Limits::default()));
    let (listener, addr) = gatewatch_gateway::server::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    tokio::spawn(gatewatch_gateway::serve(
        listener,
        gateway,
        ServerConfig::default(),
        std::future::pending(),
    ));
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();

    let relaxed = client
        .request(
            http::Request::get(format!("http://{addr}/dev/relaxed"))
                .body(Full::default())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(relaxed.status(), 200);
    assert_eq!(
        &relaxed.into_body().collect().await.unwrap().to_bytes()[..],
        b"hello over tls"
    );
    let _ = tokio::time::timeout(Duration::from_secs(5), records.recv())
        .await
        .unwrap();

    let strict = client
        .request(
            http::Request::get(format!("http://{addr}/dev/strict"))
                .body(Full::default())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(strict.status(), 500);
    assert_eq!(
        &strict.into_body().collect().await.unwrap().to_bytes()[..],
        b"{\"message\": \"Internal server error\"}"
    );
    let record = tokio::time::timeout(Duration::from_secs(5), records.recv())
        .await
        .unwrap()
        .unwrap();
    let failure = record.events.iter().find_map(|e| match &e.kind {
        ExecutionEventKind::Failure { kind, detail } => Some((*kind, detail.clone())),
        _ => None,
    });
    let (kind, detail) = failure.expect("a failure event");
    assert_eq!(kind, FailureKind::Configuration);
    assert!(detail.starts_with("SSL handshake failed"), "{detail}");
}
