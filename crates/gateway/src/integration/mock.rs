//! MOCK integrations: API Gateway answers by itself. The request template's
//! output must be JSON with an integer `statusCode`, which selects the
//! integration response; that response's template is the body.

use gatewatch_model::Integration;
use http::HeaderMap;

use super::mapping::{integration_request_body, map_response, BackendView};
use super::IntegrationReply;
use crate::context::{ExecutionTrace, RequestContext};
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
    let (body, _, _) = integration_request_body(integration, request, ctx)?;
    let status = status_code(&body).filter(|s| (100..=599).contains(s));
    let Some(status) = status else {
        return Err(GatewayError::configuration(BAD_STATUS_CODE));
    };
    ctx.integration.status = Some(status as u16);
    ctx.integration.latency_ms = Some(0);
    let empty = HeaderMap::new();
    let mut digits = itoa::Buffer::new();
    let mapped = map_response(
        integration,
        digits.format(status),
        &BackendView {
            headers: &empty,
            body: b"",
        },
        request,
        ctx,
    )?;
    Ok(mapped.into_reply(trace))
}

/// The integer `statusCode` of a JSON object (the last one when the key
/// repeats, as a JSON object read whole would keep), without building the
/// rest of the document. `None` for anything else: not an object, no such
/// key, or a value that is not a non-negative integer.
fn status_code(body: &[u8]) -> Option<u64> {
    // Nearly every mock template is `{"statusCode": 200}`: read that shape
    // directly, and anything else as JSON.
    if let Some(status) = plain_status_code(body) {
        return Some(status);
    }
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
    use std::borrow::Cow;

    struct Find;
    impl<'de> Visitor<'de> for Find {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<u64>, A::Error> {
            let mut found = None;
            while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                if key == "statusCode" {
                    found = map.next_value::<serde_json::Value>()?.as_u64();
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let found = de.deserialize_map(Find).ok()?;
    de.end().ok()?;
    found
}

/// The status of a body that is exactly `{"statusCode": <digits>}` with
/// JSON whitespace around the tokens; `None` for any other text, which the
/// caller then reads as JSON.
fn plain_status_code(body: &[u8]) -> Option<u64> {
    fn skip_space(b: &[u8]) -> &[u8] {
        let n = b
            .iter()
            .take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
            .count();
        &b[n..]
    }
    let rest = skip_space(body).strip_prefix(b"{")?;
    let rest = skip_space(rest).strip_prefix(b"\"statusCode\"")?;
    let rest = skip_space(rest).strip_prefix(b":")?;
    let rest = skip_space(rest);
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    // JSON allows no leading zero, and 19 digits always fit in a u64.
    if digits == 0 || digits > 19 || (digits > 1 && rest[0] == b'0') {
        return None;
    }
    let (number, rest) = rest.split_at(digits);
    let rest = skip_space(rest).strip_prefix(b"}")?;
    if !skip_space(rest).is_empty() {
        return None;
    }
    Some(
        number
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0')),
    )
}

#[cfg(test)]
mod tests {
    use super::{plain_status_code, status_code};

    #[test]
    fn status_code_reads_like_a_whole_json_object() {
        let cases: &[(&str, Option<u64>)] = &[
            (r#"{"statusCode": 200}"#, Some(200)),
            (
                r#"{"a": {"statusCode": 1}, "statusCode": 404, "b": [1, "x"]}"#,
                Some(404),
            ),
            (r#"{"statusCode": 200, "statusCode": 500}"#, Some(500)),
            (r#"{"status\u0043ode": 201}"#, Some(201)),
            (r#"{"statusCode": "200"}"#, None),
            (r#"{"statusCode": 200.5}"#, None),
            (r#"{"statusCode": -1}"#, None),
            (r#"{"other": 1}"#, None),
            (r#"[{"statusCode": 200}]"#, None),
            (r#"{"statusCode": 200"#, None),
            (r#"{"statusCode": 200} trailing"#, None),
            ("", None),
            ("{\"statusCode\":404}", Some(404)),
            (" \n{ \"statusCode\" :\t 302 }\r\n", Some(302)),
            (r#"{"statusCode": 0200}"#, None),
            (r#"{"statusCode": 0}"#, Some(0)),
            (r#"{"statusCode": 200e0}"#, None),
            (r#"{"statusCode": 18446744073709551615}"#, Some(u64::MAX)),
            (r#"{"statusCode": 18446744073709551616}"#, None),
            (r#"{"statusCode": 200,}"#, None),
            (r#"{"statusCode": 200}}"#, None),
            ("{\"statusCode\": 200}\u{a0}", None),
        ];
        for (body, want) in cases {
            let whole = serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("statusCode").and_then(serde_json::Value::as_u64));
            assert_eq!(status_code(body.as_bytes()), *want, "{body}");
            assert_eq!(whole, *want, "the case itself: {body}");
        }
    }

    /// The shortcut answers only what a JSON reader would answer the same.
    #[test]
    fn plain_status_code_agrees_with_json() {
        let bodies = [
            r#"{"statusCode": 200}"#,
            r#"{"statusCode":1}"#,
            "{\"statusCode\": 9999999999999999999}",
            "{\"statusCode\": 99999999999999999999}",
            r#"{"statusCode": 01}"#,
            r#"{"statusCode": -5}"#,
            r#"{ "statusCode" : 7 } x"#,
            r#"{"statusCode": 7 "#,
            r#"{"statuscode": 7}"#,
        ];
        for body in bodies {
            let json = serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v.get("statusCode").and_then(serde_json::Value::as_u64));
            if let Some(plain) = plain_status_code(body.as_bytes()) {
                assert_eq!(Some(plain), json, "{body}");
            }
            assert_eq!(status_code(body.as_bytes()), json, "{body}");
        }
    }
}
