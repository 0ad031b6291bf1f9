//! `paths`: resources, methods and method parameters.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use super::{check_extensions, child, integration, status_code, Flavour, Sink};
use crate::api::{Method, MethodResponse, PathPart, RestApi};
use crate::source::Document;

/// Path-item keys that are operations, with the method they create.
const OPERATIONS: &[(&str, &str)] = &[
    ("get", "GET"),
    ("put", "PUT"),
    ("post", "POST"),
    ("delete", "DELETE"),
    ("options", "OPTIONS"),
    ("head", "HEAD"),
    ("patch", "PATCH"),
    ("x-amazon-apigateway-any-method", "ANY"),
];

/// Non-operation keys a path item may hold.
const PATH_ITEM_KEYS: &[&str] = &["parameters", "summary", "description", "servers", "$ref"];

pub(super) fn import_paths(
    doc: &Document,
    flavour: Flavour,
    paths: &Map<String, Value>,
    api: &mut RestApi,
    sink: &mut Sink,
) {
    // Variable children seen per parent path, to reject `/a/{x}` next to `/a/{y}`.
    let mut variable_children: HashMap<String, (String, String)> = HashMap::new();
    for (path, item) in paths {
        let pointer = child("/paths", path);
        if path.starts_with("x-") {
            continue;
        }
        if !check_path(path, &pointer, sink) {
            continue;
        }
        // Sibling variable parts must agree at every level.
        let mut conflict = false;
        let mut prefix = String::new();
        for segment in path.split('/').skip(1).filter(|s| !s.is_empty()) {
            let parent = if prefix.is_empty() {
                "/".to_string()
            } else {
                prefix.clone()
            };
            if !matches!(PathPart::parse(segment), PathPart::Literal(_)) {
                match variable_children.get(&parent) {
                    Some((existing, _)) if existing != segment => {
                        sink.error(&pointer, format!("Resource {path}: a sibling ({existing}) of this resource already has a variable path part -- only one is allowed"));
                        conflict = true;
                        break;
                    }
                    _ => {
                        variable_children.insert(parent, (segment.to_string(), path.clone()));
                    }
                }
            }
            prefix.push('/');
            prefix.push_str(segment);
        }
        if conflict {
            continue;
        }
        let Some(item) = item.as_object() else {
            sink.error(&pointer, "A path item must be an object");
            continue;
        };
        api.ensure_resource(path);
        let path_params = resolve_parameters(
            doc,
            item.get("parameters"),
            &child(&pointer, "parameters"),
            sink,
        );
        for (key, value) in item {
            let at = child(&pointer, key);
            if let Some((_, method)) = OPERATIONS.iter().find(|(k, _)| k == key) {
                if let Some(m) =
                    import_operation(doc, flavour, path, method, value, &path_params, &at, sink)
                {
                    api.ensure_resource(path)
                        .methods
                        .insert(m.http_method.clone(), m);
                }
            } else if key == "trace" {
                sink.warning(
                    &at,
                    "API Gateway does not support the TRACE method; it is ignored",
                );
            } else if !key.starts_with("x-") && !PATH_ITEM_KEYS.contains(&key.as_str()) {
                sink.warning(&at, format!("Unknown path item field '{key}' is ignored"));
            }
        }
        check_extensions(sink, item, &pointer, &["x-amazon-apigateway-any-method"]);
    }
}

/// Checks the shape of a path template; reports and returns false when bad.
pub(super) fn check_path(path: &str, pointer: &str, sink: &mut Sink) -> bool {
    if !path.starts_with('/') {
        sink.error(
            pointer,
            format!("Invalid resource path '{path}': it must start with '/'"),
        );
        return false;
    }
    if path == "/" {
        return true;
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        if segment.is_empty() {
            sink.error(
                pointer,
                format!("Invalid resource path '{path}': empty path segment"),
            );
            return false;
        }
        match PathPart::parse(segment) {
            PathPart::Literal(lit) => {
                if lit.contains(['{', '}']) {
                    sink.error(pointer, format!("Invalid resource path '{path}': a path parameter must be a whole segment, as in /{{name}}"));
                    return false;
                }
                if !lit
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~:@!$&'()*+,;=%".contains(&b))
                {
                    sink.error(pointer, format!("Invalid resource path '{path}': segment '{lit}' has characters not allowed in a path"));
                    return false;
                }
            }
            PathPart::Param(name) | PathPart::Greedy(name) => {
                if name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
                {
                    sink.error(pointer, format!("Invalid resource path '{path}': invalid path parameter name '{segment}'"));
                    return false;
                }
                if matches!(PathPart::parse(segment), PathPart::Greedy(_))
                    && i + 1 != segments.len()
                {
                    sink.error(pointer, format!("Invalid resource path '{path}': a greedy path parameter {segment} must be the last segment"));
                    return false;
                }
            }
        }
    }
    true
}

/// One declared parameter: location (`path`, `querystring`, `header`) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Param {
    location: &'static str,
    name: String,
    required: bool,
}

fn resolve_ref<'a>(
    doc: &'a Document,
    value: &'a Value,
    pointer: &str,
    sink: &mut Sink,
) -> Option<&'a Value> {
    match value.get("$ref").and_then(Value::as_str) {
        None => Some(value),
        Some(r) => match r.strip_prefix('#').and_then(|p| doc.value.pointer(p)) {
            Some(target) => Some(target),
            None => {
                sink.error(pointer, format!("Unresolvable reference '{r}': only references inside this document are supported"));
                None
            }
        },
    }
}

fn resolve_parameters(
    doc: &Document,
    value: Option<&Value>,
    pointer: &str,
    sink: &mut Sink,
) -> Vec<Param> {
    let mut out = Vec::new();
    let Some(value) = value else { return out };
    let Some(list) = value.as_array() else {
        sink.error(pointer, "'parameters' must be a list");
        return out;
    };
    for (i, raw) in list.iter().enumerate() {
        let at = format!("{pointer}/{i}");
        let Some(param) = resolve_ref(doc, raw, &at, sink) else {
            continue;
        };
        let name = param.get("name").and_then(Value::as_str);
        let location = param.get("in").and_then(Value::as_str);
        let (Some(name), Some(location)) = (name, location) else {
            sink.error(&at, "A parameter needs 'name' and 'in'");
            continue;
        };
        let location = match location {
            "path" => "path",
            "query" => "querystring",
            "header" => "header",
            "body" | "formData" | "cookie" => continue,
            other => {
                sink.error(
                    &child(&at, "in"),
                    format!("Unknown parameter location '{other}'"),
                );
                continue;
            }
        };
        let required = param
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(location == "path");
        out.push(Param {
            location,
            name: name.to_string(),
            required,
        });
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn import_operation(
    doc: &Document,
    flavour: Flavour,
    path: &str,
    http_method: &str,
    value: &Value,
    path_params: &[Param],
    pointer: &str,
    sink: &mut Sink,
) -> Option<Method> {
    let Some(op) = value.as_object() else {
        sink.error(pointer, "An operation must be an object");
        return None;
    };
    let mut method = Method {
        http_method: http_method.to_string(),
        operation_name: op
            .get("operationId")
            .and_then(Value::as_str)
            .map(String::from),
        authorization_type: "NONE".to_string(),
        ..Method::default()
    };

    // Operation parameters override path-level ones with the same name and place.
    let mut params: BTreeMap<(&'static str, String), bool> = path_params
        .iter()
        .map(|p| ((p.location, p.name.clone()), p.required))
        .collect();
    for p in resolve_parameters(
        doc,
        op.get("parameters"),
        &child(pointer, "parameters"),
        sink,
    ) {
        params.insert((p.location, p.name), p.required);
    }
    for ((location, name), required) in params {
        method
            .request_parameters
            .insert(format!("method.request.{location}.{name}"), required);
    }
    // Path parameters exist whether declared or not: the template defines them.
    for segment in path.split('/') {
        if let PathPart::Param(name) | PathPart::Greedy(name) = PathPart::parse(segment) {
            method
                .request_parameters
                .entry(format!("method.request.path.{name}"))
                .or_insert(true);
        }
    }

    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        for (code, _) in responses {
            if code == "default" || code.starts_with("x-") {
                continue;
            }
            if status_code(&Value::String(code.clone())).is_none() {
                sink.error(
                    &child(&child(pointer, "responses"), code),
                    format!("Invalid response status code '{code}'"),
                );
                continue;
            }
            let headers = op["responses"][code]
                .get("headers")
                .and_then(Value::as_object)
                .map(|h| {
                    h.keys()
                        .map(|k| (format!("method.response.header.{k}"), false))
                        .collect()
                })
                .unwrap_or_default();
            method.method_responses.insert(
                code.clone(),
                MethodResponse {
                    response_parameters: headers,
                },
            );
        }
    }

    method.api_key_required = requires_api_key(doc, flavour, op);

    let integration_key = "x-amazon-apigateway-integration";
    match op.get(integration_key) {
        Some(spec) => {
            method.integration = integration::import_integration(spec, path, &method, &child(pointer, integration_key), sink);
        }
        None => sink.error(pointer, format!("No integration defined for method: '{http_method} {path}' has no {integration_key}")),
    }
    check_extensions(sink, op, pointer, &[integration_key]);
    Some(method)
}

/// True when the operation's security names an `apiKey` scheme (the
/// `x-api-key` header, as API Gateway's importer reads it).
fn requires_api_key(doc: &Document, flavour: Flavour, op: &Map<String, Value>) -> bool {
    let security = op.get("security").or_else(|| doc.value.get("security"));
    let Some(requirements) = security.and_then(Value::as_array) else {
        return false;
    };
    let schemes = match flavour {
        Flavour::Swagger2 => doc.value.get("securityDefinitions"),
        Flavour::OpenApi3 => doc.value.pointer("/components/securitySchemes"),
    };
    requirements.iter().filter_map(Value::as_object).any(|req| {
        req.keys().any(|name| {
            schemes
                .and_then(|s| s.get(name))
                .and_then(|s| s.get("type"))
                .and_then(Value::as_str)
                == Some("apiKey")
                && schemes
                    .and_then(|s| s.get(name))
                    .and_then(|s| s.get("x-amazon-apigateway-authtype"))
                    .is_none()
        })
    })
}
