//! Export of an API as OpenAPI 3.0 or Swagger 2.0 (GetExport), optionally
//! with the `x-amazon-apigateway-*` extensions, so an API round-trips through
//! import and export.
//!
//! Choices: `info.version` is the API's version, or `1.0` when it has none;
//! a method without declared responses gets a `default` response (OpenAPI
//! requires one; the importer ignores `default`); path parameters are always
//! required; an API key requirement is written as an `api_key` security
//! scheme on the `x-api-key` header.

use serde_json::{json, Map, Value};

use crate::{ApiKeySource, Integration, IntegrationResponse, Method, PassthroughBehavior, RestApi};

/// The document flavour to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFlavour {
    /// OpenAPI 3.0.1 (`oas30`).
    OpenApi3,
    /// Swagger 2.0 (`swagger`).
    Swagger2,
}

fn string_map(m: &std::collections::BTreeMap<String, String>) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

/// The members an integration has both in the OpenAPI extension and in the
/// management API's `Integration` shape.
pub fn integration_common(i: &Integration, v: &mut Value) {
    if let Some(m) = &i.http_method {
        v["httpMethod"] = json!(m);
    }
    if let Some(u) = &i.uri {
        v["uri"] = json!(u);
    }
    if !i.request_parameters.is_empty() {
        v["requestParameters"] = string_map(&i.request_parameters);
    }
    if !i.request_templates.is_empty() {
        v["requestTemplates"] = string_map(&i.request_templates);
    }
    if let Some(c) = &i.content_handling {
        v["contentHandling"] = json!(c);
    }
    if i.tls_insecure_skip_verification {
        v["tlsConfig"] = json!({ "insecureSkipVerification": true });
    }
}

/// One integration response (without its selection pattern, which the two
/// shapes place differently).
pub fn integration_response(r: &IntegrationResponse) -> Value {
    let mut rv = json!({ "statusCode": r.status_code });
    if !r.response_parameters.is_empty() {
        rv["responseParameters"] = string_map(&r.response_parameters);
    }
    if !r.response_templates.is_empty() {
        rv["responseTemplates"] = string_map(&r.response_templates);
    }
    if let Some(c) = &r.content_handling {
        rv["contentHandling"] = json!(c);
    }
    rv
}

fn integration(i: &Integration) -> Value {
    let mut v = json!({
        "type": i.kind.as_str().to_ascii_lowercase(),
        "passthroughBehavior": match i.passthrough_behavior {
            PassthroughBehavior::WhenNoMatch => "when_no_match",
            PassthroughBehavior::WhenNoTemplates => "when_no_templates",
            PassthroughBehavior::Never => "never",
        },
        "timeoutInMillis": i.timeout_ms,
    });
    integration_common(i, &mut v);
    // Keyed by selection pattern, `default` for the catch-all.
    let responses: Map<String, Value> = i
        .responses
        .iter()
        .map(|r| {
            (
                r.selection_pattern
                    .clone()
                    .unwrap_or_else(|| "default".into()),
                integration_response(r),
            )
        })
        .collect();
    if !responses.is_empty() {
        v["responses"] = Value::Object(responses);
    }
    v
}

fn operation(m: &Method, flavour: ExportFlavour, extensions: bool) -> Value {
    let mut op = Map::new();
    if let Some(id) = &m.operation_name {
        op.insert("operationId".into(), json!(id));
    }
    let mut params = Vec::new();
    for (key, required) in &m.request_parameters {
        let Some(rest) = key.strip_prefix("method.request.") else {
            continue;
        };
        let Some((location, name)) = rest.split_once('.') else {
            continue;
        };
        let location = match location {
            "path" => "path",
            "querystring" => "query",
            "header" => "header",
            _ => continue,
        };
        let mut p = json!({
            "name": name,
            "in": location,
            "required": *required || location == "path",
        });
        match flavour {
            ExportFlavour::OpenApi3 => p["schema"] = json!({ "type": "string" }),
            ExportFlavour::Swagger2 => p["type"] = json!("string"),
        }
        params.push(p);
    }
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    let mut responses = Map::new();
    for (code, r) in &m.method_responses {
        let mut rv = json!({ "description": format!("{code} response") });
        let headers: Map<String, Value> = r
            .response_parameters
            .keys()
            .filter_map(|k| k.strip_prefix("method.response.header."))
            .map(|h| {
                (
                    h.to_string(),
                    match flavour {
                        ExportFlavour::OpenApi3 => json!({ "schema": { "type": "string" } }),
                        ExportFlavour::Swagger2 => json!({ "type": "string" }),
                    },
                )
            })
            .collect();
        if !headers.is_empty() {
            rv["headers"] = Value::Object(headers);
        }
        responses.insert(code.clone(), rv);
    }
    if responses.is_empty() {
        responses.insert(
            "default".into(),
            json!({ "description": "Default response" }),
        );
    }
    op.insert("responses".into(), Value::Object(responses));
    if m.api_key_required {
        op.insert("security".into(), json!([{ "api_key": [] }]));
    }
    if extensions {
        if let Some(i) = &m.integration {
            op.insert("x-amazon-apigateway-integration".into(), integration(i));
        }
    }
    Value::Object(op)
}

/// The API as an OpenAPI/Swagger document.
pub fn export(api: &RestApi, flavour: ExportFlavour, extensions: bool) -> Value {
    let mut info = json!({
        "title": api.name,
        "version": api.version.clone().unwrap_or_else(|| "1.0".into()),
    });
    if let Some(d) = &api.description {
        info["description"] = json!(d);
    }
    let mut paths = Map::new();
    let mut uses_api_key = false;
    for r in &api.resources {
        if r.methods.is_empty() {
            continue;
        }
        let mut item = Map::new();
        for (name, m) in &r.methods {
            uses_api_key |= m.api_key_required;
            let key = if name == "ANY" {
                "x-amazon-apigateway-any-method".to_string()
            } else {
                name.to_ascii_lowercase()
            };
            item.insert(key, operation(m, flavour, extensions));
        }
        paths.insert(r.path.clone(), Value::Object(item));
    }
    let mut doc = match flavour {
        ExportFlavour::OpenApi3 => json!({ "openapi": "3.0.1", "info": info, "paths": paths }),
        ExportFlavour::Swagger2 => json!({ "swagger": "2.0", "info": info, "paths": paths }),
    };
    if uses_api_key {
        let scheme = json!({ "type": "apiKey", "name": "x-api-key", "in": "header" });
        match flavour {
            ExportFlavour::OpenApi3 => {
                doc["components"] = json!({ "securitySchemes": { "api_key": scheme } })
            }
            ExportFlavour::Swagger2 => doc["securityDefinitions"] = json!({ "api_key": scheme }),
        }
    }
    if extensions {
        if !api.binary_media_types.is_empty() {
            doc["x-amazon-apigateway-binary-media-types"] = json!(api.binary_media_types);
        }
        if api.api_key_source == ApiKeySource::Authorizer {
            doc["x-amazon-apigateway-api-key-source"] = json!("AUTHORIZER");
        }
        if !api.gateway_responses.is_empty() {
            let responses: Map<String, Value> = api
                .gateway_responses
                .iter()
                .map(|(kind, g)| {
                    let mut v = Map::new();
                    if let Some(code) = g.status_code {
                        v.insert("statusCode".into(), json!(code));
                    }
                    if !g.response_parameters.is_empty() {
                        v.insert(
                            "responseParameters".into(),
                            string_map(&g.response_parameters),
                        );
                    }
                    if !g.response_templates.is_empty() {
                        v.insert(
                            "responseTemplates".into(),
                            string_map(&g.response_templates),
                        );
                    }
                    (kind.as_str().to_string(), Value::Object(v))
                })
                .collect();
            doc["x-amazon-apigateway-gateway-responses"] = Value::Object(responses);
        }
    }
    doc
}

/// A JSON value as YAML text.
pub fn to_yaml(value: &Value) -> String {
    fn convert(v: &Value) -> yaml_rust2::Yaml {
        use yaml_rust2::Yaml;
        match v {
            Value::Null => Yaml::Null,
            Value::Bool(b) => Yaml::Boolean(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Yaml::Integer(i),
                None => Yaml::Real(n.to_string()),
            },
            Value::String(s) => Yaml::String(s.clone()),
            Value::Array(a) => Yaml::Array(a.iter().map(convert).collect()),
            Value::Object(m) => Yaml::Hash(
                m.iter()
                    .map(|(k, v)| (Yaml::String(k.clone()), convert(v)))
                    .collect(),
            ),
        }
    }
    let mut out = String::new();
    let mut emitter = yaml_rust2::YamlEmitter::new(&mut out);
    let _ = emitter.dump(&convert(value));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{import_document, ImportOptions};

    fn round_trip(path: &str) {
        let text = std::fs::read_to_string(path).unwrap();
        let original = import_document(&text, &ImportOptions::default())
            .unwrap_or_else(|e| panic!("{path}: {e:?}"))
            .api;
        for flavour in [ExportFlavour::OpenApi3, ExportFlavour::Swagger2] {
            let doc = export(&original, flavour, true);
            for text in [doc.to_string(), to_yaml(&doc)] {
                let again = import_document(&text, &ImportOptions::default())
                    .unwrap_or_else(|e| panic!("{path} {flavour:?}: {e:?}\n{text}"))
                    .api;
                assert_eq!(again, original, "{path} {flavour:?} did not round-trip");
            }
        }
    }

    #[test]
    fn apis_round_trip_through_export_and_import() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
        round_trip(&format!("{dir}petstore-oas3.yaml"));
        round_trip(&format!("{dir}petstore-swagger2.json"));
        round_trip(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../gatewatch/src/example-api.yaml"
        ));
    }

    #[test]
    fn without_extensions_there_are_none() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/petstore-oas3.yaml"
        ))
        .unwrap();
        let api = import_document(&text, &ImportOptions::default())
            .unwrap()
            .api;
        let doc = export(&api, ExportFlavour::OpenApi3, false).to_string();
        assert!(!doc.contains("x-amazon-apigateway-integration"));
        assert!(doc.contains("\"openapi\":\"3.0.1\""));
    }
}
