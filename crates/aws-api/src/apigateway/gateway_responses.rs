//! Gateway responses of an API: GetGatewayResponses (every type, the
//! defaults marked `defaultResponse`), GetGatewayResponse,
//! PutGatewayResponse, UpdateGatewayResponse and DeleteGatewayResponse
//! (back to the default). Like the rest of the definition they are served
//! once deployed.

use gatewatch_model::import::fragment;
use gatewatch_model::{GatewayResponse, GatewayResponseType, RestApi};
use serde_json::{json, Value};

use super::stage::patch_ops;
use super::*;

/// The `GatewayResponse` shape of `kind` in `api`.
fn response_json(api: &RestApi, kind: GatewayResponseType) -> Value {
    match api.gateway_responses.get(&kind) {
        Some(g) => {
            let mut v = json!({
                "responseType": kind.as_str(),
                "responseParameters": g.response_parameters,
                "responseTemplates": g.response_templates,
                "defaultResponse": false,
            });
            if let Some(code) = g.status_code {
                v["statusCode"] = json!(code.to_string());
            }
            v
        }
        None => {
            let mut v = json!({
                "responseType": kind.as_str(),
                "responseParameters": {},
                "responseTemplates": {
                    "application/json": gatewatch_model::gateway_response::DEFAULT_GATEWAY_RESPONSE_TEMPLATE,
                },
                "defaultResponse": true,
            });
            if let Some(code) = kind.default_status() {
                v["statusCode"] = json!(code.to_string());
            }
            v
        }
    }
}

fn kind(name: &str) -> Result<GatewayResponseType, RestError> {
    name.parse().map_err(|()| {
        bad_request(format!(
            "Invalid gateway response type '{name}'. Valid values are {}",
            GatewayResponseType::ALL.map(|t| t.as_str()).join(", ")
        ))
    })
}

/// The wire form of a customised response, as the importer reads it.
fn spec_of(g: &GatewayResponse) -> Value {
    let mut v = json!({
        "responseParameters": g.response_parameters,
        "responseTemplates": g.response_templates,
    });
    if let Some(code) = g.status_code {
        v["statusCode"] = json!(code.to_string());
    }
    v
}

impl ApiGatewayApi {
    /// `/restapis/{id}/gatewayresponses[/{type}]`.
    pub(super) async fn route_gateway_responses(
        &self,
        method: &str,
        id: &str,
        rest: &[&str],
        query: Option<&str>,
        region: &str,
        body: &Value,
    ) -> Result<Value, RestError> {
        match (method, rest) {
            ("GET", []) => self.with_api(region, id, |api| {
                page(
                    query,
                    GatewayResponseType::ALL
                        .iter()
                        .map(|k| response_json(api, *k))
                        .collect(),
                )
            }),
            ("GET", [name]) => {
                let k = kind(name)?;
                self.with_api(region, id, |api| Ok(response_json(api, k)))
            }
            ("PUT", [name]) => {
                // Only the type given: an empty customisation.
                let empty = json!({});
                let body = if body.is_null() { &empty } else { body };
                let (k, built) = fragment::gateway_response(name, body)
                    .map_err(|e| bad_request(e.to_string()))?;
                self.change_api(region, id, |api| {
                    api.gateway_responses.insert(k, built);
                    Ok(response_json(api, k))
                })
                .await
            }
            ("PATCH", [name]) => {
                let k = kind(name)?;
                let ops = patch_ops(body)?;
                self.change_api(region, id, |api| {
                    let mut spec = api
                        .gateway_responses
                        .get(&k)
                        .map(spec_of)
                        .unwrap_or_else(|| json!({}));
                    for op in &ops {
                        let tokens = op.tokens();
                        let remove = op.op == "remove";
                        match tokens.as_slice() {
                            [f] if f == "statusCode" => {
                                if remove {
                                    spec.as_object_mut().map(|o| o.remove("statusCode"));
                                } else {
                                    spec["statusCode"] = json!(op.value.clone().unwrap_or_default());
                                }
                            }
                            [f, key] if f == "responseParameters" || f == "responseTemplates" => {
                                if !spec[f.as_str()].is_object() {
                                    spec[f.as_str()] = json!({});
                                }
                                let map = spec[f.as_str()].as_object_mut().expect("an object");
                                if remove {
                                    map.remove(key);
                                } else {
                                    map.insert(key.clone(), json!(op.value.clone().unwrap_or_default()));
                                }
                            }
                            _ => {
                                return Err(op.invalid_path(
                                    "/statusCode, /responseParameters/{name}, /responseTemplates/{contentType}",
                                ))
                            }
                        }
                    }
                    let (_, built) = fragment::gateway_response(name, &spec)
                        .map_err(|e| bad_request(e.to_string()))?;
                    api.gateway_responses.insert(k, built);
                    Ok(response_json(api, k))
                })
                .await
            }
            ("DELETE", [name]) => {
                let k = kind(name)?;
                self.change_api(region, id, |api| {
                    api.gateway_responses.remove(&k).ok_or_else(|| {
                        not_found("Invalid Gateway Response identifier specified")
                    })?;
                    Ok(json!({}))
                })
                .await
            }
            _ => Err(unknown_operation(
                method,
                &format!("/restapis/{id}/gatewayresponses/{}", rest.join("/")),
            )),
        }
    }
}
