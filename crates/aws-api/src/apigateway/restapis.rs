//! Rest APIs: import, put (overwrite/merge), create, update, delete, list,
//! and export as OpenAPI 3 or Swagger 2.

use std::sync::Arc;

use bytes::Bytes;
use gatewatch_gateway::Deployments;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use serde_json::{json, Value};

use super::*;

impl ApiGatewayApi {
    /// GetExport: `GET /restapis/{id}/stages/{stage}/exports/{oas30|swagger}`
    /// with `?extensions=apigateway` (or `integrations`) and an `Accept` of
    /// `application/json` (default) or `application/yaml`.
    pub(super) fn export(
        &self,
        method: &Method,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
        region: &str,
    ) -> Option<Response<Bytes>> {
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let ["restapis", id, "stages", stage, "exports", kind] = segs.as_slice() else {
            return None;
        };
        if method != Method::GET {
            return None;
        }
        let error = |e: RestError| {
            let mut r = Response::new(Bytes::from(json!({ "message": e.message }).to_string()));
            *r.status_mut() = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            r.headers_mut()
                .insert("x-amzn-errortype", HeaderValue::from_static(e.error_type));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        };
        let flavour = match *kind {
            "oas30" => gatewatch_model::export::ExportFlavour::OpenApi3,
            "swagger" => gatewatch_model::export::ExportFlavour::Swagger2,
            other => {
                return Some(error(bad_request(format!(
                    "Export type '{other}' is not supported; use oas30 or swagger"
                ))))
            }
        };
        let d = self.deployments(region);
        let Some(api) = d.apis.iter().find(|a| a.api.id == *id) else {
            return Some(error(self.invalid_api(id)));
        };
        // A stage exports the deployment it serves.
        let Some(served) = api.stages.get(*stage).and_then(|s| api.deployment_of(s)) else {
            return Some(error(not_found("Invalid stage identifier specified")));
        };
        let extensions = super::query_pairs(query).any(|(k, v)| {
            k == "extensions"
                && v.split(',')
                    .any(|e| e == "apigateway" || e == "integrations")
        });
        let doc = gatewatch_model::export::export(&served.api, flavour, extensions);
        let yaml = headers
            .get_all(http::header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|a| a.contains("yaml"));
        let (body, content_type, ext) = if yaml {
            (
                gatewatch_model::export::to_yaml(&doc),
                "application/yaml",
                "yaml",
            )
        } else {
            (
                serde_json::to_string_pretty(&doc).unwrap_or_default(),
                "application/json",
                "json",
            )
        };
        let mut r = Response::new(Bytes::from(body));
        let h = r.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(content_type),
        );
        if let Ok(v) =
            HeaderValue::from_str(&format!("attachment; filename=\"{kind}_{stage}.{ext}\""))
        {
            h.insert(http::header::CONTENT_DISPOSITION, v);
        }
        Some(r)
    }

    /// ImportRestApi: a new API from an OpenAPI 3 / Swagger 2 document
    /// (YAML or JSON), served at once (it has no stages until one is
    /// created) and stored durably so it comes back after a restart.
    pub(super) async fn import_rest_api(
        &self,
        region: &str,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Value, RestError> {
        let fail_on_warnings =
            super::query_param(query, "failonwarnings").as_deref() == Some("true");
        let text = std::str::from_utf8(body)
            .map_err(|_| bad_request("The API definition is not UTF-8 text"))?;
        let _guard = self.updates.lock().await;
        let current = self.deployments(region);
        self.check_region(&current, region)?;
        let mut options = gatewatch_model::import::ImportOptions::default();
        let first = gatewatch_model::import::import_document(text, &options)
            .map_err(|d| import_problems("Errors", &d))?;
        let mut imported = first;
        // An id in use, or once used by a deleted API, is not reused.
        let stored = self
            .store
            .setting(&api_key(region, &imported.api.id))
            .ok()
            .flatten()
            .is_some();
        if stored || current.apis.iter().any(|a| a.api.id == imported.api.id) {
            // The same title again: a new API with a fresh id, as AWS does.
            options.rest_api_id = Some(gatewatch_model::id::stable_id(&[
                &imported.api.id,
                &uuid::Uuid::new_v4().to_string(),
            ]));
            imported = gatewatch_model::import::import_document(text, &options)
                .map_err(|_| bad_request("The API definition could not be imported"))?;
        }
        if fail_on_warnings && !imported.warnings.is_empty() {
            return Err(import_problems("Warnings", &imported.warnings));
        }
        self.store_api(region, &imported.api).await?;
        let deployed = gatewatch_gateway::DeployedApi::undeployed(Arc::new(imported.api));
        let mut view = self.rest_api_json(region, &deployed);
        if !imported.warnings.is_empty() {
            view["warnings"] = json!(imported
                .warnings
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>());
        }
        let mut next = (*current).clone();
        next.apis.push(deployed);
        self.gateway.replace_deployments(next);
        Ok(view)
    }

    /// Stores an API's working definition (the model itself, so ids and
    /// everything the API set survive) so it comes back after a restart.
    pub(super) async fn store_api(
        &self,
        region: &str,
        api: &gatewatch_model::RestApi,
    ) -> Result<(), RestError> {
        let record = json!({
            "id": api.id,
            "model": api,
            // Configured APIs were created when gatewatch started; new ones now.
            "createdDate": self.api_created(region, &api.id).unwrap_or_else(|| {
                if self.deployments(region).apis.iter().any(|a| a.api.id == api.id) {
                    self.started
                } else {
                    now_s()
                }
            }),
        });
        self.put_record(&api_key(region, &api.id), &record, "API")
            .await
    }

    /// Makes `api` API `index`'s working definition. What stages serve
    /// changes only with a deployment.
    pub(super) fn swap_api(
        &self,
        current: &Deployments,
        index: usize,
        api: gatewatch_model::RestApi,
    ) {
        let mut next = current.clone();
        next.apis[index].api = Arc::new(api);
        self.gateway.replace_deployments(next);
    }

    /// CreateRestApi: an empty API (only `/`) with a name.
    pub(super) async fn create_rest_api(
        &self,
        region: &str,
        body: &Value,
    ) -> Result<Value, RestError> {
        let name = body["name"]
            .as_str()
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| bad_request("name is required"))?;
        let _guard = self.updates.lock().await;
        let current = self.deployments(region);
        self.check_region(&current, region)?;
        let id = gatewatch_model::id::stable_id(&[name, &uuid::Uuid::new_v4().to_string()]);
        let mut api = gatewatch_model::RestApi::new(id, name);
        api.description = body["description"].as_str().map(str::to_string);
        api.version = body["version"].as_str().map(str::to_string);
        if let Some(types) = body["binaryMediaTypes"].as_array() {
            api.binary_media_types = types
                .iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect();
        }
        match body["apiKeySource"].as_str() {
            None | Some("HEADER") => {}
            Some("AUTHORIZER") => api.api_key_source = gatewatch_model::ApiKeySource::Authorizer,
            Some(other) => {
                return Err(bad_request(format!(
                    "Invalid apiKeySource '{other}': HEADER or AUTHORIZER"
                )))
            }
        }
        self.store_api(region, &api).await?;
        let deployed = gatewatch_gateway::DeployedApi::undeployed(Arc::new(api));
        let view = self.rest_api_json(region, &deployed);
        let mut next = (*current).clone();
        next.apis.push(deployed);
        self.gateway.replace_deployments(next);
        Ok(view)
    }

    /// UpdateRestApi: `/name`, `/description`, `/version`, `/apiKeySource`,
    /// `/binaryMediaTypes/{type}` (with `~1` for `/`).
    pub(super) async fn update_rest_api(
        &self,
        region: &str,
        id: &str,
        body: &Value,
    ) -> Result<Value, RestError> {
        let ops = stage::patch_ops(body)?;
        let _guard = self.updates.lock().await;
        let current = self.deployments(region);
        let index = self.api_index(&current, id)?;
        let mut api = current.apis[index].api.as_ref().clone();
        for op in &ops {
            let remove = op.op == "remove";
            let value = || op.required_value().map(str::to_string);
            match op.path.as_str() {
                "/name" if !remove => api.name = value()?,
                "/description" => api.description = if remove { None } else { Some(value()?) },
                "/version" => api.version = if remove { None } else { Some(value()?) },
                "/apiKeySource" if !remove => {
                    api.api_key_source = match value()?.as_str() {
                        "HEADER" => gatewatch_model::ApiKeySource::Header,
                        "AUTHORIZER" => gatewatch_model::ApiKeySource::Authorizer,
                        other => {
                            return Err(bad_request(format!(
                                "Invalid apiKeySource '{other}': HEADER or AUTHORIZER"
                            )))
                        }
                    }
                }
                p if p.starts_with("/binaryMediaTypes/") => {
                    let t = p["/binaryMediaTypes/".len()..]
                        .replace("~1", "/")
                        .replace("~0", "~");
                    api.binary_media_types.retain(|x| *x != t);
                    if !remove {
                        api.binary_media_types.push(t);
                    }
                }
                _ => {
                    return Err(op.invalid_path(
                        "/name, /description, /version, /apiKeySource, /binaryMediaTypes/{type}",
                    ))
                }
            }
        }
        self.store_api(region, &api).await?;
        self.swap_api(&current, index, api);
        let d = self.deployments(region);
        Ok(self.rest_api_json(region, &d.apis[index]))
    }

    /// PutRestApi: `mode=overwrite` (default) replaces the definition with
    /// the document's, `mode=merge` adds the document's resources, methods
    /// and gateway responses to it. Stages are kept.
    pub(super) async fn put_rest_api(
        &self,
        region: &str,
        id: &str,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Value, RestError> {
        let merge = super::query_param(query, "mode").as_deref() == Some("merge");
        let text = std::str::from_utf8(body)
            .map_err(|_| bad_request("The API definition is not UTF-8 text"))?;
        let _guard = self.updates.lock().await;
        let current = self.deployments(region);
        let index = self.api_index(&current, id)?;
        let options = gatewatch_model::import::ImportOptions {
            rest_api_id: Some(id.to_string()),
        };
        let incoming = gatewatch_model::import::import_document(text, &options)
            .map_err(|d| import_problems("Errors", &d))?
            .api;
        let api = if merge {
            let mut api = current.apis[index].api.as_ref().clone();
            for r in incoming.resources {
                let target = api.ensure_resource(&r.path);
                target.methods.extend(r.methods);
            }
            api.gateway_responses.extend(incoming.gateway_responses);
            for t in incoming.binary_media_types {
                if !api.binary_media_types.contains(&t) {
                    api.binary_media_types.push(t);
                }
            }
            api
        } else {
            incoming
        };
        self.store_api(region, &api).await?;
        self.swap_api(&current, index, api);
        let d = self.deployments(region);
        Ok(self.rest_api_json(region, &d.apis[index]))
    }

    /// DeleteRestApi: stops serving the API; remembered across restarts.
    pub(super) async fn delete_rest_api(&self, region: &str, id: &str) -> Result<Value, RestError> {
        let _guard = self.updates.lock().await;
        let current = self.deployments(region);
        let index = self.api_index(&current, id)?;
        self.put_record(
            &api_key(region, id),
            &json!({ "id": id, "deleted": true }),
            "deletion",
        )
        .await?;
        // Its deployments and stages go with it (so an API imported later
        // under the same id starts empty, after a restart too).
        for prefix in [
            format!("apigateway/deployment/{region}/{id}/"),
            format!("apigateway/stage/{region}/{id}/"),
        ] {
            for (key, _) in self.store.settings(&prefix).unwrap_or_default() {
                self.delete_record(&key, "deletion").await?;
            }
        }
        let mut next = (*current).clone();
        next.apis.remove(index);
        self.gateway.replace_deployments(next);
        Ok(json!({}))
    }

    /// When an API made through this API was created (`None` for APIs
    /// from configuration, created when gatewatch started).
    fn api_created(&self, region: &str, id: &str) -> Option<i64> {
        self.record(&api_key(region, id))
            .and_then(|v| v["createdDate"].as_i64())
    }

    pub(super) fn rest_api_json(&self, region: &str, d: &gatewatch_gateway::DeployedApi) -> Value {
        let api = &d.api;
        let mut v = json!({
            "id": api.id,
            "name": api.name,
            "createdDate": self.api_created(region, &api.id).unwrap_or(self.started),
            "apiKeySource": match api.api_key_source {
                gatewatch_model::ApiKeySource::Header => "HEADER",
                gatewatch_model::ApiKeySource::Authorizer => "AUTHORIZER",
            },
            "endpointConfiguration": { "types": ["EDGE"] },
            "disableExecuteApiEndpoint": false,
            "rootResourceId": api.resources.first().map(|r| r.id.clone()).unwrap_or_default(),
        });
        if let Some(desc) = &api.description {
            v["description"] = json!(desc);
        }
        if let Some(ver) = &api.version {
            v["version"] = json!(ver);
        }
        if !api.binary_media_types.is_empty() {
            v["binaryMediaTypes"] = json!(api.binary_media_types);
        }
        v
    }

    pub(super) fn get_rest_apis(
        &self,
        region: &str,
        query: Option<&str>,
    ) -> Result<Value, RestError> {
        let (position, limit) = paging(query)?;
        let d = self.deployments(region);
        let items: Vec<Value> = d
            .apis
            .iter()
            .skip(position)
            .take(limit)
            .map(|a| self.rest_api_json(region, a))
            .collect();
        let mut out = json!({ "item": items });
        if position.saturating_add(limit) < d.apis.len() {
            out["position"] = json!((position + limit).to_string());
        }
        Ok(out)
    }

    pub(super) fn get_rest_api(&self, region: &str, id: &str) -> Result<Value, RestError> {
        let d = self.deployments(region);
        let api = &d.apis[self.api_index(&d, id)?];
        Ok(self.rest_api_json(region, api))
    }
}
