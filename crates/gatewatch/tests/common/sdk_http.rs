//! The HTTP client the AWS SDK clients of these tests send through: plain
//! HTTP/1.1 over hyper's pooled client, to the admin listener on loopback.
//!
//! The SDK's bundled client (`aws-smithy-http-client`'s `default-client`)
//! also brings HTTP/2 and proxy support, which turn on features of hyper,
//! hyper-util and tokio-util that the `gatewatch` binary does not use.
//! Cargo resolves dev-dependencies' features together with the binary's
//! whenever a build selects tests or examples, so those features made the
//! benchmark's release build (binary plus examples) and `cargo build
//! --release` (binary alone) compile different copies of most crates,
//! DataFusion included. This client uses only features the binary already
//! has, so both builds share their artifacts.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::body::SdkBody;
use hyper_util::client::legacy::{connect::HttpConnector as TcpConnector, Client};
use hyper_util::rt::TokioExecutor;

/// An SDK HTTP client over hyper's HTTP/1.1 client (no TLS: the admin
/// listener of a test is plain HTTP on loopback).
#[derive(Clone, Debug)]
pub struct LoopbackHttp {
    client: Client<TcpConnector, SdkBody>,
}

/// A shared client for an SDK `Config`'s `http_client`.
pub fn client() -> SharedHttpClient {
    SharedHttpClient::new(LoopbackHttp {
        client: Client::builder(TokioExecutor::new()).build_http(),
    })
}

impl HttpClient for LoopbackHttp {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

impl HttpConnector for LoopbackHttp {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::other(e.into(), None))?;
            let response = client
                .request(request)
                .await
                .map_err(|e| ConnectorError::io(e.into()))?;
            let response = response.map(SdkBody::from_body_1_x);
            Response::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}
