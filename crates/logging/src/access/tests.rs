use std::time::{Duration, SystemTime};

use gatewatch_gateway::context::{ErrorInfo, Identity, IntegrationOutcome, RequestContext};
use gatewatch_model::GatewayResponseType;

use super::*;

fn ctx() -> RequestContext {
    RequestContext {
        account_id: "123456789012".into(),
        api_id: "h733q2j6gb".into(),
        request_id: "515f1e99-39db-11e9-9e96-01e5c04505b9".into(),
        extended_request_id: "Vts2pH6ArPEFcuQ=".into(),
        request_time: Some(SystemTime::UNIX_EPOCH + Duration::from_millis(1_698_414_057_744)),
        http_method: "GET".into(),
        path: "/dev/pets/%c2%a3".into(),
        resource_path: Some("/pets/{petId}".into()),
        stage: "dev".into(),
        protocol: "HTTP/1.1".into(),
        domain_name: "h733q2j6gb.execute-api.localhost:8080".into(),
        status: Some(504),
        response_length: Some(41),
        response_latency_ms: Some(29_003),
        identity: Identity {
            source_ip: "203.0.113.7".into(),
            user_agent: Some("curl/8.5.0\nsecond line".into()),
            ..Identity::default()
        },
        integration: IntegrationOutcome {
            latency_ms: Some(29_001),
            ..Default::default()
        },
        error: ErrorInfo {
            message: Some("Endpoint request timed out".into()),
            response_type: Some(GatewayResponseType::IntegrationTimeout),
            validation_error: None,
        },
        ..RequestContext::default()
    }
}

#[test]
fn presets_render_like_the_console_formats() {
    let c = ctx();
    let mut out = String::new();
    for name in ["clf", "json", "xml", "csv"] {
        let t = AccessLogTemplate::compile(presets::by_name(name).unwrap()).unwrap();
        out.push_str(&format!("{name}: {}\n", t.render(&c)));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn custom_formats_missing_values_and_escaping() {
    let t = AccessLogTemplate::compile(
        "$context.requestId $context.error.messageString $context.error.responseType $context.integration.status \"$context.identity.userAgent\" $context.path. cost: $5",
    )
    .unwrap();
    assert_eq!(
        t.render(&ctx()),
        "515f1e99-39db-11e9-9e96-01e5c04505b9 \"Endpoint request timed out\" INTEGRATION_TIMEOUT - \"curl/8.5.0\\nsecond line\" /dev/pets/%c2%a3. cost: $5"
    );
}

#[test]
fn formats_are_validated_like_aws() {
    assert_eq!(
        AccessLogTemplate::compile("$context.status").unwrap_err(),
        FormatError::MissingRequestId
    );
    assert_eq!(
        AccessLogTemplate::compile("$context.requestId\n$context.status").unwrap_err(),
        FormatError::MultiLine
    );
    assert_eq!(
        AccessLogTemplate::compile("$context.requestId $context.statuss")
            .unwrap_err()
            .to_string(),
        "Invalid variable reference in Access Log format: $context.statuss is not a known variable"
    );
    assert!(matches!(
        AccessLogTemplate::compile("$context.requestId $input.body"),
        Err(FormatError::NotContext(_))
    ));
    assert!(matches!(
        AccessLogTemplate::compile(&format!("$context.requestId {}", "x".repeat(3100))),
        Err(FormatError::TooLong(_))
    ));
    assert!(AccessLogTemplate::compile("$context.extendedRequestId").is_ok());
}

#[test]
fn destination_arns() {
    assert_eq!(
        destination_group("arn:aws:logs:us-east-1:123456789012:log-group:access").unwrap(),
        "access"
    );
    assert_eq!(
        destination_group("arn:aws:logs:us-east-1:123456789012:log-group:/apigw/access:*").unwrap(),
        "/apigw/access"
    );
    assert!(destination_group("access").is_err());
    assert!(destination_group("arn:aws:s3:::bucket").is_err());
    assert!(destination_group(
        "arn:aws:firehose:us-east-1:123456789012:deliverystream/amazon-apigateway-x"
    )
    .unwrap_err()
    .contains("Firehose"));
}

#[test]
fn numbers_are_written_as_their_decimal_digits() {
    for n in [
        0u128,
        7,
        10,
        200,
        504,
        1_698_414_057_744,
        u64::MAX as u128,
        u128::MAX,
    ] {
        let mut out = String::from("x=");
        push_number(&mut out, n);
        assert_eq!(out, format!("x={n}"));
    }
}

#[test]
fn control_characters_are_found_wherever_they_are() {
    // The vectorised check against the plain definition, for every byte
    // value at the start, middle and end of values of several lengths.
    let plain = |v: &str| v.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2);
    for len in [1usize, 7, 16, 31, 33, 64, 100] {
        for pos in [0, len / 2, len - 1] {
            for c in (0u32..0x250).filter_map(char::from_u32) {
                let mut v: String = "a".repeat(len);
                v.replace_range(pos..pos + 1, c.encode_utf8(&mut [0; 4]));
                assert_eq!(may_hold_control(&v), plain(&v), "{c:?} at {pos} of {len}");
            }
        }
    }
}

#[test]
fn values_with_control_characters_stay_on_one_line() {
    let mut out = String::new();
    push_one_line(&mut out, "a\tb\r\nc\u{7f}d\u{85}e ©é");
    assert_eq!(out, "a\\tb\\r\\nc\\u007fd\\u0085e ©é");
}
