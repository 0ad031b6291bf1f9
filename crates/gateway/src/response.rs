//! Gateway responses and the headers API Gateway puts on every response.
//!
//! A [`GatewayError`] says which gateway response type applies; [`render`]
//! turns it into the HTTP response a client sees, honouring the API's
//! customisations (`x-amazon-apigateway-gateway-responses`): a type's own
//! customisation first, else its class default (`DEFAULT_4XX`/`DEFAULT_5XX`),
//! else AWS's built-in status and `{"message": ...}` body.

use bytes::Bytes;
use gatewatch_model::gateway_response::DEFAULT_GATEWAY_RESPONSE_TEMPLATE;
use gatewatch_model::{GatewayResponse, GatewayResponseType, RestApi};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::context::{FailureKind, RequestContext};
use crate::integration::mapping::eval_source;
use crate::request::MethodRequest;
use crate::template::{self, TemplateInput};

/// A failure that API Gateway answers itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayError {
    /// Which gateway response applies.
    pub kind: GatewayResponseType,
    /// Status when the API does not override it.
    pub status: u16,
    /// `$context.error.message`.
    pub message: String,
    /// The execution-log failure line this error comes with, if any.
    pub failure: Option<(FailureKind, String)>,
}

impl GatewayError {
    /// An error of `kind` with AWS's default status and message.
    pub fn new(kind: GatewayResponseType) -> GatewayError {
        use GatewayResponseType as T;
        let message = match kind {
            T::AccessDenied => {
                "User is not authorized to access this resource with an explicit deny"
            }
            T::ApiConfigurationError | T::IntegrationFailure | T::Default5xx => {
                "Internal server error"
            }
            T::AuthorizerConfigurationError | T::AuthorizerFailure => "Internal server error",
            T::BadRequestParameters => "Missing required request parameters",
            T::BadRequestBody => "Invalid request body",
            T::Default4xx => "Bad Request",
            T::ExpiredToken => "The security token included in the request is expired",
            T::IntegrationTimeout => "Endpoint request timed out",
            T::InvalidApiKey | T::WafFiltered => "Forbidden",
            T::InvalidSignature => {
                "The request signature we calculated does not match the signature you provided"
            }
            T::MissingAuthenticationToken => "Missing Authentication Token",
            T::QuotaExceeded => "Limit Exceeded",
            T::RequestTooLarge => "Request Too Long",
            T::ResourceNotFound => "Resource not found",
            T::Throttled => "Too Many Requests",
            T::Unauthorized => "Unauthorized",
            T::UnsupportedMediaType => "Unsupported Media Type",
        };
        GatewayError {
            kind,
            status: kind
                .default_status()
                .unwrap_or(if kind == T::Default5xx { 500 } else { 400 }),
            message: message.to_string(),
            failure: None,
        }
    }

    /// Overrides the status (for types whose status depends on the case,
    /// e.g. INTEGRATION_FAILURE is 502 for Lambda function errors).
    pub fn with_status(mut self, status: u16) -> GatewayError {
        self.status = status;
        self
    }

    /// Attaches the execution-log failure line.
    pub fn with_failure(mut self, kind: FailureKind, detail: impl Into<String>) -> GatewayError {
        self.failure = Some((kind, detail.into()));
        self
    }

    /// A configuration error of the API: 500, and the execution-log line
    /// `Execution failed due to configuration error: {detail}`.
    pub fn configuration(detail: impl Into<String>) -> GatewayError {
        GatewayError::new(GatewayResponseType::ApiConfigurationError)
            .with_status(500)
            .with_failure(FailureKind::Configuration, detail)
    }
}

/// AWS's built-in body template for a type.
fn default_template(kind: GatewayResponseType) -> &'static str {
    use GatewayResponseType as T;
    match kind {
        // Bodies observed on integration failures carry a space after the colon.
        T::IntegrationFailure
        | T::IntegrationTimeout
        | T::ApiConfigurationError
        | T::Default5xx => "{\"message\": $context.error.messageString}",
        T::AccessDenied => "{\"Message\":$context.error.messageString}",
        T::AuthorizerConfigurationError => "{\"message\":null}",
        _ => DEFAULT_GATEWAY_RESPONSE_TEMPLATE,
    }
}

/// A rendered gateway response, ready to send.
#[derive(Debug, Clone)]
pub struct RenderedGatewayResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers, including `x-amzn-ErrorType` and the standard ones.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
}

/// Renders the gateway response for `error`, recording the error on the
/// context (`error.message`, `error.responseType`).
pub fn render(
    api: Option<&RestApi>,
    error: &GatewayError,
    ctx: &mut RequestContext,
    request: Option<&MethodRequest>,
) -> RenderedGatewayResponse {
    ctx.set_error(error.kind, error.message.clone());
    let custom = |kind: GatewayResponseType| -> Option<&GatewayResponse> {
        api.and_then(|a| a.gateway_responses.get(&kind))
    };
    let class = GatewayResponseType::class_default(error.status);
    let own = custom(error.kind);
    let class_custom = custom(class);
    let status = own
        .and_then(|c| c.status_code)
        .or_else(|| {
            if own.is_none() {
                class_custom.and_then(|c| c.status_code)
            } else {
                None
            }
        })
        .unwrap_or(error.status);

    let template = own
        .and_then(json_template)
        .or_else(|| class_custom.and_then(json_template))
        .unwrap_or_else(|| default_template(error.kind));
    // Gateway response templates are plain substitution, not Velocity.
    let body = template::substitute(
        template,
        &TemplateInput {
            context: ctx,
            request,
            body: b"",
        },
    );

    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(t) = error.kind.error_type() {
        headers.insert(
            HeaderName::from_static("x-amzn-errortype"),
            HeaderValue::from_static(t),
        );
    }
    // Class-default headers apply first, the type's own override them.
    for custom in [class_custom, own].into_iter().flatten() {
        for (param, source) in &custom.response_parameters {
            let Some(name) = param.strip_prefix("gatewayresponse.header.") else {
                continue;
            };
            let value = eval_source(source, ctx, request, None);
            if let (Ok(name), Some(Ok(value))) = (
                HeaderName::from_bytes(name.as_bytes()),
                value.map(|v| HeaderValue::from_str(&v)),
            ) {
                headers.insert(name, value);
            }
        }
    }
    add_standard_headers(&mut headers, ctx);
    RenderedGatewayResponse {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        headers,
        body: Bytes::from(body),
    }
}

fn json_template(custom: &GatewayResponse) -> Option<&str> {
    custom
        .response_templates
        .get("application/json")
        .or_else(|| custom.response_templates.values().next())
        .map(String::as_str)
}

/// `x-amzn-RequestId`, the request id on every response.
pub(crate) const X_AMZN_REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");
/// `x-amz-apigw-id`, the extended request id.
pub(crate) const X_AMZ_APIGW_ID: HeaderName = HeaderName::from_static("x-amz-apigw-id");
/// `X-Amzn-Trace-Id`, the X-Ray trace header.
pub(crate) const X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

/// How many headers [`add_standard_headers`] adds, for maps sized ahead.
pub const STANDARD_HEADERS: usize = 3;

/// Adds `x-amzn-RequestId`, `x-amz-apigw-id` and `X-Amzn-Trace-Id`.
///
/// The three values share one buffer (one allocation per response rather
/// than one per header); each header is a slice of it.
pub fn add_standard_headers(headers: &mut HeaderMap, ctx: &RequestContext) {
    let (id, ext) = (&ctx.request_id, &ctx.extended_request_id);
    let trace = &ctx.xray_trace_id;
    let mut joined = Vec::with_capacity(id.len() + ext.len() + 5 + trace.len());
    for part in [id.as_bytes(), ext.as_bytes(), b"Root=", trace.as_bytes()] {
        joined.extend_from_slice(part);
    }
    let buf = Bytes::from(joined);
    let ext_at = id.len();
    let trace_at = ext_at + ext.len();
    let values: [_; STANDARD_HEADERS] = [
        (X_AMZN_REQUEST_ID, buf.slice(..ext_at)),
        (X_AMZ_APIGW_ID, buf.slice(ext_at..trace_at)),
        (X_AMZN_TRACE_ID, buf.slice(trace_at..)),
    ];
    for (name, value) in values {
        if let Ok(v) = HeaderValue::from_maybe_shared(value) {
            headers.insert(name, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn ctx() -> RequestContext {
        RequestContext {
            request_id: "11111111-2222-3333-4444-555555555555".into(),
            extended_request_id: "Vts2pH6ArPEFcuQ=".into(),
            xray_trace_id: "1-5c755b5d-07b29b94e632d3da19d88789".into(),
            path: "/dev/x".into(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_match_aws_bytes() {
        let mut c = ctx();
        let r = render(
            None,
            &GatewayError::new(GatewayResponseType::MissingAuthenticationToken),
            &mut c,
            None,
        );
        assert_eq!(r.status, 403);
        assert_eq!(r.body, "{\"message\":\"Missing Authentication Token\"}");
        assert_eq!(r.body.len(), 42);
        assert_eq!(
            r.headers["x-amzn-errortype"],
            "MissingAuthenticationTokenException"
        );
        assert_eq!(
            c.error.response_type,
            Some(GatewayResponseType::MissingAuthenticationToken)
        );
        let r = render(
            None,
            &GatewayError::new(GatewayResponseType::IntegrationTimeout),
            &mut ctx(),
            None,
        );
        assert_eq!((r.status.as_u16(), r.body.len()), (504, 41));
        let r = render(
            None,
            &GatewayError::new(GatewayResponseType::IntegrationFailure).with_status(502),
            &mut ctx(),
            None,
        );
        assert_eq!(
            (r.status.as_u16(), &r.body[..]),
            (502, &b"{\"message\": \"Internal server error\"}"[..])
        );
        assert_eq!(r.body.len(), 36);
    }

    #[test]
    fn customisations_apply_own_then_class_default() {
        let mut api = RestApi::new("abcdefghij", "t");
        api.gateway_responses.insert(
            GatewayResponseType::Default4xx,
            GatewayResponse {
                status_code: None,
                response_parameters: BTreeMap::from([("gatewayresponse.header.Access-Control-Allow-Origin".into(), "'*'".into())]),
                response_templates: BTreeMap::from([("application/json".into(), "{\"error\":$context.error.messageString,\"type\":\"$context.error.responseType\"}".into())]),
            },
        );
        api.gateway_responses.insert(
            GatewayResponseType::RequestTooLarge,
            GatewayResponse {
                status_code: Some(400),
                ..Default::default()
            },
        );
        let r = render(
            Some(&api),
            &GatewayError::new(GatewayResponseType::MissingAuthenticationToken),
            &mut ctx(),
            None,
        );
        assert_eq!(r.status, 403);
        assert_eq!(r.headers["access-control-allow-origin"], "*");
        assert_eq!(r.body, "{\"error\":\"Missing Authentication Token\",\"type\":\"MISSING_AUTHENTICATION_TOKEN\"}");
        // Own customisation: its status, and the class template still applies to the body.
        let r = render(
            Some(&api),
            &GatewayError::new(GatewayResponseType::RequestTooLarge),
            &mut ctx(),
            None,
        );
        assert_eq!(r.status, 400);
        assert_eq!(
            r.body,
            "{\"error\":\"Request Too Long\",\"type\":\"REQUEST_TOO_LARGE\"}"
        );
    }

    /// A gateway response's template is substitution only: AWS does not
    /// run it through the VTL engine, so directives stay as text.
    #[test]
    fn gateway_response_templates_are_not_velocity() {
        let mut api = RestApi::new("abcdefghij", "t");
        api.gateway_responses.insert(
            GatewayResponseType::Default4xx,
            GatewayResponse {
                status_code: None,
                response_parameters: BTreeMap::new(),
                response_templates: BTreeMap::from([(
                    "application/json".into(),
                    "#set($m = 'x'){\"m\":$context.error.messageString,\"n\":\"$m\"}".into(),
                )]),
            },
        );
        let r = render(
            Some(&api),
            &GatewayError::new(GatewayResponseType::MissingAuthenticationToken),
            &mut ctx(),
            None,
        );
        assert_eq!(
            r.body,
            "#set($m = 'x'){\"m\":\"Missing Authentication Token\",\"n\":\"$m\"}"
        );
    }
}
