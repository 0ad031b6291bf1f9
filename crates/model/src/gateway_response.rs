//! Gateway responses: the responses API Gateway itself produces when a request
//! fails before or around the integration (unknown route, timeout, …).
//!
//! Statuses and bodies follow AWS's defaults (see
//! `shared/spec/apigateway-logging.md` §4.1). Where AWS's text is not verified
//! we use the message a user of API Gateway most often sees for that type.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Every gateway response type API Gateway knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum GatewayResponseType {
    AccessDenied,
    ApiConfigurationError,
    AuthorizerConfigurationError,
    AuthorizerFailure,
    BadRequestParameters,
    BadRequestBody,
    Default4xx,
    Default5xx,
    ExpiredToken,
    IntegrationFailure,
    IntegrationTimeout,
    InvalidApiKey,
    InvalidSignature,
    MissingAuthenticationToken,
    QuotaExceeded,
    RequestTooLarge,
    ResourceNotFound,
    Throttled,
    Unauthorized,
    UnsupportedMediaType,
    WafFiltered,
}

impl GatewayResponseType {
    /// All types, in AWS's documentation order.
    pub const ALL: [GatewayResponseType; 21] = [
        Self::AccessDenied,
        Self::ApiConfigurationError,
        Self::AuthorizerConfigurationError,
        Self::AuthorizerFailure,
        Self::BadRequestParameters,
        Self::BadRequestBody,
        Self::Default4xx,
        Self::Default5xx,
        Self::ExpiredToken,
        Self::IntegrationFailure,
        Self::IntegrationTimeout,
        Self::InvalidApiKey,
        Self::InvalidSignature,
        Self::MissingAuthenticationToken,
        Self::QuotaExceeded,
        Self::RequestTooLarge,
        Self::ResourceNotFound,
        Self::Throttled,
        Self::Unauthorized,
        Self::UnsupportedMediaType,
        Self::WafFiltered,
    ];

    /// The name AWS uses (`MISSING_AUTHENTICATION_TOKEN`), which is also the
    /// value of `$context.error.responseType`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessDenied => "ACCESS_DENIED",
            Self::ApiConfigurationError => "API_CONFIGURATION_ERROR",
            Self::AuthorizerConfigurationError => "AUTHORIZER_CONFIGURATION_ERROR",
            Self::AuthorizerFailure => "AUTHORIZER_FAILURE",
            Self::BadRequestParameters => "BAD_REQUEST_PARAMETERS",
            Self::BadRequestBody => "BAD_REQUEST_BODY",
            Self::Default4xx => "DEFAULT_4XX",
            Self::Default5xx => "DEFAULT_5XX",
            Self::ExpiredToken => "EXPIRED_TOKEN",
            Self::IntegrationFailure => "INTEGRATION_FAILURE",
            Self::IntegrationTimeout => "INTEGRATION_TIMEOUT",
            Self::InvalidApiKey => "INVALID_API_KEY",
            Self::InvalidSignature => "INVALID_SIGNATURE",
            Self::MissingAuthenticationToken => "MISSING_AUTHENTICATION_TOKEN",
            Self::QuotaExceeded => "QUOTA_EXCEEDED",
            Self::RequestTooLarge => "REQUEST_TOO_LARGE",
            Self::ResourceNotFound => "RESOURCE_NOT_FOUND",
            Self::Throttled => "THROTTLED",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::WafFiltered => "WAF_FILTERED",
        }
    }

    /// The type's own default status; `None` for `DEFAULT_4XX`/`DEFAULT_5XX`,
    /// whose status comes from the concrete error.
    pub fn default_status(self) -> Option<u16> {
        Some(match self {
            Self::AccessDenied => 403,
            Self::ApiConfigurationError => 500,
            Self::AuthorizerConfigurationError => 500,
            Self::AuthorizerFailure => 500,
            Self::BadRequestParameters | Self::BadRequestBody => 400,
            Self::Default4xx | Self::Default5xx => return None,
            Self::ExpiredToken => 403,
            Self::IntegrationFailure => 504,
            Self::IntegrationTimeout => 504,
            Self::InvalidApiKey => 403,
            Self::InvalidSignature => 403,
            Self::MissingAuthenticationToken => 403,
            Self::QuotaExceeded => 429,
            Self::RequestTooLarge => 413,
            Self::ResourceNotFound => 404,
            Self::Throttled => 429,
            Self::Unauthorized => 401,
            Self::UnsupportedMediaType => 415,
            Self::WafFiltered => 403,
        })
    }

    /// The `x-amzn-ErrorType` header value AWS sends with this type, if any.
    pub fn error_type(self) -> Option<&'static str> {
        Some(match self {
            Self::AccessDenied => "AccessDeniedException",
            Self::ApiConfigurationError => "InternalServerErrorException",
            Self::AuthorizerConfigurationError | Self::AuthorizerFailure => {
                "AuthorizerConfigurationException"
            }
            Self::BadRequestParameters | Self::BadRequestBody => "BadRequestException",
            Self::ExpiredToken => "ExpiredTokenException",
            Self::IntegrationFailure | Self::IntegrationTimeout => "InternalServerErrorException",
            Self::InvalidApiKey => "ForbiddenException",
            Self::InvalidSignature => "InvalidSignatureException",
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::QuotaExceeded => "LimitExceededException",
            Self::RequestTooLarge => "RequestTooLargeException",
            Self::ResourceNotFound => "NotFoundException",
            Self::Throttled => "TooManyRequestsException",
            Self::Unauthorized => "UnauthorizedException",
            Self::UnsupportedMediaType => "UnsupportedMediaTypeException",
            Self::WafFiltered => "ForbiddenException",
            Self::Default4xx | Self::Default5xx => return None,
        })
    }

    /// The class default a type falls back to when it has no customisation.
    pub fn class_default(status: u16) -> GatewayResponseType {
        if status >= 500 {
            Self::Default5xx
        } else {
            Self::Default4xx
        }
    }
}

impl fmt::Display for GatewayResponseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GatewayResponseType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|t| t.as_str() == s).ok_or(())
    }
}

/// A customised gateway response, as in `x-amazon-apigateway-gateway-responses`
/// or PutGatewayResponse.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayResponse {
    /// Status override (`statusCode`); `None` keeps the type's status.
    pub status_code: Option<u16>,
    /// `gatewayresponse.header.{name}` → mapping expression (`'literal'`,
    /// `method.request.header.x`, `stageVariables.x`, `context.x`).
    pub response_parameters: BTreeMap<String, String>,
    /// Content type → body template.
    pub response_templates: BTreeMap<String, String>,
}

/// The default body template of every gateway response.
pub const DEFAULT_GATEWAY_RESPONSE_TEMPLATE: &str = "{\"message\":$context.error.messageString}";
