//! The request context: everything API Gateway knows about one request, the
//! single source of every `$context` variable, plus the ordered execution
//! events that the logging stage renders into execution-log lines.
//!
//! The gateway fills one [`RequestContext`] as the request moves through
//! routing, the integration and the response, records [`ExecutionEvent`]s in
//! order, and when the response body has been fully sent hands both to the
//! [`RecordSink`](crate::sink::RecordSink) as one [`RequestRecord`].

mod events;
mod ids;
mod variables;

pub use events::{
    ExecutionEvent, ExecutionEventKind, ExecutionTrace, FailureKind, HeaderList,
    MAX_STREAMED_BODY_TRACE, STANDARD_LINE_CHARS,
};
pub use ids::{arrival_ms_of, xray_trace_id_from_header, RequestIds};
pub use variables::{ContextValue, ContextVariable};

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gatewatch_model::GatewayResponseType;

/// Who called: `$context.identity.*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// TCP peer address of the client (`identity.sourceIp`).
    pub source_ip: String,
    /// `User-Agent` header (`identity.userAgent`).
    pub user_agent: Option<String>,
    /// API key, for key-required methods (`identity.apiKey`).
    pub api_key: Option<String>,
    /// API key id (`identity.apiKeyId`).
    pub api_key_id: Option<String>,
    /// The authenticated principal (IAM or Cognito), boxed: most requests
    /// have none, and the context of every request stays smaller.
    pub principal: Option<Box<Principal>>,
}

/// An authenticated caller's `$context.identity.*` values (IAM and Cognito).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    /// Caller principal (`identity.caller`), IAM auth only.
    pub caller: Option<String>,
    /// User principal (`identity.user`), IAM auth only.
    pub user: Option<String>,
    /// User ARN (`identity.userArn`), IAM auth only.
    pub user_arn: Option<String>,
    /// Caller account (`identity.accountId`), IAM auth only.
    pub account_id: Option<String>,
    /// Organisation of the caller (`identity.principalOrgId`).
    pub principal_org_id: Option<String>,
    /// `identity.cognitoIdentityId`.
    pub cognito_identity_id: Option<String>,
    /// `identity.cognitoIdentityPoolId`.
    pub cognito_identity_pool_id: Option<String>,
    /// `identity.cognitoAuthenticationType`.
    pub cognito_authentication_type: Option<String>,
    /// `identity.cognitoAuthenticationProvider`.
    pub cognito_authentication_provider: Option<String>,
}

impl Principal {
    /// No principal: every value unset.
    pub const NONE: Principal = Principal {
        caller: None,
        user: None,
        user_arn: None,
        account_id: None,
        principal_org_id: None,
        cognito_identity_id: None,
        cognito_identity_pool_id: None,
        cognito_authentication_type: None,
        cognito_authentication_provider: None,
    };
}

/// What the integration did: `$context.integration.*`, `integrationLatency`,
/// `integrationStatus`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrationOutcome {
    /// Status returned by the integration (for Lambda proxy, the function's
    /// `statusCode`): `integration.status`.
    pub status: Option<u16>,
    /// For Lambda proxy, the Lambda service's status: `integration.integrationStatus`
    /// and `integrationStatus`.
    pub integration_status: Option<u16>,
    /// Milliseconds spent waiting for the integration: `integration.latency`,
    /// `integrationLatency`.
    pub latency_ms: Option<u64>,
    /// Error returned by the integration: `integration.error`.
    pub error: Option<String>,
    /// Backend request id (`integration.requestId`, `awsEndpointRequestId`).
    pub request_id: Option<String>,
}

/// A gateway error: `$context.error.*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorInfo {
    /// `error.message` (`Missing Authentication Token`).
    pub message: Option<String>,
    /// `error.responseType` (`MISSING_AUTHENTICATION_TOKEN`).
    pub response_type: Option<GatewayResponseType>,
    /// `error.validationErrorString`.
    pub validation_error: Option<String>,
}

/// Authorizer results: `$context.authorizer.*`, `authorize.*`, `authenticate.*`.
/// Filled by the authorizer support; empty until then.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizerInfo {
    /// `authorizer.principalId`.
    pub principal_id: Option<String>,
    /// `authorizer.{property}` entries of the authorizer's context map.
    pub context: Vec<(String, String)>,
    /// `authorizer.claims.{property}` (Cognito).
    pub claims: Vec<(String, String)>,
    /// `authorizer.error`.
    pub error: Option<String>,
    /// `authorizer.latency`.
    pub latency_ms: Option<u64>,
    /// `authorizer.integrationLatency`.
    pub integration_latency_ms: Option<u64>,
    /// `authorizer.integrationStatus`.
    pub integration_status: Option<u16>,
    /// `authorizer.status`.
    pub status: Option<u16>,
    /// `authorizer.requestId`.
    pub request_id: Option<String>,
    /// `authorize.error`, `authorize.latency`, `authorize.status`.
    pub authorize: StepOutcome,
    /// `authenticate.error`, `authenticate.latency`, `authenticate.status`.
    pub authenticate: StepOutcome,
}

impl AuthorizerInfo {
    /// No authorizer ran: every value unset.
    pub const NONE: AuthorizerInfo = AuthorizerInfo {
        principal_id: None,
        context: Vec::new(),
        claims: Vec::new(),
        error: None,
        latency_ms: None,
        integration_latency_ms: None,
        integration_status: None,
        status: None,
        request_id: None,
        authorize: StepOutcome::NONE,
        authenticate: StepOutcome::NONE,
    };
}

/// Error, latency and status of one request step (authorize, authenticate, WAF).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepOutcome {
    /// The step's error message.
    pub error: Option<String>,
    /// Milliseconds the step took.
    pub latency_ms: Option<u64>,
    /// The step's status code.
    pub status: Option<u16>,
}

impl StepOutcome {
    /// The step did not run.
    pub const NONE: StepOutcome = StepOutcome {
        error: None,
        latency_ms: None,
        status: None,
    };
}

/// Everything known about one request. Every field backs one or more
/// `$context` variables; see [`ContextVariable`] for the mapping.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// `accountId`: the API owner's account (shared with the deployments:
    /// names from configuration are reference-counted, not copied per request).
    pub account_id: Arc<str>,
    /// `apiId`.
    pub api_id: Arc<str>,
    /// `requestId`, also the `x-amzn-RequestId` response header.
    pub request_id: String,
    /// `extendedRequestId`, also the `x-amz-apigw-id` response header.
    pub extended_request_id: String,
    /// When the request arrived (`requestTime`, `requestTimeEpoch`).
    pub request_time: Option<SystemTime>,
    /// `httpMethod`; the standard methods borrow a static name (no
    /// allocation per request).
    pub http_method: Cow<'static, str>,
    /// `path`: the request path including the stage, still URL-encoded.
    pub path: String,
    /// The path without the stage (`/pets/1`), as execution logs print it.
    pub path_without_stage: String,
    /// `resourcePath`: the matched resource template.
    pub resource_path: Option<Arc<str>>,
    /// `resourceId`.
    pub resource_id: Option<Arc<str>>,
    /// The matched method's key on its resource (`GET`, or `ANY`), as
    /// execution logs and method settings name it; the standard methods
    /// borrow a static name.
    pub method_key: Option<Cow<'static, str>>,
    /// `stage`.
    pub stage: Arc<str>,
    /// `deploymentId`.
    pub deployment_id: Option<Arc<str>>,
    /// `domainName`: the `Host` the client used.
    pub domain_name: String,
    /// `protocol` (`HTTP/1.1`), a static name.
    pub protocol: Cow<'static, str>,
    /// `identity.*`.
    pub identity: Identity,
    /// `status`: the method response status sent to the client.
    pub status: Option<u16>,
    /// `responseLength`: bytes of the response body sent.
    pub response_length: Option<u64>,
    /// `responseLatency`: milliseconds from arrival to the last body byte.
    pub response_latency_ms: Option<u64>,
    /// `integration.*`, `integrationLatency`, `integrationStatus`.
    pub integration: IntegrationOutcome,
    /// `error.*`.
    pub error: ErrorInfo,
    /// `authorizer.*`, `authorize.*`, `authenticate.*`; boxed, and `None`
    /// until an authorizer runs.
    pub authorizer: Option<Box<AuthorizerInfo>>,
    /// `waf.*` (no WAF in Gatewatch: stays empty).
    pub waf: StepOutcome,
    /// `xrayTraceId` (the `Root=` part of `X-Amzn-Trace-Id`).
    pub xray_trace_id: String,
    /// `isCanaryRequest`.
    pub is_canary_request: bool,
    /// `customDomain.basePathMatched`.
    pub custom_domain_base_path_matched: Option<String>,
    /// Whether the stage's method setting asked for full request/response data.
    pub data_trace: bool,
    /// A TestInvokeMethod call: the request did not come through API
    /// Gateway's front end, so it has only the headers the caller gave.
    pub test_invoke: bool,
}

impl RequestContext {
    /// `domainPrefix`: the first label of `domainName` (its port cut).
    pub fn domain_prefix(&self) -> &str {
        self.domain_name.split(['.', ':']).next().unwrap_or("")
    }

    /// Whether the request failed: an error status (the integration
    /// response's or a gateway response's) or a gateway response of any
    /// status. Failed requests get error-level closing lines and, under
    /// errors-only tracing, their full detail.
    pub fn failed(&self) -> bool {
        self.status.is_some_and(|s| s >= 400) || self.error.response_type.is_some()
    }

    /// `requestTimeEpoch`: milliseconds since the Unix epoch.
    pub fn request_time_epoch_ms(&self) -> Option<u128> {
        self.request_time
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|d| d.as_millis())
    }

    /// `requestTime` in CLF form: `27/Oct/2023:13:40:57 +0000`.
    pub fn request_time_clf(&self) -> Option<String> {
        self.request_time.map(clf_time)
    }

    /// Records a gateway error on the context.
    pub fn set_error(&mut self, kind: GatewayResponseType, message: impl Into<String>) {
        self.error.response_type = Some(kind);
        self.error.message = Some(message.into());
    }
}

/// Formats a time as CLF (`dd/MMM/yyyy:HH:mm:ss +0000`, UTC, English months).
///
/// Every access line with `$context.requestTime` calls this, so the digits
/// are written straight into a fixed-size buffer rather than through
/// `format!`'s padding machinery.
pub fn clf_time(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    // Requests of the same second share their text: each thread keeps the
    // last second it formatted (the calendar conversion is most of the cost).
    thread_local! {
        static LAST: std::cell::Cell<Option<(u64, [u8; 26])>> = const { std::cell::Cell::new(None) };
    }
    let line = match LAST.get() {
        Some((at, line)) if at == secs => line,
        _ => {
            let line = clf_line(secs);
            LAST.set(Some((secs, line)));
            line
        }
    };
    ids::ascii_string(&line)
}

/// `dd/MMM/yyyy:HH:mm:ss +0000` for `secs` after the epoch, as bytes.
fn clf_line(secs: u64) -> [u8; 26] {
    let dt = time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    fn digits(out: &mut [u8], mut n: u32) {
        for d in out.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
    let mut line = *b"dd/MMM/yyyy:HH:mm:ss +0000";
    digits(&mut line[0..2], u32::from(dt.day()));
    line[3..6].copy_from_slice(MONTHS[dt.month() as usize - 1]);
    // Years past 9999 are not representable by the default time range.
    digits(&mut line[7..11], dt.year().clamp(0, 9999) as u32);
    digits(&mut line[12..14], u32::from(dt.hour()));
    digits(&mut line[15..17], u32::from(dt.minute()));
    digits(&mut line[18..20], u32::from(dt.second()));
    line
}

/// Appends `ip` as `Display` writes it. IPv4 addresses, every client on
/// loopback and most behind a proxy, take a path without `fmt`, which costs
/// over a thousand instructions per address (four `u8` formats).
pub fn push_ip(out: &mut String, ip: std::net::IpAddr) {
    match ip {
        std::net::IpAddr::V4(v4) => {
            // One allocation for an empty string: at most 15 bytes.
            out.reserve(15);
            let mut digits = itoa::Buffer::new();
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(digits.format(octet));
            }
        }
        std::net::IpAddr::V6(v6) => {
            use std::fmt::Write as _;
            // Writing to a String cannot fail.
            let _ = write!(out, "{v6}");
        }
    }
}

/// One finished request: its context and execution trace, what the gateway
/// hands to the logging stage.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// The filled request context, boxed so that handing the record from
    /// the response body to the log queue and on to the writer moves a
    /// pointer, not the context's couple of kilobytes.
    pub context: Box<RequestContext>,
    /// Execution events in the order they happened.
    pub events: Vec<ExecutionEvent>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_addresses_are_written_as_display_writes_them() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.30.40",
            "192.168.100.255",
            "255.255.255.255",
            "::1",
            "::ffff:127.0.0.1",
            "2001:db8::8a2e:370:7334",
        ] {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            let mut out = String::from("x ");
            push_ip(&mut out, ip);
            assert_eq!(out, format!("x {ip}"));
        }
        for octet in 0..=255u8 {
            let ip = std::net::IpAddr::from([octet, 0, 99, octet]);
            let mut out = String::new();
            push_ip(&mut out, ip);
            assert_eq!(out, ip.to_string());
        }
    }

    #[test]
    fn clf_time_matches_aws() {
        // 2023-10-27T13:40:57.744Z, the MoJ sample.
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_698_414_057_744);
        assert_eq!(clf_time(t), "27/Oct/2023:13:40:57 +0000");
        // The same second again comes from the thread's cache; another
        // second replaces it, and the first still formats right after.
        assert_eq!(clf_time(t), "27/Oct/2023:13:40:57 +0000");
        let next = t + Duration::from_secs(1);
        assert_eq!(clf_time(next), "27/Oct/2023:13:40:58 +0000");
        assert_eq!(clf_time(t), "27/Oct/2023:13:40:57 +0000");
        let ctx = RequestContext {
            request_time: Some(t),
            ..Default::default()
        };
        assert_eq!(ctx.request_time_epoch_ms(), Some(1_698_414_057_744));
        assert_eq!(
            ctx.request_time_clf().as_deref(),
            Some("27/Oct/2023:13:40:57 +0000")
        );
    }

    #[test]
    fn clf_time_agrees_with_the_calendar_across_years() {
        // Every month and both one- and two-digit fields, checked against
        // the time crate's own formatting of the same instant.
        let fmt = time::macros::format_description!(
            "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
        );
        let mut secs: u64 = 0;
        while secs < 4_102_444_800 {
            let t = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
            let expected = time::OffsetDateTime::from_unix_timestamp(secs as i64)
                .unwrap()
                .format(fmt)
                .unwrap();
            assert_eq!(clf_time(t), expected, "at {secs}");
            secs += 86_400 * 17 + 3_671;
        }
    }
}
