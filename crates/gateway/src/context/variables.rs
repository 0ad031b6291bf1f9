//! `$context` variables: names parsed once into [`ContextVariable`]s, each
//! resolved against a [`RequestContext`]. This is the one place that knows
//! which field backs which variable; access-log templates, gateway-response
//! templates and parameter mappings all go through it.

use std::borrow::Cow;

use super::{AuthorizerInfo, Principal, RequestContext};

/// A `$context` variable, parsed from its name (without `$context.`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum ContextVariable {
    AccountId,
    ApiId,
    AuthorizeError,
    AuthorizeLatency,
    AuthorizeStatus,
    AuthenticateError,
    AuthenticateLatency,
    AuthenticateStatus,
    /// `authorizer.claims.{property}`.
    AuthorizerClaim(String),
    AuthorizerError,
    AuthorizerIntegrationLatency,
    AuthorizerIntegrationStatus,
    AuthorizerLatency,
    AuthorizerPrincipalId,
    AuthorizerRequestId,
    AuthorizerStatus,
    /// `authorizer.{property}` of the authorizer's context map.
    AuthorizerProperty(String),
    AwsEndpointRequestId,
    AwsEndpointRequestId2,
    CustomDomainBasePathMatched,
    DataProcessed,
    DeploymentId,
    DomainName,
    DomainPrefix,
    EndpointType,
    ErrorMessage,
    ErrorMessageString,
    ErrorResponseType,
    ErrorValidationErrorString,
    ExtendedRequestId,
    HttpMethod,
    IdentityAccountId,
    IdentityApiKey,
    IdentityApiKeyId,
    IdentityCaller,
    IdentityClientCert(&'static str),
    IdentityCognitoAuthenticationProvider,
    IdentityCognitoAuthenticationType,
    IdentityCognitoIdentityId,
    IdentityCognitoIdentityPoolId,
    IdentityPrincipalOrgId,
    IdentitySourceIp,
    IdentityUser,
    IdentityUserAgent,
    IdentityUserArn,
    IntegrationError,
    IntegrationIntegrationStatus,
    IntegrationLatency,
    IntegrationRequestId,
    IntegrationStatus,
    /// `integrationLatency` (top-level alias).
    IntegrationLatencyAlias,
    /// `integrationStatus` (top-level alias).
    IntegrationStatusAlias,
    IsCanaryRequest,
    Path,
    Protocol,
    RequestId,
    RequestOverride(String),
    ResponseOverride(String),
    RequestTime,
    RequestTimeEpoch,
    ResourceId,
    ResourcePath,
    ResponseLatency,
    ResponseLength,
    Stage,
    Status,
    WafError,
    WafLatency,
    WafStatus,
    WafResponseCode,
    WebAclArn,
    XrayTraceId,
}

impl ContextVariable {
    /// Parses a variable name such as `identity.sourceIp`; `None` when AWS
    /// has no such variable.
    pub fn parse(name: &str) -> Option<ContextVariable> {
        use ContextVariable::*;
        let v = match name {
            "accountId" => AccountId,
            "apiId" => ApiId,
            "authorize.error" => AuthorizeError,
            "authorize.latency" => AuthorizeLatency,
            "authorize.status" => AuthorizeStatus,
            "authenticate.error" => AuthenticateError,
            "authenticate.latency" => AuthenticateLatency,
            "authenticate.status" => AuthenticateStatus,
            "authorizer.error" => AuthorizerError,
            "authorizer.integrationLatency" => AuthorizerIntegrationLatency,
            "authorizer.integrationStatus" => AuthorizerIntegrationStatus,
            "authorizer.latency" => AuthorizerLatency,
            "authorizer.principalId" => AuthorizerPrincipalId,
            "authorizer.requestId" => AuthorizerRequestId,
            "authorizer.status" => AuthorizerStatus,
            "awsEndpointRequestId" => AwsEndpointRequestId,
            "awsEndpointRequestId2" => AwsEndpointRequestId2,
            "customDomain.basePathMatched" => CustomDomainBasePathMatched,
            "dataProcessed" => DataProcessed,
            "deploymentId" => DeploymentId,
            "domainName" => DomainName,
            "domainPrefix" => DomainPrefix,
            "endpointType" => EndpointType,
            "error.message" => ErrorMessage,
            "error.messageString" => ErrorMessageString,
            "error.responseType" => ErrorResponseType,
            "error.validationErrorString" => ErrorValidationErrorString,
            "extendedRequestId" => ExtendedRequestId,
            "httpMethod" => HttpMethod,
            "identity.accountId" => IdentityAccountId,
            "identity.apiKey" => IdentityApiKey,
            "identity.apiKeyId" => IdentityApiKeyId,
            "identity.caller" => IdentityCaller,
            "identity.clientCert.clientCertPem" => IdentityClientCert("clientCertPem"),
            "identity.clientCert.subjectDN" => IdentityClientCert("subjectDN"),
            "identity.clientCert.issuerDN" => IdentityClientCert("issuerDN"),
            "identity.clientCert.serialNumber" => IdentityClientCert("serialNumber"),
            "identity.clientCert.validity.notBefore" => IdentityClientCert("validity.notBefore"),
            "identity.clientCert.validity.notAfter" => IdentityClientCert("validity.notAfter"),
            "identity.cognitoAuthenticationProvider" => IdentityCognitoAuthenticationProvider,
            "identity.cognitoAuthenticationType" => IdentityCognitoAuthenticationType,
            "identity.cognitoIdentityId" => IdentityCognitoIdentityId,
            "identity.cognitoIdentityPoolId" => IdentityCognitoIdentityPoolId,
            "identity.principalOrgId" => IdentityPrincipalOrgId,
            "identity.sourceIp" => IdentitySourceIp,
            "identity.user" => IdentityUser,
            "identity.userAgent" => IdentityUserAgent,
            "identity.userArn" => IdentityUserArn,
            "integration.error" => IntegrationError,
            "integration.integrationStatus" => IntegrationIntegrationStatus,
            "integration.latency" => IntegrationLatency,
            "integration.requestId" => IntegrationRequestId,
            "integration.status" => IntegrationStatus,
            "integrationLatency" => IntegrationLatencyAlias,
            "integrationStatus" => IntegrationStatusAlias,
            "isCanaryRequest" => IsCanaryRequest,
            "path" => Path,
            "protocol" => Protocol,
            "requestId" => RequestId,
            "requestTime" => RequestTime,
            "requestTimeEpoch" => RequestTimeEpoch,
            "resourceId" => ResourceId,
            "resourcePath" => ResourcePath,
            "responseLatency" => ResponseLatency,
            "responseLength" => ResponseLength,
            "stage" => Stage,
            "status" => Status,
            "waf.error" => WafError,
            "waf.latency" => WafLatency,
            "waf.status" => WafStatus,
            "wafResponseCode" => WafResponseCode,
            "webaclArn" => WebAclArn,
            "xrayTraceId" => XrayTraceId,
            other => {
                if let Some(claim) = other.strip_prefix("authorizer.claims.") {
                    return valid_property(claim).then(|| AuthorizerClaim(claim.to_string()));
                }
                if let Some(key) = other.strip_prefix("requestOverride.") {
                    return (!key.is_empty()).then(|| RequestOverride(key.to_string()));
                }
                if let Some(key) = other.strip_prefix("responseOverride.") {
                    return (!key.is_empty()).then(|| ResponseOverride(key.to_string()));
                }
                if let Some(prop) = other.strip_prefix("authorizer.") {
                    return valid_property(prop).then(|| AuthorizerProperty(prop.to_string()));
                }
                return None;
            }
        };
        Some(v)
    }

    /// True for variables whose text Gatewatch formats itself from checked
    /// input, so it never holds a control character: request ids (a
    /// client's `x-amzn-RequestId` is kept only when it is a UUID), the
    /// extended request id, request times, the HTTP method (a token, as the
    /// HTTP parser accepts it), the protocol, the source IP and the X-Ray
    /// trace id (a client's only when it has the trace-id shape). An access
    /// line copies these without looking for characters to escape.
    pub fn is_plain_text(&self) -> bool {
        use ContextVariable::*;
        matches!(
            self,
            RequestId
                | ExtendedRequestId
                | RequestTime
                | RequestTimeEpoch
                | HttpMethod
                | Protocol
                | IdentitySourceIp
                | XrayTraceId
        )
    }

    /// The variable's value for this request; `None` when unset (access logs
    /// print `-`).
    pub fn value<'a>(&self, ctx: &'a RequestContext) -> Option<Cow<'a, str>> {
        self.typed_value(ctx).map(ContextValue::into_text)
    }

    /// The variable's value with numbers kept as numbers, so a renderer can
    /// write their digits straight into its line instead of allocating a
    /// string per number; `None` when unset.
    pub fn typed_value<'a>(&self, ctx: &'a RequestContext) -> Option<ContextValue<'a>> {
        use ContextVariable::*;
        fn s<T: std::ops::Deref<Target = str>>(v: &Option<T>) -> Option<ContextValue<'_>> {
            v.as_deref().map(|v| ContextValue::Text(Cow::Borrowed(v)))
        }
        fn n<T: Into<u128>>(v: Option<T>) -> Option<ContextValue<'static>> {
            v.map(|x| ContextValue::Number(x.into()))
        }
        fn nonempty(v: &str) -> Option<ContextValue<'_>> {
            (!v.is_empty()).then_some(ContextValue::Text(Cow::Borrowed(v)))
        }
        fn text(v: &str) -> Option<ContextValue<'_>> {
            Some(ContextValue::Text(Cow::Borrowed(v)))
        }
        static NO_AUTHORIZER: AuthorizerInfo = AuthorizerInfo::NONE;
        static NO_PRINCIPAL: Principal = Principal::NONE;
        let auth = ctx.authorizer.as_deref().unwrap_or(&NO_AUTHORIZER);
        let who = ctx.identity.principal.as_deref().unwrap_or(&NO_PRINCIPAL);
        match self {
            AccountId => nonempty(&ctx.account_id),
            ApiId => nonempty(&ctx.api_id),
            AuthorizeError => s(&auth.authorize.error),
            AuthorizeLatency => n(auth.authorize.latency_ms),
            AuthorizeStatus => n(auth.authorize.status),
            AuthenticateError => s(&auth.authenticate.error),
            AuthenticateLatency => n(auth.authenticate.latency_ms),
            AuthenticateStatus => n(auth.authenticate.status),
            AuthorizerClaim(name) => lookup(&auth.claims, name),
            AuthorizerError => s(&auth.error),
            AuthorizerIntegrationLatency => n(auth.integration_latency_ms),
            AuthorizerIntegrationStatus => n(auth.integration_status),
            AuthorizerLatency => n(auth.latency_ms),
            AuthorizerPrincipalId => s(&auth.principal_id),
            AuthorizerRequestId => s(&auth.request_id),
            AuthorizerStatus => n(auth.status),
            AuthorizerProperty(name) => lookup(&auth.context, name),
            AwsEndpointRequestId => s(&ctx.integration.request_id),
            AwsEndpointRequestId2 => None,
            CustomDomainBasePathMatched => s(&ctx.custom_domain_base_path_matched),
            DataProcessed => None,
            DeploymentId => s(&ctx.deployment_id),
            DomainName => nonempty(&ctx.domain_name),
            DomainPrefix => nonempty(ctx.domain_prefix()),
            EndpointType => text("REGIONAL"),
            ErrorMessage => s(&ctx.error.message),
            ErrorMessageString => ctx.error.message.as_deref().map(|m| {
                ContextValue::Text(Cow::Owned(
                    serde_json::Value::String(m.to_string()).to_string(),
                ))
            }),
            ErrorResponseType => ctx.error.response_type.and_then(|t| text(t.as_str())),
            ErrorValidationErrorString => s(&ctx.error.validation_error),
            ExtendedRequestId => nonempty(&ctx.extended_request_id),
            HttpMethod => nonempty(&ctx.http_method),
            IdentityAccountId => s(&who.account_id),
            IdentityApiKey => s(&ctx.identity.api_key),
            IdentityApiKeyId => s(&ctx.identity.api_key_id),
            IdentityCaller => s(&who.caller),
            IdentityClientCert(_) => None,
            IdentityCognitoAuthenticationProvider => s(&who.cognito_authentication_provider),
            IdentityCognitoAuthenticationType => s(&who.cognito_authentication_type),
            IdentityCognitoIdentityId => s(&who.cognito_identity_id),
            IdentityCognitoIdentityPoolId => s(&who.cognito_identity_pool_id),
            IdentityPrincipalOrgId => s(&who.principal_org_id),
            IdentitySourceIp => nonempty(&ctx.identity.source_ip),
            IdentityUser => s(&who.user),
            IdentityUserAgent => s(&ctx.identity.user_agent),
            IdentityUserArn => s(&who.user_arn),
            IntegrationError => s(&ctx.integration.error),
            IntegrationIntegrationStatus | IntegrationStatusAlias => {
                n(ctx.integration.integration_status)
            }
            IntegrationLatency | IntegrationLatencyAlias => n(ctx.integration.latency_ms),
            IntegrationRequestId => s(&ctx.integration.request_id),
            IntegrationStatus => n(ctx.integration.status),
            IsCanaryRequest => {
                if ctx.is_canary_request {
                    text("true")
                } else {
                    None
                }
            }
            Path => nonempty(&ctx.path),
            Protocol => nonempty(&ctx.protocol),
            RequestId => nonempty(&ctx.request_id),
            RequestOverride(_) | ResponseOverride(_) => None,
            RequestTime => ctx
                .request_time_clf()
                .map(|t| ContextValue::Text(Cow::Owned(t))),
            RequestTimeEpoch => n(ctx.request_time_epoch_ms()),
            ResourceId => s(&ctx.resource_id),
            ResourcePath => s(&ctx.resource_path),
            ResponseLatency => n(ctx.response_latency_ms),
            ResponseLength => n(ctx.response_length),
            Stage => nonempty(&ctx.stage),
            Status => n(ctx.status),
            WafError => s(&ctx.waf.error),
            WafLatency => n(ctx.waf.latency_ms),
            WafStatus => n(ctx.waf.status),
            WafResponseCode | WebAclArn => None,
            XrayTraceId => nonempty(&ctx.xray_trace_id),
        }
    }
}

fn lookup<'a>(pairs: &'a [(String, String)], name: &str) -> Option<ContextValue<'a>> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| ContextValue::Text(Cow::Borrowed(v.as_str())))
}

/// A `$context` value: text, or a number (a status, a latency, a length,
/// an epoch time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextValue<'a> {
    /// Text, borrowed from the context where it can be.
    Text(Cow<'a, str>),
    /// A non-negative integer, printed in decimal.
    Number(u128),
}

impl<'a> ContextValue<'a> {
    /// The value as text.
    pub fn into_text(self) -> Cow<'a, str> {
        match self {
            ContextValue::Text(t) => t,
            ContextValue::Number(n) => Cow::Owned(n.to_string()),
        }
    }
}

/// Authorizer property names: letters, digits and `_` only.
fn valid_property(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{IntegrationOutcome, RequestContext};
    use gatewatch_model::GatewayResponseType;

    #[test]
    fn every_spec_variable_parses() {
        for name in [
            "accountId",
            "apiId",
            "authorize.error",
            "authorize.latency",
            "authorize.status",
            "authenticate.error",
            "authenticate.latency",
            "authenticate.status",
            "authorizer.claims.email",
            "authorizer.error",
            "authorizer.integrationLatency",
            "authorizer.integrationStatus",
            "authorizer.latency",
            "authorizer.principalId",
            "authorizer.tenant_id",
            "authorizer.requestId",
            "authorizer.status",
            "awsEndpointRequestId",
            "awsEndpointRequestId2",
            "customDomain.basePathMatched",
            "dataProcessed",
            "deploymentId",
            "domainName",
            "domainPrefix",
            "endpointType",
            "error.message",
            "error.messageString",
            "error.responseType",
            "error.validationErrorString",
            "extendedRequestId",
            "httpMethod",
            "identity.accountId",
            "identity.apiKey",
            "identity.apiKeyId",
            "identity.caller",
            "identity.clientCert.clientCertPem",
            "identity.clientCert.subjectDN",
            "identity.clientCert.issuerDN",
            "identity.clientCert.serialNumber",
            "identity.clientCert.validity.notBefore",
            "identity.clientCert.validity.notAfter",
            "identity.cognitoAuthenticationProvider",
            "identity.cognitoAuthenticationType",
            "identity.cognitoIdentityId",
            "identity.cognitoIdentityPoolId",
            "identity.principalOrgId",
            "identity.sourceIp",
            "identity.user",
            "identity.userAgent",
            "identity.userArn",
            "integration.error",
            "integration.integrationStatus",
            "integration.latency",
            "integration.requestId",
            "integration.status",
            "integrationLatency",
            "integrationStatus",
            "isCanaryRequest",
            "path",
            "protocol",
            "requestId",
            "requestTime",
            "requestTimeEpoch",
            "resourceId",
            "resourcePath",
            "responseLatency",
            "responseLength",
            "stage",
            "status",
            "waf.error",
            "waf.latency",
            "waf.status",
            "wafResponseCode",
            "webaclArn",
            "xrayTraceId",
        ] {
            assert!(ContextVariable::parse(name).is_some(), "{name}");
        }
        for bad in [
            "nope",
            "identity.nope",
            "authorizer.",
            "authorizer.a-b",
            "error",
        ] {
            assert!(ContextVariable::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn values_come_from_the_context() {
        let ctx = RequestContext {
            request_id: "rid".into(),
            status: Some(504),
            integration: IntegrationOutcome {
                latency_ms: Some(29001),
                ..Default::default()
            },
            error: crate::context::ErrorInfo {
                message: Some("Endpoint request timed out".into()),
                response_type: Some(GatewayResponseType::IntegrationTimeout),
                validation_error: None,
            },
            ..Default::default()
        };
        let get = |n: &str| {
            ContextVariable::parse(n)
                .unwrap()
                .value(&ctx)
                .map(|v| v.into_owned())
        };
        assert_eq!(get("requestId").as_deref(), Some("rid"));
        assert_eq!(get("status").as_deref(), Some("504"));
        assert_eq!(get("integrationLatency").as_deref(), Some("29001"));
        assert_eq!(
            get("error.messageString").as_deref(),
            Some("\"Endpoint request timed out\"")
        );
        assert_eq!(
            get("error.responseType").as_deref(),
            Some("INTEGRATION_TIMEOUT")
        );
        assert_eq!(get("identity.caller"), None);
        assert_eq!(get("responseLength"), None);
    }
}
