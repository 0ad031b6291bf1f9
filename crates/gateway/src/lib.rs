//! # gatewatch-gateway
//!
//! The data plane: an HTTP server that behaves like Amazon API Gateway's
//! execute-api endpoint for REST APIs.
//!
//! A request flows through [`server`] (connection limits, timeouts) →
//! [`service`] (addressing via [`deployment`], resource matching via
//! [`routing`], body limits) → an [`integration`] (MOCK, HTTP, HTTP_PROXY) →
//! the response, with [`response`] producing gateway responses for failures.
//! Along the way one [`context::RequestContext`] is filled and
//! [`context::ExecutionEvent`]s are recorded; when the response body is done
//! both go to the [`sink::RecordSink`] as one [`context::RequestRecord`],
//! off the request path.

pub mod body;
pub mod context;
pub mod deployment;
pub mod integration;
pub mod jsonpath;
pub mod request;
pub mod response;
pub mod routing;
pub mod server;
pub mod service;
pub mod sink;
pub mod template;
pub mod vtl;

pub use deployment::{initial_deployment_id, DeployedApi, Deployments, Snapshot};
pub use server::{serve, ServerConfig};
pub use service::{Gateway, Limits, TestOverrides};
pub use sink::{ChannelSink, DiscardSink, QueuePolicy, RecordSink, ThreadSinks};
