//! # gatewatch-logging
//!
//! Turns each finished request ([`RequestRecord`](gatewatch_gateway::context::RequestRecord))
//! into the logs API Gateway would write, and stores them:
//!
//! - [`execution`]: the execution log, `({requestId}) ...` lines at the
//!   method's level (ERROR/INFO, data trace), into
//!   `API-Gateway-Execution-Logs_{restApiId}/{stage}`;
//! - [`access`]: the access log, one line per request from the stage's
//!   format (compiled once), into the group its destination ARN names;
//! - [`lines`]: rendered lines kept in one buffer per destination, read by
//!   the store as borrowed events;
//! - [`writer`]: the batching writer that drains the data plane's queue off
//!   the request path and appends to the store in-process.

pub mod access;
pub mod execution;
pub mod lines;
pub mod writer;

pub use access::{AccessLogTemplate, FormatError};
pub use writer::{execution_group, LogWriter};
