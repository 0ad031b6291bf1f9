//! Integrations: how a matched method reaches its backend.
//!
//! Each integration type has its own module with the same shape: build the
//! integration request, invoke, map the response. All of them return an
//! [`IntegrationReply`] or a [`GatewayError`](crate::response::GatewayError).

pub mod http;
pub mod lambda;
pub mod mapping;
pub mod mock;
pub mod outgoing;
pub mod plain_http;
mod tls;

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use crate::body::{BoxError, DeadlineBody};

/// A backend's response body as it arrives: from the plain-HTTP client, or
/// from the TLS-capable client for HTTPS backends.
#[derive(Debug)]
pub enum BackendBody {
    /// From a plain-HTTP backend ([`plain_http`]).
    Plain(plain_http::PlainBody),
    /// From an HTTPS backend.
    Tls(Incoming),
}

impl Body for BackendBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            BackendBody::Plain(b) => Pin::new(b).poll_frame(cx).map_err(Into::into),
            BackendBody::Tls(b) => Pin::new(b).poll_frame(cx).map_err(Into::into),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            BackendBody::Plain(b) => b.is_end_stream(),
            BackendBody::Tls(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            BackendBody::Plain(b) => b.size_hint(),
            BackendBody::Tls(b) => b.size_hint(),
        }
    }
}

/// The body of an integration's reply.
#[derive(Debug)]
pub enum ReplyBody {
    /// Fully buffered (mock, mapped responses).
    Full(Bytes),
    /// Streamed from the backend as it arrives (HTTP proxy), cut off at the
    /// integration timeout.
    Stream(DeadlineBody<BackendBody>),
}

/// What an integration answered, before the gateway adds its own headers.
#[derive(Debug)]
pub struct IntegrationReply {
    /// Method response status.
    pub status: ::http::StatusCode,
    /// Method response headers.
    pub headers: ::http::HeaderMap,
    /// Method response body.
    pub body: ReplyBody,
}
