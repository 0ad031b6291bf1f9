//! The API Gateway management API (REST-JSON, `apigateway` 2015-07-09) on
//! the admin listener: the APIs being served, their stages, and the account.
//!
//! What works today: ImportRestApi (`mode=import`, `failonwarnings`),
//! PutRestApi (`mode=overwrite|merge`), CreateRestApi, UpdateRestApi,
//! DeleteRestApi, GetRestApis, GetRestApi, GetResources (with
//! `embed=methods`), GetResource, GetMethod, GetIntegration, GetDeployments,
//! GetDeployment (one per API: the definition being served), GetStages,
//! GetStage, CreateStage, DeleteStage, GetExport (OpenAPI 3 or Swagger 2,
//! JSON or YAML, with or without the `x-amazon-apigateway-*` extensions),
//! UpdateStage (every logging, access-log, variable, tracing and description
//! patch path), GetAccount and UpdateAccount (`/cloudwatchRoleArn`). A stage
//! update takes effect for the next request without a restart — the new
//! stage is swapped into the data plane's routing snapshot atomically, and
//! requests in flight finish on the one they started with — and is stored
//! durably in the log store's engine, so it survives a restart: APIs still
//! come from their OpenAPI files and `gatewatch.toml`, and the stage
//! settings changed here are laid over them when gatewatch starts.
//!
//! Errors are AWS's: the HTTP status, an `x-amzn-ErrorType` header and a
//! `{"message": ...}` body (`NotFoundException` 404, `BadRequestException`
//! 400, ...). APIs live in the configured region; a request signed for
//! another region sees none.

mod resources;
mod stage;

use std::sync::Arc;

use bytes::Bytes;
use gatewatch_gateway::{Deployments, Gateway};
use gatewatch_store::Store;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::sigv4::parse_authorization;

pub use stage::{restore, stage_json};

/// An error in the REST-JSON shape.
#[derive(Debug, Clone, PartialEq)]
pub struct RestError {
    /// HTTP status.
    pub status: u16,
    /// `x-amzn-ErrorType`.
    pub error_type: &'static str,
    /// `message`.
    pub message: String,
}

pub(crate) fn bad_request(message: impl Into<String>) -> RestError {
    RestError {
        status: 400,
        error_type: "BadRequestException",
        message: message.into(),
    }
}

/// The store could not keep a change (`what`: "stage", "API", ...).
fn unavailable(what: &str, e: impl std::fmt::Display) -> RestError {
    RestError {
        status: 503,
        error_type: "ServiceUnavailableException",
        message: format!("could not store the {what}: {e}"),
    }
}

/// `Errors found during import:` (or `Warnings`) with one diagnostic a line.
fn import_problems(kind: &str, found: &[gatewatch_model::Diagnostic]) -> RestError {
    bad_request(format!(
        "{kind} found during import:\n\t{}",
        found
            .iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join("\n\t")
    ))
}

pub(crate) fn not_found(message: impl Into<String>) -> RestError {
    RestError {
        status: 404,
        error_type: "NotFoundException",
        message: message.into(),
    }
}

/// Settings key of a stage's persisted state.
fn stage_key(region: &str, api: &str, stage: &str) -> String {
    format!("apigateway/stage/{region}/{api}/{stage}")
}

fn api_key(region: &str, id: &str) -> String {
    format!("apigateway/api/{region}/{id}")
}

fn account_key(region: &str) -> String {
    format!("apigateway/account/{region}")
}

/// Seconds since the epoch.
fn now_s() -> i64 {
    gatewatch_store::now_ms() / 1000
}

/// The management API.
pub struct ApiGatewayApi {
    gateway: Arc<Gateway>,
    store: Store,
    account: String,
    default_region: String,
    strict: bool,
    started: i64,
    /// Serialises updates (read-modify-swap of the routing snapshot).
    updates: tokio::sync::Mutex<()>,
}

impl ApiGatewayApi {
    /// Serves the APIs of `gateway`, persisting changes in `store`. With
    /// `strict`, enabling logging needs the account's CloudWatch role, as on
    /// AWS.
    pub fn new(
        gateway: Arc<Gateway>,
        store: Store,
        account: impl Into<String>,
        default_region: impl Into<String>,
        strict: bool,
    ) -> ApiGatewayApi {
        ApiGatewayApi {
            gateway,
            store,
            account: account.into(),
            default_region: default_region.into(),
            strict,
            started: now_s(),
            updates: tokio::sync::Mutex::new(()),
        }
    }

    /// True for the management API's paths.
    pub fn accepts(path: &str) -> bool {
        path == "/restapis" || path.starts_with("/restapis/") || path == "/account"
    }

    /// Handles one request.
    pub async fn handle(
        &self,
        method: &Method,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Response<Bytes> {
        let region = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|a| parse_authorization(a).region)
            .unwrap_or_else(|| self.default_region.clone());
        if let Some(response) = self.export(method, path, query, headers, &region) {
            return response;
        }
        let put_id = path
            .strip_prefix("/restapis/")
            .filter(|rest| !rest.is_empty() && !rest.contains('/'));
        let result = if method == Method::POST
            && path.trim_end_matches('/') == "/restapis"
            && query.unwrap_or("").split('&').any(|p| p == "mode=import")
        {
            self.import_rest_api(&region, query, body).await
        } else if let (true, Some(id)) = (method == Method::PUT, put_id) {
            self.put_rest_api(&region, id, query, body).await
        } else {
            self.route(method, path, query, &region, body).await
        };
        let request_id = uuid::Uuid::new_v4().to_string();
        let (status, error_type, body) = match result {
            // AWS answers creations with 201 and deletions with 202.
            Ok(v) => (
                match *method {
                    Method::POST => StatusCode::CREATED,
                    Method::DELETE => StatusCode::ACCEPTED,
                    _ => StatusCode::OK,
                },
                None,
                v,
            ),
            Err(e) => (
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
                Some(e.error_type),
                json!({ "message": e.message }),
            ),
        };
        let text = if *method == Method::DELETE && status == StatusCode::ACCEPTED {
            String::new()
        } else {
            body.to_string()
        };
        let mut response = Response::new(Bytes::from(text));
        *response.status_mut() = status;
        let h = response.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            h.insert("x-amzn-requestid", v);
        }
        if let Some(t) = error_type {
            h.insert("x-amzn-errortype", HeaderValue::from_static(t));
        }
        response
    }

    async fn route(
        &self,
        method: &Method,
        path: &str,
        query: Option<&str>,
        region: &str,
        body: &[u8],
    ) -> Result<Value, RestError> {
        let segments: Vec<String> = path
            .trim_matches('/')
            .split('/')
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect();
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        let body: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(body)
                .map_err(|_| bad_request("The request body is not valid JSON"))?
        };
        match (method.as_str(), segs.as_slice()) {
            ("GET", ["restapis"]) => self.get_rest_apis(region, query),
            ("GET", ["restapis", id]) => self.get_rest_api(region, id),
            ("DELETE", ["restapis", id]) => self.delete_rest_api(region, id).await,
            ("POST", ["restapis"]) => self.create_rest_api(region, &body).await,
            ("PATCH", ["restapis", id]) => self.update_rest_api(region, id, &body).await,
            ("GET", ["restapis", id, "stages"]) => self.get_stages(region, id),
            ("GET", ["restapis", id, "resources"]) => {
                let (position, limit) = paging(query)?;
                let embed = query.is_some_and(|q| q.split('&').any(|p| p == "embed=methods"));
                self.with_api(region, id, |api| {
                    let items: Vec<Value> = api
                        .resources
                        .iter()
                        .skip(position)
                        .take(limit)
                        .map(|r| resources::resource_json(r, embed))
                        .collect();
                    let mut out = json!({ "item": items });
                    if position.saturating_add(limit) < api.resources.len() {
                        out["position"] = json!((position + limit).to_string());
                    }
                    Ok(out)
                })
            }
            ("GET", ["restapis", id, "resources", rid]) => self.with_api(region, id, |api| {
                Ok(resources::resource_json(
                    resources::resource(api, rid)?,
                    false,
                ))
            }),
            ("GET", ["restapis", id, "resources", rid, "methods", m]) => {
                self.with_api(region, id, |api| {
                    let r = resources::resource(api, rid)?;
                    Ok(resources::method_json(resources::method(r, m)?))
                })
            }
            ("GET", ["restapis", id, "resources", rid, "methods", m, "integration"]) => self
                .with_api(region, id, |api| {
                    let r = resources::resource(api, rid)?;
                    let method = resources::method(r, m)?;
                    method
                        .integration
                        .as_ref()
                        .map(resources::integration_json)
                        .ok_or_else(|| not_found("No integration defined for method"))
                }),
            ("GET", ["restapis", id, "stages", name]) => self.get_stage(region, id, name).await,
            ("PATCH", ["restapis", id, "stages", name]) => {
                self.update_stage(region, id, name, &body).await
            }
            ("POST", ["restapis", id, "stages"]) => self.create_stage(region, id, &body).await,
            ("DELETE", ["restapis", id, "stages", name]) => {
                self.delete_stage(region, id, name).await
            }
            ("GET", ["restapis", id, "deployments"]) => self.with_api_deployed(region, id, |d| {
                Ok(json!({ "item": [self.deployment_json(d)] }))
            }),
            ("GET", ["restapis", id, "deployments", did]) => {
                self.with_api_deployed(region, id, |d| {
                    if d.deployment_id == *did {
                        Ok(self.deployment_json(d))
                    } else {
                        Err(not_found("Invalid deployment identifier specified"))
                    }
                })
            }
            ("GET", ["account"]) => self.get_account(region),
            ("PATCH", ["account"]) => self.update_account(region, &body).await,
            _ => Err(RestError {
                status: 404,
                error_type: "UnknownOperationException",
                message: format!(
                    "{} {path} is not supported by Gatewatch's API Gateway API yet",
                    method.as_str()
                ),
            }),
        }
    }

    /// GetExport: `GET /restapis/{id}/stages/{stage}/exports/{oas30|swagger}`
    /// with `?extensions=apigateway` (or `integrations`) and an `Accept` of
    /// `application/json` (default) or `application/yaml`.
    fn export(
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
        if !api.stages.contains_key(*stage) {
            return Some(error(not_found("Invalid stage identifier specified")));
        }
        let extensions = query.unwrap_or("").split('&').any(|p| {
            p.strip_prefix("extensions=").is_some_and(|v| {
                v.split(',')
                    .any(|e| e == "apigateway" || e == "integrations")
            })
        });
        let doc = gatewatch_model::export::export(&api.api, flavour, extensions);
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

    fn deployments(&self, region: &str) -> Arc<Deployments> {
        let d = self.gateway.deployments();
        if d.region == region {
            d
        } else {
            Arc::new(Deployments::default())
        }
    }

    fn with_api(
        &self,
        region: &str,
        id: &str,
        f: impl FnOnce(&gatewatch_model::RestApi) -> Result<Value, RestError>,
    ) -> Result<Value, RestError> {
        self.with_api_deployed(region, id, |d| f(&d.api))
    }

    fn with_api_deployed(
        &self,
        region: &str,
        id: &str,
        f: impl FnOnce(&gatewatch_gateway::DeployedApi) -> Result<Value, RestError>,
    ) -> Result<Value, RestError> {
        let d = self.deployments(region);
        let api = &d.apis[self.api_index(&d, id)?];
        f(api)
    }

    /// The one deployment of an API: the definition being served.
    fn deployment_json(&self, d: &gatewatch_gateway::DeployedApi) -> Value {
        json!({
            "id": d.deployment_id,
            "description": "The API as read from its definition at start-up",
            "createdDate": self.started,
        })
    }

    /// Stores a stage's state (or its deletion) durably.
    async fn save_stage(
        &self,
        region: &str,
        id: &str,
        name: &str,
        view: &Value,
    ) -> Result<(), RestError> {
        self.store
            .put_setting(&stage_key(region, id, name), view.to_string().as_bytes())
            .await
            .map_err(|e| unavailable("stage", e))
    }

    async fn create_stage(&self, region: &str, id: &str, body: &Value) -> Result<Value, RestError> {
        let name = body["stageName"]
            .as_str()
            .ok_or_else(|| bad_request("stageName is required"))?;
        let deployment_id = body["deploymentId"]
            .as_str()
            .ok_or_else(|| bad_request("deploymentId is required"))?;
        if name.is_empty()
            || name.len() > 128
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(bad_request(
                "Stage name only allows a-zA-Z0-9_- and must be 1 to 128 characters long",
            ));
        }
        let _guard = self.updates.lock().await;
        let current = self.deployments(region);
        let index = self.api_index(&current, id)?;
        let api = &current.apis[index];
        if api.deployment_id != deployment_id {
            return Err(not_found("Invalid deployment identifier specified"));
        }
        if api.stages.contains_key(name) {
            return Err(RestError {
                status: 409,
                error_type: "ConflictException",
                message: "Stage already exists".into(),
            });
        }
        let mut stage = gatewatch_model::Stage::new(name);
        stage.description = body["description"].as_str().map(str::to_string);
        stage.tracing_enabled = body["tracingEnabled"].as_bool().unwrap_or(false);
        if let Some(vars) = body["variables"].as_object() {
            let ops: Vec<stage::PatchOp> = vars
                .iter()
                .map(|(k, v)| stage::PatchOp {
                    op: "replace".into(),
                    path: format!("/variables/{k}"),
                    value: v.as_str().map(str::to_string),
                })
                .collect();
            stage::apply(&mut stage, &api.api, deployment_id, &ops, self.strict, true)?;
        }
        let now = now_s();
        let view = stage_json(&stage, &api.deployment_id, now, now);
        self.save_stage(region, id, name, &view).await?;
        let mut next = (*current).clone();
        next.apis[index]
            .stages
            .insert(name.to_string(), Arc::new(stage));
        self.gateway.replace_deployments(next);
        Ok(view)
    }

    async fn delete_stage(&self, region: &str, id: &str, name: &str) -> Result<Value, RestError> {
        let _guard = self.updates.lock().await;
        let current = self.deployments(region);
        let index = self.api_index(&current, id)?;
        if !current.apis[index].stages.contains_key(name) {
            return Err(not_found("Invalid stage identifier specified"));
        }
        // Remembered, so a stage from a file stays deleted after a restart.
        self.save_stage(region, id, name, &json!({ "deleted": true }))
            .await?;
        let mut next = (*current).clone();
        next.apis[index].stages.remove(name);
        self.gateway.replace_deployments(next);
        Ok(json!({}))
    }

    /// ImportRestApi: a new API from an OpenAPI 3 / Swagger 2 document
    /// (YAML or JSON), served at once (it has no stages until one is
    /// created) and stored durably so it comes back after a restart.
    async fn import_rest_api(
        &self,
        region: &str,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Value, RestError> {
        let fail_on_warnings = query
            .unwrap_or("")
            .split('&')
            .any(|p| p == "failonwarnings=true");
        let text = std::str::from_utf8(body)
            .map_err(|_| bad_request("The API definition is not UTF-8 text"))?;
        let _guard = self.updates.lock().await;
        let current = self.deployments(region);
        self.check_region(&current, region)?;
        let mut options = gatewatch_model::import::ImportOptions::default();
        let first = gatewatch_model::import::import_document(text, &options)
            .map_err(|d| import_problems("Errors", &d))?;
        let mut imported = first;
        if current.apis.iter().any(|a| a.api.id == imported.api.id) {
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
        let id = imported.api.id.clone();
        let record = json!({ "id": id, "body": text });
        self.store
            .put_setting(&api_key(region, &id), record.to_string().as_bytes())
            .await
            .map_err(|e| unavailable("API", e))?;
        let deployed = gatewatch_gateway::DeployedApi::new(imported.api, Vec::new());
        let mut view = self.rest_api_json(&deployed);
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

    /// Stores an API's definition (as an exported document, which imports
    /// back to the same API) so it survives a restart.
    async fn store_api(
        &self,
        region: &str,
        api: &gatewatch_model::RestApi,
    ) -> Result<(), RestError> {
        let doc = gatewatch_model::export::export(
            api,
            gatewatch_model::export::ExportFlavour::OpenApi3,
            true,
        );
        let record = json!({ "id": api.id, "body": doc.to_string() });
        self.store
            .put_setting(&api_key(region, &api.id), record.to_string().as_bytes())
            .await
            .map_err(|e| unavailable("API", e))
    }

    /// Serves `api` in place of API `index`, keeping its stages.
    fn swap_api(&self, current: &Deployments, index: usize, api: gatewatch_model::RestApi) {
        let stages: Vec<gatewatch_model::Stage> = current.apis[index]
            .stages
            .values()
            .map(|s| s.as_ref().clone())
            .collect();
        let mut next = current.clone();
        next.apis[index] = gatewatch_gateway::DeployedApi::new(api, stages);
        self.gateway.replace_deployments(next);
    }

    /// CreateRestApi: an empty API (only `/`) with a name.
    async fn create_rest_api(&self, region: &str, body: &Value) -> Result<Value, RestError> {
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
        let deployed = gatewatch_gateway::DeployedApi::new(api, Vec::new());
        let view = self.rest_api_json(&deployed);
        let mut next = (*current).clone();
        next.apis.push(deployed);
        self.gateway.replace_deployments(next);
        Ok(view)
    }

    /// UpdateRestApi: `/name`, `/description`, `/version`, `/apiKeySource`,
    /// `/binaryMediaTypes/{type}` (with `~1` for `/`).
    async fn update_rest_api(
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
            let value = || {
                op.value.clone().ok_or_else(|| {
                    bad_request(format!(
                        "Patch operation '{}' on {} needs a value",
                        op.op, op.path
                    ))
                })
            };
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
                    return Err(bad_request(format!(
                        "Invalid patch path '{}' specified for op '{}'. Must be one of: [/name, /description, /version, /apiKeySource, /binaryMediaTypes/{{type}}]",
                        op.path, op.op
                    )))
                }
            }
        }
        self.store_api(region, &api).await?;
        self.swap_api(&current, index, api);
        let d = self.deployments(region);
        Ok(self.rest_api_json(&d.apis[index]))
    }

    /// PutRestApi: `mode=overwrite` (default) replaces the definition with
    /// the document's, `mode=merge` adds the document's resources, methods
    /// and gateway responses to it. Stages are kept.
    async fn put_rest_api(
        &self,
        region: &str,
        id: &str,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Value, RestError> {
        let merge = query.unwrap_or("").split('&').any(|p| p == "mode=merge");
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
        Ok(self.rest_api_json(&d.apis[index]))
    }

    /// DeleteRestApi: stops serving the API; remembered across restarts.
    async fn delete_rest_api(&self, region: &str, id: &str) -> Result<Value, RestError> {
        let _guard = self.updates.lock().await;
        let current = self.deployments(region);
        let index = self.api_index(&current, id)?;
        self.store
            .put_setting(
                &api_key(region, id),
                json!({ "id": id, "deleted": true }).to_string().as_bytes(),
            )
            .await
            .map_err(|e| unavailable("deletion", e))?;
        let mut next = (*current).clone();
        next.apis.remove(index);
        self.gateway.replace_deployments(next);
        Ok(json!({}))
    }

    /// Position of API `id` among the served APIs.
    fn api_index(&self, d: &Deployments, id: &str) -> Result<usize, RestError> {
        d.apis
            .iter()
            .position(|a| a.api.id == id)
            .ok_or_else(|| self.invalid_api(id))
    }

    /// APIs are created only in the region they are served in.
    fn check_region(&self, current: &Deployments, region: &str) -> Result<(), RestError> {
        if current.region == region {
            return Ok(());
        }
        Err(bad_request(format!(
            "APIs are served in region {}; sign the request for it",
            self.default_region
        )))
    }

    fn invalid_api(&self, id: &str) -> RestError {
        not_found(format!(
            "Invalid API identifier specified {}:{id}",
            self.account
        ))
    }

    fn rest_api_json(&self, d: &gatewatch_gateway::DeployedApi) -> Value {
        let api = &d.api;
        let mut v = json!({
            "id": api.id,
            "name": api.name,
            "createdDate": self.started,
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

    fn get_rest_apis(&self, region: &str, query: Option<&str>) -> Result<Value, RestError> {
        let (position, limit) = paging(query)?;
        let d = self.deployments(region);
        let items: Vec<Value> = d
            .apis
            .iter()
            .skip(position)
            .take(limit)
            .map(|a| self.rest_api_json(a))
            .collect();
        let mut out = json!({ "item": items });
        if position.saturating_add(limit) < d.apis.len() {
            out["position"] = json!((position + limit).to_string());
        }
        Ok(out)
    }

    fn get_rest_api(&self, region: &str, id: &str) -> Result<Value, RestError> {
        let d = self.deployments(region);
        let api = &d.apis[self.api_index(&d, id)?];
        Ok(self.rest_api_json(api))
    }

    fn updated_at(&self, region: &str, id: &str, name: &str) -> i64 {
        self.store
            .setting(&stage_key(region, id, name))
            .ok()
            .flatten()
            .and_then(|v| serde_json::from_slice::<Value>(&v).ok())
            .and_then(|v| v["lastUpdatedDate"].as_i64())
            .unwrap_or(self.started)
    }

    fn get_stages(&self, region: &str, id: &str) -> Result<Value, RestError> {
        let d = self.deployments(region);
        let api = &d.apis[self.api_index(&d, id)?];
        let items: Vec<Value> = api
            .stages
            .values()
            .map(|s| {
                stage_json(
                    s,
                    &api.deployment_id,
                    self.started,
                    self.updated_at(region, id, &s.name),
                )
            })
            .collect();
        Ok(json!({ "item": items }))
    }

    async fn get_stage(&self, region: &str, id: &str, name: &str) -> Result<Value, RestError> {
        let d = self.deployments(region);
        let api = &d.apis[self.api_index(&d, id)?];
        let s = api
            .stages
            .get(name)
            .ok_or_else(|| not_found("Invalid stage identifier specified"))?;
        Ok(stage_json(
            s,
            &api.deployment_id,
            self.started,
            self.updated_at(region, id, name),
        ))
    }

    fn role_arn(&self, region: &str) -> Option<String> {
        self.store
            .setting(&account_key(region))
            .ok()
            .flatten()
            .and_then(|v| String::from_utf8(v).ok())
    }

    async fn update_stage(
        &self,
        region: &str,
        id: &str,
        name: &str,
        body: &Value,
    ) -> Result<Value, RestError> {
        let ops = stage::patch_ops(body)?;
        let _guard = self.updates.lock().await;
        let current = self.deployments(region);
        let index = self.api_index(&current, id)?;
        let api = &current.apis[index];
        let mut new_stage = api
            .stages
            .get(name)
            .map(|s| s.as_ref().clone())
            .ok_or_else(|| not_found("Invalid stage identifier specified"))?;
        stage::apply(
            &mut new_stage,
            &api.api,
            &api.deployment_id,
            &ops,
            self.strict,
            self.role_arn(region).is_some(),
        )?;
        let now = now_s();
        let view = stage_json(&new_stage, &api.deployment_id, self.started, now);
        // Durable first, then visible: an acknowledged update survives a crash.
        self.save_stage(region, id, name, &view).await?;
        let mut next = (*current).clone();
        next.apis[index]
            .stages
            .insert(name.to_string(), Arc::new(new_stage));
        self.gateway.replace_deployments(next);
        Ok(view)
    }

    fn get_account(&self, region: &str) -> Result<Value, RestError> {
        let mut v = json!({
            "throttleSettings": { "burstLimit": 5000, "rateLimit": 10000.0 },
            "features": ["UsagePlans"],
            "apiKeyVersion": "4",
        });
        if let Some(arn) = self.role_arn(region) {
            v["cloudwatchRoleArn"] = json!(arn);
        }
        Ok(v)
    }

    async fn update_account(&self, region: &str, body: &Value) -> Result<Value, RestError> {
        let ops = stage::patch_ops(body)?;
        for op in &ops {
            if op.path != "/cloudwatchRoleArn" {
                return Err(bad_request(format!(
                    "Invalid patch path '{}' specified for op '{}'. Must be one of: [/cloudwatchRoleArn]",
                    op.path, op.op
                )));
            }
            match (op.op.as_str(), op.value.as_deref()) {
                ("remove", _) | ("replace", None) | ("replace", Some("")) => {
                    self.store
                        .delete_setting(&account_key(region))
                        .await
                        .map_err(|e| bad_request(e.to_string()))?;
                }
                ("replace", Some(arn)) => {
                    if !is_role_arn(arn) {
                        return Err(bad_request(format!(
                            "The role ARN is not well formed: {arn}"
                        )));
                    }
                    self.store
                        .put_setting(&account_key(region), arn.as_bytes())
                        .await
                        .map_err(|e| bad_request(e.to_string()))?;
                }
                (other, _) => {
                    return Err(bad_request(format!(
                        "Invalid patch operation '{other}' for /cloudwatchRoleArn. Use replace or remove"
                    )))
                }
            }
        }
        self.get_account(region)
    }
}

/// `arn:aws:iam::123456789012:role/name`.
fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5].starts_with("role/")
        && parts[5].len() > 5
}

/// `position` and `limit` (1–500, default 25).
fn paging(query: Option<&str>) -> Result<(usize, usize), RestError> {
    let mut position = 0;
    let mut limit = 25;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "position" => {
                position = v
                    .parse()
                    .map_err(|_| bad_request("Invalid position specified"))?
            }
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=500).contains(n))
                    .ok_or_else(|| bad_request("limit must be between 1 and 500"))?
            }
            _ => {}
        }
    }
    Ok((position, limit))
}

/// Lays the stage settings stored by earlier UpdateStage calls over the
/// stages built from configuration (at start-up).
pub fn restore_stage_settings(store: &Store, deployments: &mut Deployments) {
    // APIs imported or deleted through the API come first.
    if let Ok(apis) = store.settings(&format!("apigateway/api/{}/", deployments.region)) {
        for (_, value) in apis {
            let Ok(record) = serde_json::from_slice::<Value>(&value) else {
                continue;
            };
            let Some(id) = record["id"].as_str() else {
                continue;
            };
            if record["deleted"].as_bool() == Some(true) {
                deployments.apis.retain(|a| a.api.id != id);
                continue;
            }
            let options = gatewatch_model::import::ImportOptions {
                rest_api_id: Some(id.to_string()),
            };
            match record["body"]
                .as_str()
                .map(|b| gatewatch_model::import::import_document(b, &options))
            {
                Some(Ok(imported)) => {
                    match deployments.apis.iter_mut().find(|a| a.api.id == id) {
                        // Changed through the API: the stored definition wins
                        // over the file's; the stages stay.
                        Some(existing) => {
                            let stages = existing
                                .stages
                                .values()
                                .map(|s| s.as_ref().clone())
                                .collect();
                            *existing = gatewatch_gateway::DeployedApi::new(imported.api, stages);
                        }
                        None => deployments.apis.push(gatewatch_gateway::DeployedApi::new(
                            imported.api,
                            Vec::new(),
                        )),
                    }
                }
                _ => tracing::warn!(api = id, "a stored API no longer imports; skipped"),
            }
        }
    }
    let Ok(saved) = store.settings(&format!("apigateway/stage/{}/", deployments.region)) else {
        return;
    };
    for (key, value) in saved {
        let rest = key
            .strip_prefix(&format!("apigateway/stage/{}/", deployments.region))
            .unwrap_or("");
        let Some((api_id, stage_name)) = rest.split_once('/') else {
            continue;
        };
        let Ok(json) = serde_json::from_slice::<Value>(&value) else {
            continue;
        };
        for api in deployments.apis.iter_mut().filter(|a| a.api.id == api_id) {
            if json["deleted"].as_bool() == Some(true) {
                api.stages.remove(stage_name);
                continue;
            }
            let mut stage = match api.stages.get(stage_name) {
                Some(s) => s.as_ref().clone(),
                // Created through the API.
                None => gatewatch_model::Stage::new(stage_name),
            };
            restore(&mut stage, &json);
            api.stages.insert(stage_name.to_string(), Arc::new(stage));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        assert!(is_role_arn("arn:aws:iam::123456789012:role/apigw-logs"));
        assert!(!is_role_arn("arn:aws:iam::123:role/x"));
        assert!(!is_role_arn("not-an-arn"));
    }

    #[test]
    fn paging_reads_position_and_limit() {
        assert_eq!(paging(Some("limit=2&position=4")).unwrap(), (4, 2));
        assert!(paging(Some("limit=0")).is_err());
    }
}
