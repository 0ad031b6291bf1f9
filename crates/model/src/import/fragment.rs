//! One piece of an API checked on its own, with the importer's own checks:
//! the management API (PutMethod, PutIntegration, PutIntegrationResponse,
//! PutGatewayResponse, CreateResource) builds the same model through the
//! same validators as an OpenAPI import, so a definition means the same
//! whichever way it arrived.
//!
//! Each function returns the built piece and its warnings, or every error
//! found (the messages are the importer's, without document positions).

use serde_json::Value;

use super::{integration, paths, read_gateway_response, Sink};
use crate::api::{Integration, IntegrationResponse, Method, MethodResponse, PathPart};
use crate::diagnostic::Diagnostic;
use crate::gateway_response::{GatewayResponse, GatewayResponseType};
use crate::source::Document;

/// Errors of one check, joined for a single message.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid(pub Vec<String>);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("; "))
    }
}

/// Runs `check` over `value` and splits its diagnostics.
fn run<T>(
    value: &Value,
    check: impl FnOnce(&Document, &mut Sink) -> Option<T>,
) -> Result<(T, Vec<String>), Invalid> {
    let doc = Document::from_value(value.clone());
    let mut sink = Sink {
        doc: &doc,
        diagnostics: Vec::new(),
    };
    let built = check(&doc, &mut sink);
    let (errors, warnings): (Vec<Diagnostic>, Vec<Diagnostic>) =
        sink.diagnostics.into_iter().partition(Diagnostic::is_error);
    match built {
        Some(t) if errors.is_empty() => Ok((t, warnings.into_iter().map(|d| d.message).collect())),
        _ if errors.is_empty() => Err(Invalid(vec!["Invalid request".into()])),
        _ => Err(Invalid(errors.into_iter().map(|d| d.message).collect())),
    }
}

/// An integration (the PutIntegration body, which has the extension's
/// members) for `method` on the resource at `path`.
pub fn integration(
    spec: &Value,
    path: &str,
    method: &Method,
) -> Result<(Integration, Vec<String>), Invalid> {
    run(spec, |_, sink| {
        integration::import_integration(spec, path, method, "", sink)
    })
}

/// An integration response: `pattern` is its selection pattern (`None`
/// for the default response).
pub fn integration_response(
    pattern: Option<&str>,
    spec: &Value,
) -> Result<IntegrationResponse, Invalid> {
    run(spec, |_, sink| {
        integration::import_response(pattern.unwrap_or("default"), spec, "", sink)
    })
    .map(|(r, _)| r)
}

/// A gateway response of type `kind` (`DEFAULT_4XX`, ...).
pub fn gateway_response(
    kind: &str,
    spec: &Value,
) -> Result<(GatewayResponseType, GatewayResponse), Invalid> {
    run(spec, |_, sink| read_gateway_response(kind, spec, "", sink)).map(|(r, _)| r)
}

/// Checks a whole resource path (`/pets/{petId}`) as the importer does.
pub fn resource_path(path: &str) -> Result<(), Invalid> {
    run(&Value::Null, |_, sink| {
        paths::check_path(path, "", sink).then_some(())
    })
    .map(|_| ())
}

/// The authorization types a method may have.
pub const AUTHORIZATION_TYPES: [&str; 4] = ["NONE", "AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS"];

const PARAMETER_PREFIXES: [&str; 5] = [
    "method.request.path.",
    "method.request.querystring.",
    "method.request.header.",
    "method.request.multivaluequerystring.",
    "method.request.multivalueheader.",
];

/// Checks one `method.request.{location}.{name}` key.
pub fn method_request_parameter(key: &str) -> Result<(), Invalid> {
    if PARAMETER_PREFIXES
        .iter()
        .any(|p| key.starts_with(p) && key.len() > p.len())
    {
        Ok(())
    } else {
        Err(Invalid(vec![format!(
            "Invalid mapping expression specified: {key}: expected method.request.{{path|querystring|header}}.{{name}}"
        )]))
    }
}

/// A method (the PutMethod body) on the resource at `path`. Path
/// parameters of the template are declared whether or not the body names
/// them, as the importer does.
pub fn method(http_method: &str, spec: &Value, path: &str) -> Result<Method, Invalid> {
    let http_method = http_method.to_ascii_uppercase();
    let mut errors = Vec::new();
    if !crate::api::HTTP_METHODS.contains(&http_method.as_str()) {
        errors.push(format!(
            "Invalid HttpMethod specified. Valid options are {}",
            crate::api::HTTP_METHODS.join(",")
        ));
    }
    let authorization_type = match spec.get("authorizationType").and_then(Value::as_str) {
        Some("NONE") => "NONE".to_string(),
        // Accepting them would serve the method to anyone: refused until
        // the data plane checks them.
        Some(t) if AUTHORIZATION_TYPES.contains(&t) => {
            errors.push(format!(
                "Authorization type {t} is not supported by Gatewatch yet; use NONE"
            ));
            String::new()
        }
        Some(t) => {
            errors.push(format!(
                "Invalid authorization type '{t}'. Valid values are {}",
                AUTHORIZATION_TYPES.join(", ")
            ));
            String::new()
        }
        None => {
            errors.push("Enumeration value for AuthorizationType must be non-empty".into());
            String::new()
        }
    };
    let mut m = Method {
        http_method,
        authorization_type,
        api_key_required: spec
            .get("apiKeyRequired")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        operation_name: spec
            .get("operationName")
            .and_then(Value::as_str)
            .map(String::from),
        ..Method::default()
    };
    if let Some(params) = spec.get("requestParameters").and_then(Value::as_object) {
        for (key, required) in params {
            if let Err(Invalid(e)) = method_request_parameter(key) {
                errors.extend(e);
                continue;
            }
            m.request_parameters
                .insert(key.clone(), required.as_bool().unwrap_or(false));
        }
    }
    for segment in path.split('/') {
        if let PathPart::Param(name) | PathPart::Greedy(name) = PathPart::parse(segment) {
            m.request_parameters
                .entry(format!("method.request.path.{name}"))
                .or_insert(true);
        }
    }
    if errors.is_empty() {
        Ok(m)
    } else {
        Err(Invalid(errors))
    }
}

/// A method response (the PutMethodResponse body) for `status`.
pub fn method_response(status: &str, spec: &Value) -> Result<MethodResponse, Invalid> {
    if super::status_code(&Value::String(status.into())).is_none() || status.len() != 3 {
        return Err(Invalid(vec![format!(
            "Invalid response status code specified: {status}"
        )]));
    }
    let mut r = MethodResponse::default();
    if let Some(params) = spec.get("responseParameters").and_then(Value::as_object) {
        for (key, required) in params {
            if key
                .strip_prefix("method.response.header.")
                .is_none_or(str::is_empty)
            {
                return Err(Invalid(vec![format!(
                    "Invalid mapping expression specified: {key}: expected method.response.header.{{name}}"
                )]));
            }
            r.response_parameters
                .insert(key.clone(), required.as_bool().unwrap_or(false));
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_importer_checks_apply_to_fragments() {
        let m = method("get", &json!({ "authorizationType": "NONE" }), "/pets/{id}").unwrap();
        assert_eq!(m.http_method, "GET");
        assert_eq!(
            m.request_parameters.get("method.request.path.id"),
            Some(&true)
        );
        let e = method("FETCH", &json!({ "authorizationType": "BOGUS" }), "/").unwrap_err();
        assert_eq!(e.0.len(), 2, "{e}");

        let (i, _) = integration(
            &json!({ "type": "HTTP_PROXY", "httpMethod": "GET", "uri": "http://example.com/{id}",
                     "requestParameters": { "integration.request.path.id": "method.request.path.id" } }),
            "/pets/{id}",
            &m,
        )
        .unwrap();
        assert_eq!(i.kind, crate::IntegrationType::HttpProxy);
        let e = integration(&json!({ "type": "HTTP", "httpMethod": "GET", "uri": "ftp://x", "timeoutInMillis": 10 }), "/", &m)
            .unwrap_err();
        assert!(e.to_string().contains("Invalid HTTP endpoint"), "{e}");
        assert!(e.to_string().contains("Timeout should be between"), "{e}");
        let e = integration(&json!({ "type": "HTTP", "httpMethod": "GET", "uri": "http://x",
                     "requestParameters": { "integration.request.path.x": "method.request.path.nope" } }), "/pets/{id}", &m)
            .unwrap_err();
        assert!(e.to_string().contains("has no {nope}"), "{e}");

        assert!(integration_response(Some("5\\d{2}"), &json!({ "statusCode": "500" })).is_ok());
        assert!(integration_response(Some("("), &json!({ "statusCode": "500" })).is_err());
        assert!(gateway_response("DEFAULT_4XX", &json!({ "statusCode": 418 })).is_ok());
        assert!(gateway_response("NOPE", &json!({})).is_err());
        assert!(resource_path("/a/{b+}").is_ok());
        assert!(resource_path("/a/{b+}/c").is_err());
        assert!(method_response("200", &json!({})).is_ok());
        assert!(method_response("2000", &json!({})).is_err());
    }
}
