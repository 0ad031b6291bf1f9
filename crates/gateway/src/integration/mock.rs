//! MOCK integrations: API Gateway answers by itself. The request template's
//! output must be JSON with an integer `statusCode`, which selects the
//! integration response; that response's template is the body.

use gatewatch_model::{GatewayResponseType, Integration};
use http::HeaderMap;

use super::mapping::{integration_request_body, map_response, BackendView};
use super::IntegrationReply;
use crate::context::{ExecutionTrace, FailureKind, RequestContext};
use crate::request::MethodRequest;
use crate::response::GatewayError;

/// AWS's wording when the mock template yields no usable status code.
pub const BAD_STATUS_CODE: &str =
    "Unable to parse statusCode. It should be an integer that is defined in the request template.";

/// Answers a mock integration.
pub fn invoke(
    integration: &Integration,
    request: &MethodRequest,
    ctx: &mut RequestContext,
    trace: &mut ExecutionTrace,
) -> Result<IntegrationReply, GatewayError> {
    let (body, _) = integration_request_body(integration, request, ctx)?;
    let status = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("statusCode").and_then(serde_json::Value::as_u64))
        .filter(|s| (100..=599).contains(s));
    let Some(status) = status else {
        return Err(
            GatewayError::new(GatewayResponseType::ApiConfigurationError)
                .with_status(500)
                .with_failure(FailureKind::Configuration, BAD_STATUS_CODE),
        );
    };
    ctx.integration.status = Some(status as u16);
    ctx.integration.latency_ms = Some(0);
    let empty = HeaderMap::new();
    let mapped = map_response(
        integration,
        &status.to_string(),
        &BackendView {
            headers: &empty,
            body: b"",
        },
        request,
        ctx,
    )?;
    Ok(mapped.into_reply(trace))
}
