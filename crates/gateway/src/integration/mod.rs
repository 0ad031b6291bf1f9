//! Integrations: how a matched method reaches its backend.
//!
//! Each integration type has its own module with the same shape: build the
//! integration request, invoke, map the response. All of them return an
//! [`IntegrationReply`] or a [`GatewayError`](crate::response::GatewayError).

pub mod http;
pub mod lambda;
pub mod mapping;
pub mod mock;
mod tls;

use bytes::Bytes;
use hyper::body::Incoming;

use crate::body::DeadlineBody;

/// The body of an integration's reply.
#[derive(Debug)]
pub enum ReplyBody {
    /// Fully buffered (mock, mapped responses).
    Full(Bytes),
    /// Streamed from the backend as it arrives (HTTP proxy), cut off at the
    /// integration timeout.
    Stream(DeadlineBody<Incoming>),
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
