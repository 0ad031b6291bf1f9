//! Resources, methods and integrations on the wire (read side): the shapes
//! of GetResources, GetResource, GetMethod and GetIntegration.

use gatewatch_model::export::{integration_common, integration_response};
use gatewatch_model::{Integration, Method, PassthroughBehavior, Resource, RestApi};
use serde_json::{json, Map, Value};

use super::{not_found, RestError};

fn bool_map(m: &std::collections::BTreeMap<String, bool>) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

/// The `Integration` shape.
pub fn integration_json(i: &Integration) -> Value {
    let mut v = json!({
        "type": i.kind.as_str(),
        "passthroughBehavior": match i.passthrough_behavior {
            PassthroughBehavior::WhenNoMatch => "WHEN_NO_MATCH",
            PassthroughBehavior::WhenNoTemplates => "WHEN_NO_TEMPLATES",
            PassthroughBehavior::Never => "NEVER",
        },
        "timeoutInMillis": i.timeout_ms,
        "cacheNamespace": "",
        "cacheKeyParameters": [],
    });
    integration_common(i, &mut v);
    // Keyed by status code, the pattern inside.
    let mut responses = Map::new();
    for r in &i.responses {
        let mut rv = integration_response(r);
        if let Some(p) = &r.selection_pattern {
            rv["selectionPattern"] = json!(p);
        }
        responses.insert(r.status_code.clone(), rv);
    }
    if !responses.is_empty() {
        v["integrationResponses"] = Value::Object(responses);
    }
    v
}

/// The `Method` shape, with its integration embedded as AWS returns it.
pub fn method_json(m: &Method) -> Value {
    let mut v = json!({
        "httpMethod": m.http_method,
        "authorizationType": m.authorization_type,
        "apiKeyRequired": m.api_key_required,
    });
    if let Some(op) = &m.operation_name {
        v["operationName"] = json!(op);
    }
    if !m.request_parameters.is_empty() {
        v["requestParameters"] = bool_map(&m.request_parameters);
    }
    let mut responses = Map::new();
    for (code, r) in &m.method_responses {
        let mut rv = json!({ "statusCode": code });
        if !r.response_parameters.is_empty() {
            rv["responseParameters"] = bool_map(&r.response_parameters);
        }
        responses.insert(code.clone(), rv);
    }
    if !responses.is_empty() {
        v["methodResponses"] = Value::Object(responses);
    }
    if let Some(i) = &m.integration {
        v["methodIntegration"] = integration_json(i);
    }
    v
}

/// The `Resource` shape; `embed` adds full methods (`?embed=methods`).
pub fn resource_json(r: &Resource, embed: bool) -> Value {
    let mut v = json!({ "id": r.id, "path": r.path });
    if let Some(p) = &r.parent_id {
        v["parentId"] = json!(p);
        v["pathPart"] = json!(r.path_part);
    }
    if !r.methods.is_empty() {
        let methods: Map<String, Value> = r
            .methods
            .iter()
            .map(|(name, m)| (name.clone(), if embed { method_json(m) } else { json!({}) }))
            .collect();
        v["resourceMethods"] = Value::Object(methods);
    }
    v
}

/// A resource of `api` by id.
pub fn resource<'a>(api: &'a RestApi, id: &str) -> Result<&'a Resource, RestError> {
    api.resources
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(|| not_found("Invalid Resource identifier specified"))
}

/// A method of a resource.
pub fn method<'a>(r: &'a Resource, http_method: &str) -> Result<&'a Method, RestError> {
    r.methods
        .get(&http_method.to_ascii_uppercase())
        .ok_or_else(|| not_found("Invalid Method identifier specified"))
}
