//! OpenAPI 3.0/3.1 and Swagger 2.0 import with API Gateway's extensions.
//!
//! The importer walks the document once, builds a [`RestApi`] and collects
//! every problem it meets rather than stopping at the first, so
//! `gatewatch validate` can list them all. Errors make the import fail;
//! warnings (unknown extensions, ignored features) do not.
//!
//! Choices where AWS's behaviour is not documented:
//! - `basePath` (Swagger) and `servers` (OpenAPI 3) are ignored, like
//!   ImportRestApi's default `basepath=ignore` mode.
//! - A method with no `x-amazon-apigateway-integration` is an error: AWS
//!   imports it but refuses to deploy it ("No integration defined for
//!   method"), and `serve` deploys.
//! - Recognised extensions that Gatewatch does not act on yet (authorizers,
//!   request validators, resource policies, …) are warnings that say so.

pub mod fragment;
mod integration;
mod paths;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::api::{ApiKeySource, RestApi};
use crate::diagnostic::{Diagnostic, Severity};
use crate::gateway_response::{GatewayResponse, GatewayResponseType};
use crate::id::{is_rest_api_id, stable_id};
use crate::source::{escape_pointer_token, Document};

/// Options for one import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Fixed restApiId; by default it is derived from the API's title, so it
    /// is the same on every start.
    pub rest_api_id: Option<String>,
}

/// A successful import: the API and any warnings.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The imported API.
    pub api: RestApi,
    /// Problems that did not stop the import.
    pub warnings: Vec<Diagnostic>,
}

/// The document flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavour {
    Swagger2,
    OpenApi3,
}

/// Collects diagnostics with line numbers taken from the document.
pub(crate) struct Sink<'d> {
    doc: &'d Document,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl Sink<'_> {
    pub(crate) fn error(&mut self, pointer: &str, message: impl Into<String>) {
        self.push(Severity::Error, pointer, message.into());
    }
    pub(crate) fn warning(&mut self, pointer: &str, message: impl Into<String>) {
        self.push(Severity::Warning, pointer, message.into());
    }
    fn push(&mut self, severity: Severity, pointer: &str, message: String) {
        self.diagnostics.push(Diagnostic {
            severity,
            pointer: pointer.to_string(),
            line: self.doc.line_of(pointer),
            message,
        });
    }
}

/// Joins a pointer and a child key.
pub(crate) fn child(pointer: &str, key: &str) -> String {
    format!("{pointer}/{}", escape_pointer_token(key))
}

/// Extensions Gatewatch reads.
const HANDLED_EXTENSIONS: &[&str] = &[
    "x-amazon-apigateway-integration",
    "x-amazon-apigateway-any-method",
    "x-amazon-apigateway-gateway-responses",
    "x-amazon-apigateway-binary-media-types",
    "x-amazon-apigateway-api-key-source",
];

/// Extensions AWS knows that Gatewatch accepts but does not act on yet.
const RECOGNISED_EXTENSIONS: &[&str] = &[
    "x-amazon-apigateway-authorizer",
    "x-amazon-apigateway-authtype",
    "x-amazon-apigateway-request-validators",
    "x-amazon-apigateway-request-validator",
    "x-amazon-apigateway-policy",
    "x-amazon-apigateway-endpoint-configuration",
    "x-amazon-apigateway-minimum-compression-size",
    "x-amazon-apigateway-documentation",
    "x-amazon-apigateway-importexport-version",
    "x-amazon-apigateway-tag-value",
    "x-amazon-apigateway-disable-execute-api-endpoint",
];

/// Reports `x-amazon-apigateway-*` keys of `obj` that are not in `handled`
/// here: recognised ones as "not supported yet", others as unknown.
pub(crate) fn check_extensions(
    sink: &mut Sink,
    obj: &Map<String, Value>,
    pointer: &str,
    handled: &[&str],
) {
    for key in obj.keys() {
        if !key.starts_with("x-amazon-apigateway-") || handled.contains(&key.as_str()) {
            continue;
        }
        let at = child(pointer, key);
        if RECOGNISED_EXTENSIONS.contains(&key.as_str()) {
            sink.warning(
                &at,
                format!("{key} is not supported by Gatewatch yet and is ignored"),
            );
        } else if HANDLED_EXTENSIONS.contains(&key.as_str()) {
            sink.warning(&at, format!("{key} is not allowed here and is ignored"));
        } else {
            sink.warning(&at, format!("Unknown extension {key} is ignored"));
        }
    }
}

/// Parses and imports `text` (YAML or JSON). On failure returns every
/// diagnostic found, errors first.
pub fn import_document(text: &str, options: &ImportOptions) -> Result<Imported, Vec<Diagnostic>> {
    let doc = match Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            return Err(vec![Diagnostic {
                severity: Severity::Error,
                pointer: String::new(),
                line: Some(e.line),
                message: format!("{} at column {}", e.message, e.column),
            }])
        }
    };
    import_parsed(&doc, options)
}

/// Imports an already parsed document.
pub fn import_parsed(doc: &Document, options: &ImportOptions) -> Result<Imported, Vec<Diagnostic>> {
    let mut sink = Sink {
        doc,
        diagnostics: Vec::new(),
    };
    let api = build(doc, options, &mut sink);
    let mut diagnostics = sink.diagnostics;
    diagnostics.sort_by_key(|d| (d.severity, d.line.unwrap_or(usize::MAX)));
    match api {
        Some(api) if !diagnostics.iter().any(Diagnostic::is_error) => Ok(Imported {
            api,
            warnings: diagnostics,
        }),
        _ => Err(diagnostics),
    }
}

fn build(doc: &Document, options: &ImportOptions, sink: &mut Sink) -> Option<RestApi> {
    let Some(root) = doc.value.as_object() else {
        sink.error("", "The document must be an OpenAPI or Swagger object");
        return None;
    };
    let flavour = match (root.get("openapi"), root.get("swagger")) {
        (Some(Value::String(v)), _) if v.starts_with("3.0") || v.starts_with("3.1") => {
            Flavour::OpenApi3
        }
        (Some(v), _) => {
            sink.error(
                "/openapi",
                format!("Unsupported OpenAPI version {v}; 3.0.x and 3.1.x are supported"),
            );
            return None;
        }
        (None, Some(Value::String(v))) if v == "2.0" => Flavour::Swagger2,
        (None, Some(v)) => {
            sink.error(
                "/swagger",
                format!("Unsupported Swagger version {v}; only 2.0 is supported"),
            );
            return None;
        }
        (None, None) => {
            sink.error(
                "",
                "Missing 'openapi' (3.x) or 'swagger' (2.0) version field",
            );
            return None;
        }
    };

    let title = root
        .get("info")
        .and_then(|i| i.get("title"))
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or("");
    if title.is_empty() {
        sink.error(
            "/info/title",
            "Missing 'info.title': API Gateway names the API after it",
        );
    }
    let id = match &options.rest_api_id {
        Some(id) if is_rest_api_id(id) => id.clone(),
        Some(id) => {
            sink.error(
                "",
                format!("Invalid restApiId '{id}': it must be 10 lowercase letters or digits"),
            );
            return None;
        }
        None => stable_id(&["restapi", title]),
    };
    let mut api = RestApi::new(id, title);
    let info = root.get("info");
    api.description = info
        .and_then(|i| i.get("description"))
        .and_then(Value::as_str)
        .map(String::from);
    api.version = info.and_then(|i| i.get("version")).map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });

    check_extensions(sink, root, "", HANDLED_EXTENSIONS);
    read_binary_media_types(root, &mut api, sink);
    read_api_key_source(root, &mut api, sink);
    read_gateway_responses(root, &mut api, sink);

    match root.get("paths") {
        Some(Value::Object(paths)) => paths::import_paths(doc, flavour, paths, &mut api, sink),
        Some(_) => sink.error("/paths", "'paths' must be an object"),
        None => sink.warning("", "The document has no 'paths': the API has no routes"),
    }
    Some(api)
}

fn read_binary_media_types(root: &Map<String, Value>, api: &mut RestApi, sink: &mut Sink) {
    let key = "x-amazon-apigateway-binary-media-types";
    let Some(value) = root.get(key) else { return };
    let pointer = child("", key);
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(t) if t.contains('/') => api.binary_media_types.push(t.replace("~1", "/")),
                    _ => sink.error(&format!("{pointer}/{i}"), format!("Invalid binary media type {item}: expected a string such as 'image/png'")),
                }
            }
        }
        _ => sink.error(
            &pointer,
            "Binary media types must be a list of media type strings",
        ),
    }
}

fn read_api_key_source(root: &Map<String, Value>, api: &mut RestApi, sink: &mut Sink) {
    let key = "x-amazon-apigateway-api-key-source";
    let Some(value) = root.get(key) else { return };
    api.api_key_source = match value.as_str() {
        Some("HEADER") => ApiKeySource::Header,
        Some("AUTHORIZER") => ApiKeySource::Authorizer,
        _ => {
            sink.error(
                &child("", key),
                format!("Invalid API key source {value}: valid values are HEADER and AUTHORIZER"),
            );
            return;
        }
    };
}

fn read_gateway_responses(root: &Map<String, Value>, api: &mut RestApi, sink: &mut Sink) {
    let key = "x-amazon-apigateway-gateway-responses";
    let Some(value) = root.get(key) else { return };
    let pointer = child("", key);
    let Some(responses) = value.as_object() else {
        sink.error(
            &pointer,
            "Gateway responses must be an object keyed by response type",
        );
        return;
    };
    for (name, spec) in responses {
        if let Some((kind, response)) =
            read_gateway_response(name, spec, &child(&pointer, name), sink)
        {
            api.gateway_responses.insert(kind, response);
        }
    }
}

/// One gateway response of type `name`.
pub(crate) fn read_gateway_response(
    name: &str,
    spec: &Value,
    at: &str,
    sink: &mut Sink,
) -> Option<(GatewayResponseType, GatewayResponse)> {
    let Ok(kind) = name.parse::<GatewayResponseType>() else {
        sink.error(at, format!("Invalid gateway response type '{name}'"));
        return None;
    };
    let Some(spec) = spec.as_object() else {
        sink.error(at, "A gateway response must be an object");
        return None;
    };
    let mut response = GatewayResponse::default();
    if let Some(code) = spec.get("statusCode") {
        match status_code(code) {
            Some(c) => response.status_code = Some(c),
            None => sink.error(
                &child(at, "statusCode"),
                format!("Invalid status code {code}: expected 100-599"),
            ),
        }
    }
    response.response_parameters = string_map(
        spec.get("responseParameters"),
        &child(at, "responseParameters"),
        sink,
    );
    for (param, expr) in &response.response_parameters {
        if !param.starts_with("gatewayresponse.header.") {
            sink.error(&child(&child(at, "responseParameters"), param), format!("Invalid gateway response parameter '{param}': expected gatewayresponse.header.{{name}}"));
        } else if !integration::is_mapping_source(expr) {
            sink.error(
                &child(&child(at, "responseParameters"), param),
                format!("Invalid mapping expression specified: {expr}"),
            );
        }
    }
    response.response_templates = string_map(
        spec.get("responseTemplates"),
        &child(at, "responseTemplates"),
        sink,
    );
    Some((kind, response))
}

/// A status code given as a number or a string, within 100–599.
pub(crate) fn status_code(value: &Value) -> Option<u16> {
    let n = match value {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (100..=599).contains(&n).then_some(n as u16)
}

/// Reads an object of strings; other value types are reported.
pub(crate) fn string_map(
    value: Option<&Value>,
    pointer: &str,
    sink: &mut Sink,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match value {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                match v {
                    Value::String(s) => {
                        out.insert(k.clone(), s.clone());
                    }
                    other => sink.error(
                        &child(pointer, k),
                        format!("Expected a string, found {other}"),
                    ),
                }
            }
        }
        Some(other) => sink.error(
            pointer,
            format!("Expected an object of strings, found {other}"),
        ),
    }
    out
}

#[cfg(test)]
mod tests;
