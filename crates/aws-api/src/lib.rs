//! # gatewatch-aws-api
//!
//! The AWS wire protocols Gatewatch speaks on its admin listener: the
//! CloudWatch Logs API (AWS JSON 1.1, `X-Amz-Target: Logs_20140328.*`) over
//! the [`gatewatch_store`] log store and Logs Insights, and the API Gateway
//! management API (REST-JSON, [`apigateway`]) over the data plane's
//! deployments, so `aws logs ...`, `aws apigateway ...`, boto3 and the AWS
//! SDKs work with `--endpoint-url` alone.
//!
//! Requests are accepted with any credentials: the region is read from the
//! SigV4 `Authorization` header's credential scope (or the configured
//! default) and every request acts in the configured account.

pub mod apigateway;
pub mod logs;
pub mod sigv4;
pub mod wire;

pub use logs::LogsApi;
