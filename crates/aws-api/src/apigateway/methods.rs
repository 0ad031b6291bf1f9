//! Resources, methods, method responses, integrations and integration
//! responses: create, get, update (patch operations) and delete, on an
//! API's working definition.
//!
//! Every piece is built and checked by the importer's own validators
//! (`gatewatch_model::import::fragment`), so a definition means the same
//! whether it came from an OpenAPI file or from these calls. Changes are
//! stored durably and served once deployed (CreateDeployment), as on AWS.
//!
//! Choices where AWS's messages are not documented: a bad piece is a
//! `BadRequestException` carrying the importer's message; a second
//! resource with the same path part is a `ConflictException`; an
//! integration response for a status with no method response is a
//! `NotFoundException` ("Invalid Response status code specified").

use gatewatch_model::import::fragment;
use gatewatch_model::{PathPart, Resource, RestApi};
use serde_json::{json, Value};

use super::resources::{self, integration_json, method_json, resource_json};
use super::stage::{patch_ops, PatchOp};
use super::*;

fn invalid(e: fragment::Invalid) -> RestError {
    bad_request(e.to_string())
}

/// Applies patch operations to a JSON object whose top-level members are
/// `fields`; `/{member}` sets a scalar, `/{member}/{key}` a map entry.
/// Values keep the type the member already has (numbers, booleans).
fn patch_json(doc: &mut Value, ops: &[PatchOp], fields: &[&str]) -> Result<(), RestError> {
    let valid = fields
        .iter()
        .map(|f| format!("/{f}"))
        .collect::<Vec<_>>()
        .join(", ");
    for op in ops {
        let tokens = op.tokens();
        let Some(field) = tokens.first().filter(|f| fields.contains(&f.as_str())) else {
            return Err(op.invalid_path(&valid));
        };
        let remove = match op.op.as_str() {
            "remove" => true,
            "add" | "replace" => false,
            other => {
                return Err(bad_request(format!(
                    "Invalid patch operation '{other}' for {}",
                    op.path
                )))
            }
        };
        match tokens.as_slice() {
            [_] if remove => {
                doc.as_object_mut().map(|o| o.remove(field.as_str()));
            }
            [_] => {
                let v = op.required_value()?.to_string();
                doc[field.as_str()] = match &doc[field.as_str()] {
                    Value::Number(_) => v.parse::<u64>().map(Value::from).map_err(|_| {
                        bad_request(format!("Invalid number value for {}", op.path))
                    })?,
                    Value::Bool(_) => json!(v == "true"),
                    _ if field == "timeoutInMillis" => {
                        v.parse::<u64>().map(Value::from).map_err(|_| {
                            bad_request(format!("Invalid number value for {}", op.path))
                        })?
                    }
                    _ => json!(v),
                };
            }
            [_, key] => {
                if !doc[field.as_str()].is_object() {
                    doc[field.as_str()] = json!({});
                }
                let map = doc[field.as_str()]
                    .as_object_mut()
                    .expect("just made an object");
                if remove {
                    map.remove(key);
                } else {
                    let v = op.required_value()?;
                    // tlsConfig's members are booleans; map entries strings.
                    let v = match (field.as_str(), v) {
                        ("tlsConfig", "true") => json!(true),
                        ("tlsConfig", "false") => json!(false),
                        _ => json!(v),
                    };
                    map.insert(key.clone(), v);
                }
            }
            _ => return Err(op.invalid_path(&valid)),
        }
    }
    Ok(())
}

/// Map entries patched in arrive as strings; required-flags are booleans.
fn flags_to_bools(map: &mut Value) {
    if let Some(params) = map.as_object_mut() {
        for v in params.values_mut() {
            if let Some(s) = v.as_str() {
                *v = json!(s == "true");
            }
        }
    }
}

fn resource_mut<'a>(api: &'a mut RestApi, id: &str) -> Result<&'a mut Resource, RestError> {
    api.resources
        .iter_mut()
        .find(|r| r.id == id)
        .ok_or_else(|| not_found("Invalid Resource identifier specified"))
}

fn method_mut<'a>(
    api: &'a mut RestApi,
    rid: &str,
    http_method: &str,
) -> Result<&'a mut gatewatch_model::Method, RestError> {
    resource_mut(api, rid)?
        .methods
        .get_mut(&http_method.to_ascii_uppercase())
        .ok_or_else(|| not_found("Invalid Method identifier specified"))
}

/// Checks that `part` may be a child of `parent` in `api` (ignoring the
/// resource `moving`, when a resource is moved or renamed).
fn check_child(
    api: &RestApi,
    parent: &Resource,
    part: &str,
    moving: Option<&str>,
) -> Result<String, RestError> {
    if part.is_empty() {
        return Err(bad_request("Resource's path part must be specified"));
    }
    if part.contains('/') {
        return Err(bad_request(format!(
            "Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning and the end and an optional plus sign before the closing brace: {part}"
        )));
    }
    let path = if parent.path == "/" {
        format!("/{part}")
    } else {
        format!("{}/{part}", parent.path)
    };
    fragment::resource_path(&path).map_err(invalid)?;
    if matches!(PathPart::parse(&parent.path_part), PathPart::Greedy(_)) {
        return Err(bad_request(format!(
            "A resource under a greedy path variable ({}) is not allowed",
            parent.path
        )));
    }
    let variable = !matches!(PathPart::parse(part), PathPart::Literal(_));
    for sibling in api.resources.iter().filter(|r| {
        r.parent_id.as_deref() == Some(parent.id.as_str()) && Some(r.id.as_str()) != moving
    }) {
        if sibling.path_part == part {
            return Err(conflict(format!(
                "Another resource with the same parent already has this name: {part}"
            )));
        }
        if variable && !matches!(PathPart::parse(&sibling.path_part), PathPart::Literal(_)) {
            return Err(bad_request(format!(
                "A sibling ({}) of this resource already has a variable path part -- only one is allowed",
                sibling.path_part
            )));
        }
    }
    Ok(path)
}

/// Ids of `id` and everything below it.
fn subtree(api: &RestApi, id: &str) -> Vec<String> {
    let mut out = vec![id.to_string()];
    let mut i = 0;
    while i < out.len() {
        let parent = out[i].clone();
        out.extend(
            api.resources
                .iter()
                .filter(|r| r.parent_id.as_deref() == Some(parent.as_str()))
                .map(|r| r.id.clone()),
        );
        i += 1;
    }
    out
}

/// Recomputes the paths of every resource (after a move or rename),
/// parents first.
fn recompute_paths(api: &mut RestApi) {
    let by_id: std::collections::HashMap<String, (Option<String>, String)> = api
        .resources
        .iter()
        .map(|r| (r.id.clone(), (r.parent_id.clone(), r.path_part.clone())))
        .collect();
    for r in &mut api.resources {
        let mut parts = Vec::new();
        let mut cursor = Some(r.id.clone());
        while let Some(id) = cursor {
            let Some((parent, part)) = by_id.get(&id) else {
                break;
            };
            if parent.is_some() {
                parts.push(part.clone());
            }
            cursor = parent.clone();
        }
        parts.reverse();
        r.path = format!("/{}", parts.join("/"));
    }
    // Keep parents before children, as the model promises.
    api.resources.sort_by(|a, b| {
        a.path
            .matches('/')
            .count()
            .cmp(&b.path.matches('/').count())
            .then(a.path.cmp(&b.path))
    });
    if let Some(root) = api.resources.iter().position(|r| r.parent_id.is_none()) {
        let root = api.resources.remove(root);
        api.resources.insert(0, root);
    }
}

impl ApiGatewayApi {
    /// `/restapis/{id}/resources/...`.
    pub(super) async fn route_resources(
        &self,
        method: &str,
        id: &str,
        rest: &[&str],
        query: Option<&str>,
        region: &str,
        body: &Value,
    ) -> Result<Value, RestError> {
        let embed = query_param(query, "embed").is_some_and(|e| e.contains("methods"));
        match (method, rest) {
            ("GET", []) => self.with_api(region, id, |api| {
                page(
                    query,
                    api.resources
                        .iter()
                        .map(|r| resource_json(r, embed))
                        .collect(),
                )
            }),
            ("GET", [rid]) => self.with_api(region, id, |api| {
                Ok(resource_json(resources::resource(api, rid)?, embed))
            }),
            ("POST", [parent]) => {
                let part = body["pathPart"].as_str().unwrap_or("").to_string();
                self.change_api(region, id, |api| {
                    let parent = resources::resource(api, parent)?.clone();
                    let path = check_child(api, &parent, &part, None)?;
                    let mut rid = gatewatch_model::id::stable_id(&[&api.id, &path]);
                    if api.resources.iter().any(|r| r.id == rid) {
                        rid = gatewatch_model::id::stable_id(&[
                            &rid,
                            &uuid::Uuid::new_v4().to_string(),
                        ]);
                    }
                    let r = Resource {
                        id: rid,
                        parent_id: Some(parent.id.clone()),
                        path_part: part.clone(),
                        path,
                        methods: Default::default(),
                    };
                    let out = resource_json(&r, false);
                    api.resources.push(r);
                    Ok(out)
                })
                .await
            }
            ("PATCH", [rid]) => {
                let ops = patch_ops(body)?;
                self.change_api(region, id, |api| {
                    for op in &ops {
                        let current = resources::resource(api, rid)?.clone();
                        if current.parent_id.is_none() {
                            return Err(bad_request("The root resource cannot be changed"));
                        }
                        let (parent_id, part): (String, String) =
                            match (op.op.as_str(), op.path.as_str()) {
                                ("replace", "/pathPart") => (
                                    current.parent_id.clone().unwrap_or_default(),
                                    op.required_value()?.to_string(),
                                ),
                                ("replace", "/parentId") => {
                                    (op.required_value()?.to_string(), current.path_part.clone())
                                }
                                _ => return Err(op.invalid_path("/pathPart, /parentId")),
                            };
                        if subtree(api, rid).contains(&parent_id) {
                            return Err(bad_request("A resource cannot be moved below itself"));
                        }
                        let parent = resources::resource(api, &parent_id)?.clone();
                        check_child(api, &parent, &part, Some(rid))?;
                        let r = resource_mut(api, rid)?;
                        r.parent_id = Some(parent_id);
                        r.path_part = part;
                        recompute_paths(api);
                        for r in subtree(api, rid) {
                            let path = resources::resource(api, &r)?.path.clone();
                            fragment::resource_path(&path).map_err(invalid)?;
                        }
                    }
                    Ok(resource_json(resources::resource(api, rid)?, false))
                })
                .await
            }
            ("DELETE", [rid]) => {
                self.change_api(region, id, |api| {
                    let r = resources::resource(api, rid)?;
                    if r.parent_id.is_none() {
                        return Err(bad_request("Cannot delete the root resource"));
                    }
                    let gone = subtree(api, rid);
                    api.resources.retain(|r| !gone.contains(&r.id));
                    Ok(json!({}))
                })
                .await
            }
            (_, [rid, "methods", m, more @ ..]) => {
                self.route_method(method, id, rid, m, more, region, body)
                    .await
            }
            _ => Err(unknown_operation(
                method,
                &format!("/restapis/{id}/resources/{}", rest.join("/")),
            )),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn route_method(
        &self,
        method: &str,
        id: &str,
        rid: &str,
        m: &str,
        rest: &[&str],
        region: &str,
        body: &Value,
    ) -> Result<Value, RestError> {
        let hm = m.to_ascii_uppercase();
        match (method, rest) {
            ("GET", []) => self.with_api(region, id, |api| {
                let r = resources::resource(api, rid)?;
                Ok(method_json(resources::method(r, m)?))
            }),
            ("PUT", []) => {
                self.change_api(region, id, |api| {
                    let r = resource_mut(api, rid)?;
                    let built = fragment::method(m, body, &r.path).map_err(invalid)?;
                    if r.methods.contains_key(&built.http_method) {
                        return Err(conflict("Method already exists for this resource"));
                    }
                    let out = method_json(&built);
                    r.methods.insert(built.http_method.clone(), built);
                    Ok(out)
                })
                .await
            }
            ("PATCH", []) => {
                let ops = patch_ops(body)?;
                self.change_api(region, id, |api| {
                    let path = resources::resource(api, rid)?.path.clone();
                    let current = method_mut(api, rid, m)?;
                    let mut wire = json!({
                        "authorizationType": current.authorization_type,
                        "apiKeyRequired": current.api_key_required,
                        "operationName": current.operation_name,
                        "requestParameters": current.request_parameters,
                    });
                    patch_json(
                        &mut wire,
                        &ops,
                        &[
                            "authorizationType",
                            "apiKeyRequired",
                            "operationName",
                            "requestParameters",
                        ],
                    )?;
                    flags_to_bools(&mut wire["requestParameters"]);
                    let mut built = fragment::method(m, &wire, &path).map_err(invalid)?;
                    built.method_responses = std::mem::take(&mut current.method_responses);
                    built.integration = current.integration.take();
                    *current = built;
                    Ok(method_json(current))
                })
                .await
            }
            ("DELETE", []) => {
                self.change_api(region, id, |api| {
                    let r = resource_mut(api, rid)?;
                    r.methods
                        .remove(&hm)
                        .ok_or_else(|| not_found("Invalid Method identifier specified"))?;
                    Ok(json!({}))
                })
                .await
            }
            ("POST", []) => self.test_invoke_method(region, id, rid, &hm, body).await,
            (_, ["responses", code]) => {
                self.method_response(method, id, rid, m, code, region, body)
                    .await
            }
            (_, ["integration"]) => self.integration(method, id, rid, m, region, body).await,
            (_, ["integration", "responses", code]) => {
                self.integration_response(method, id, rid, m, code, region, body)
                    .await
            }
            _ => Err(unknown_operation(
                method,
                &format!(
                    "/restapis/{id}/resources/{rid}/methods/{m}/{}",
                    rest.join("/")
                ),
            )),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn method_response(
        &self,
        method: &str,
        id: &str,
        rid: &str,
        m: &str,
        code: &str,
        region: &str,
        body: &Value,
    ) -> Result<Value, RestError> {
        let shape = |code: &str, r: &gatewatch_model::MethodResponse| {
            let mut v = json!({ "statusCode": code });
            if !r.response_parameters.is_empty() {
                v["responseParameters"] = json!(r.response_parameters);
            }
            v
        };
        let missing = || not_found("Invalid Response status code specified");
        match method {
            "GET" => self.with_api(region, id, |api| {
                let r = resources::resource(api, rid)?;
                let mr = resources::method(r, m)?
                    .method_responses
                    .get(code)
                    .ok_or_else(missing)?;
                Ok(shape(code, mr))
            }),
            "PUT" => {
                let built = fragment::method_response(code, body).map_err(invalid)?;
                self.change_api(region, id, |api| {
                    let method = method_mut(api, rid, m)?;
                    let out = shape(code, &built);
                    method.method_responses.insert(code.to_string(), built);
                    Ok(out)
                })
                .await
            }
            "PATCH" => {
                let ops = patch_ops(body)?;
                self.change_api(region, id, |api| {
                    let method = method_mut(api, rid, m)?;
                    let mr = method.method_responses.get_mut(code).ok_or_else(missing)?;
                    let mut wire = json!({ "responseParameters": mr.response_parameters });
                    patch_json(&mut wire, &ops, &["responseParameters"])?;
                    flags_to_bools(&mut wire["responseParameters"]);
                    *mr = fragment::method_response(code, &wire).map_err(invalid)?;
                    Ok(shape(code, mr))
                })
                .await
            }
            "DELETE" => {
                self.change_api(region, id, |api| {
                    method_mut(api, rid, m)?
                        .method_responses
                        .remove(code)
                        .ok_or_else(missing)?;
                    Ok(json!({}))
                })
                .await
            }
            _ => Err(unknown_operation(method, code)),
        }
    }

    async fn integration(
        &self,
        method: &str,
        id: &str,
        rid: &str,
        m: &str,
        region: &str,
        body: &Value,
    ) -> Result<Value, RestError> {
        let missing = || not_found("Invalid Integration identifier specified");
        match method {
            "GET" => self.with_api(region, id, |api| {
                let r = resources::resource(api, rid)?;
                resources::method(r, m)?
                    .integration
                    .as_ref()
                    .map(integration_json)
                    .ok_or_else(missing)
            }),
            "PUT" | "PATCH" => {
                let ops = if method == "PATCH" {
                    patch_ops(body)?
                } else {
                    Vec::new()
                };
                self.change_api(region, id, |api| {
                    let path = resources::resource(api, rid)?.path.clone();
                    let current = method_mut(api, rid, m)?;
                    let spec = if method == "PUT" {
                        let mut spec = body.clone();
                        if let Some(o) = spec.as_object_mut() {
                            // Integration responses have calls of their own.
                            o.remove("responses");
                        }
                        spec
                    } else {
                        let existing = current.integration.as_ref().ok_or_else(missing)?;
                        let mut wire = integration_json(existing);
                        if let Some(o) = wire.as_object_mut() {
                            o.remove("integrationResponses");
                        }
                        patch_json(
                            &mut wire,
                            &ops,
                            &[
                                "type",
                                "httpMethod",
                                "uri",
                                "requestParameters",
                                "requestTemplates",
                                "passthroughBehavior",
                                "timeoutInMillis",
                                "contentHandling",
                                "cacheNamespace",
                                "cacheKeyParameters",
                                "connectionType",
                                "connectionId",
                                "credentials",
                                "tlsConfig",
                            ],
                        )?;
                        wire
                    };
                    let (mut built, _warnings) =
                        fragment::integration(&spec, &path, current).map_err(invalid)?;
                    // A new integration keeps no responses; a patched one keeps its own.
                    if method == "PATCH" {
                        built.responses = current
                            .integration
                            .as_ref()
                            .map(|i| i.responses.clone())
                            .unwrap_or_default();
                    }
                    let out = integration_json(&built);
                    current.integration = Some(built);
                    Ok(out)
                })
                .await
            }
            "DELETE" => {
                self.change_api(region, id, |api| {
                    method_mut(api, rid, m)?
                        .integration
                        .take()
                        .ok_or_else(missing)?;
                    Ok(json!({}))
                })
                .await
            }
            _ => Err(unknown_operation(method, "integration")),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn integration_response(
        &self,
        method: &str,
        id: &str,
        rid: &str,
        m: &str,
        code: &str,
        region: &str,
        body: &Value,
    ) -> Result<Value, RestError> {
        let missing = || not_found("Invalid Response status code specified");
        let shape = |r: &gatewatch_model::IntegrationResponse| {
            let mut v = gatewatch_model::export::integration_response(r);
            if let Some(p) = &r.selection_pattern {
                v["selectionPattern"] = json!(p);
            }
            v
        };
        match method {
            "GET" => self.with_api(region, id, |api| {
                let r = resources::resource(api, rid)?;
                let i = resources::method(r, m)?
                    .integration
                    .as_ref()
                    .ok_or_else(|| not_found("Invalid Integration identifier specified"))?;
                i.responses
                    .iter()
                    .find(|r| r.status_code == code)
                    .map(shape)
                    .ok_or_else(missing)
            }),
            "PUT" | "PATCH" | "DELETE" => {
                let ops = if method == "PATCH" {
                    patch_ops(body)?
                } else {
                    Vec::new()
                };
                self.change_api(region, id, |api| {
                    let current = method_mut(api, rid, m)?;
                    if method == "PUT" && !current.method_responses.contains_key(code) {
                        return Err(missing());
                    }
                    let integration = current
                        .integration
                        .as_mut()
                        .ok_or_else(|| not_found("Invalid Integration identifier specified"))?;
                    let existing = integration
                        .responses
                        .iter()
                        .position(|r| r.status_code == code);
                    if method == "DELETE" {
                        integration.responses.remove(existing.ok_or_else(missing)?);
                        return Ok(json!({}));
                    }
                    let mut spec = if method == "PUT" {
                        body.clone()
                    } else {
                        let mut wire = shape(&integration.responses[existing.ok_or_else(missing)?]);
                        patch_json(
                            &mut wire,
                            &ops,
                            &[
                                "selectionPattern",
                                "responseParameters",
                                "responseTemplates",
                                "contentHandling",
                            ],
                        )?;
                        wire
                    };
                    if !spec.is_object() {
                        spec = json!({});
                    }
                    spec["statusCode"] = json!(code);
                    let pattern = spec["selectionPattern"]
                        .as_str()
                        .map(str::to_string)
                        .filter(|p| !p.is_empty());
                    if let Some(o) = spec.as_object_mut() {
                        o.remove("selectionPattern");
                    }
                    let built = fragment::integration_response(pattern.as_deref(), &spec)
                        .map_err(invalid)?;
                    let out = shape(&built);
                    if let Some(i) = existing {
                        integration.responses.remove(i);
                    }
                    // Patterned responses are tried in order; the default comes last.
                    if built.selection_pattern.is_some() {
                        let at = integration
                            .responses
                            .iter()
                            .position(|r| r.selection_pattern.is_none())
                            .unwrap_or(integration.responses.len());
                        integration.responses.insert(at, built);
                    } else {
                        integration.responses.push(built);
                    }
                    Ok(out)
                })
                .await
            }
            _ => Err(unknown_operation(method, code)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_a_resource_moves_its_children() {
        let mut api = RestApi::new("abcdefghij", "t");
        api.ensure_resource("/a/b/c");
        api.ensure_resource("/x");
        let b = api.resource("/a/b").unwrap().id.clone();
        let x = api.resource("/x").unwrap().id.clone();
        let r = api.resources.iter_mut().find(|r| r.id == b).unwrap();
        r.parent_id = Some(x);
        recompute_paths(&mut api);
        let paths: Vec<_> = api.resources.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/", "/a", "/x", "/x/b", "/x/b/c"]);
        assert_eq!(subtree(&api, &b).len(), 2);
    }

    #[test]
    fn patches_keep_types_and_edit_maps() {
        let mut v =
            json!({ "timeoutInMillis": 29000, "requestTemplates": { "application/json": "x" } });
        let ops = vec![
            PatchOp {
                op: "replace".into(),
                path: "/timeoutInMillis".into(),
                value: Some("500".into()),
            },
            PatchOp {
                op: "remove".into(),
                path: "/requestTemplates/application~1json".into(),
                value: None,
            },
            PatchOp {
                op: "add".into(),
                path: "/requestTemplates/text~1plain".into(),
                value: Some("y".into()),
            },
        ];
        patch_json(&mut v, &ops, &["timeoutInMillis", "requestTemplates"]).unwrap();
        assert_eq!(
            v,
            json!({ "timeoutInMillis": 500, "requestTemplates": { "text/plain": "y" } })
        );
        let bad = vec![PatchOp {
            op: "replace".into(),
            path: "/nope".into(),
            value: Some("1".into()),
        }];
        assert!(patch_json(&mut v, &bad, &["timeoutInMillis"]).is_err());
    }
}
