//! The API Gateway management API (REST-JSON, `apigateway` 2015-07-09) on
//! the admin listener: the APIs being served, their stages, and the account.
//!
//! One module per resource family: `restapis` (import, put, create,
//! update, delete, export), `methods` (resources, methods, method and
//! integration responses, integrations), `deployments`, `stages` (and the
//! account), `gateway_responses`, `keys` (API keys, usage plans),
//! `test_invoke`; `stage` holds the Stage shape and its patch paths,
//! `resources` the read shapes, `persist` what is stored and how it is laid
//! over the configured APIs at start-up.
//!
//! Every change is made on a copy of the API's entry, stored durably, then
//! swapped into the data plane's routing snapshot atomically: it applies to
//! the next request, and requests in flight finish on the snapshot they
//! started with. Changes to an API's definition are served once deployed
//! (CreateDeployment), as on AWS; stage settings apply at once.
//!
//! Errors are AWS's: the HTTP status, an `x-amzn-ErrorType` header and a
//! `{"message": ...}` body (`NotFoundException` 404, `BadRequestException`
//! 400, ...). APIs live in the configured region; a request signed for
//! another region sees none.

mod deployments;
mod gateway_responses;
mod keys;
mod methods;
mod persist;
mod resources;
mod restapis;
mod stage;
mod stages;
mod test_invoke;

use std::sync::Arc;

use bytes::Bytes;
use gatewatch_gateway::{Deployments, Gateway};
use gatewatch_store::Store;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::sigv4::parse_authorization;

pub use persist::restore_stage_settings;
pub use stage::{restore, stage_json};

use persist::{account_key, api_key, deployment_key, stage_key};

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

/// `ConflictException` (409).
pub(crate) fn conflict(message: impl Into<String>) -> RestError {
    RestError {
        status: 409,
        error_type: "ConflictException",
        message: message.into(),
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

/// Seconds since the epoch.
fn now_s() -> i64 {
    gatewatch_store::now_ms() / 1000
}

/// A change in progress to one API (see [`ApiGatewayApi::edit`]).
struct Edit<'a> {
    _guard: tokio::sync::MutexGuard<'a, ()>,
    current: Arc<Deployments>,
    index: usize,
    /// The API's entry, to change.
    entry: gatewatch_gateway::DeployedApi,
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
        ["/restapis", "/apikeys", "/usageplans"]
            .iter()
            .any(|p| path == *p || path.strip_prefix(p).is_some_and(|r| r.starts_with('/')))
            || path == "/account"
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
            && query_param(query, "mode").as_deref() == Some("import")
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
                    // TestInvokeMethod is a POST that creates nothing.
                    Method::POST if path.contains("/methods/") => StatusCode::OK,
                    // Creations answer 201; PutRestApi replaces, with 200.
                    Method::POST => StatusCode::CREATED,
                    Method::PUT if put_id.is_none() => StatusCode::CREATED,
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
            ("GET", ["restapis", id, "stages"]) => self.get_stages(region, id, query),
            (m, ["restapis", id, "resources", rest @ ..]) => {
                self.route_resources(m, id, rest, query, region, &body)
                    .await
            }
            (m, ["restapis", id, "deployments", rest @ ..]) => {
                self.route_deployments(m, id, rest, query, region, &body)
                    .await
            }
            (m, ["restapis", id, "gatewayresponses", rest @ ..]) => {
                self.route_gateway_responses(m, id, rest, query, region, &body)
                    .await
            }
            (m, ["apikeys", rest @ ..]) => self.route_api_keys(m, rest, query, region, &body).await,
            (m, ["usageplans", rest @ ..]) => {
                self.route_usage_plans(m, rest, query, region, &body).await
            }
            ("GET", ["restapis", id, "stages", name]) => self.get_stage(region, id, name),
            ("PATCH", ["restapis", id, "stages", name]) => {
                self.update_stage(region, id, name, &body).await
            }
            ("POST", ["restapis", id, "stages"]) => self.create_stage(region, id, &body).await,
            ("DELETE", ["restapis", id, "stages", name]) => {
                self.delete_stage(region, id, name).await
            }
            ("GET", ["account"]) => self.get_account(region),
            ("PATCH", ["account"]) => self.update_account(region, &body).await,
            _ => Err(unknown_operation(method.as_str(), path)),
        }
    }

    fn deployments(&self, region: &str) -> Arc<Deployments> {
        let d = self.gateway.deployments();
        if d.region == region {
            d
        } else {
            Arc::new(Deployments::default())
        }
    }

    /// Reads `f` from API `id`'s working definition.
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

    /// A stored JSON record, if there is one that reads back.
    pub(super) fn record(&self, key: &str) -> Option<Value> {
        self.store
            .setting(key)
            .ok()
            .flatten()
            .and_then(|v| serde_json::from_slice(&v).ok())
    }

    /// Every stored JSON record under `prefix`.
    pub(super) fn records(&self, prefix: &str) -> Vec<Value> {
        self.store
            .settings(prefix)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
            .collect()
    }

    /// Stores a JSON record durably (`what` names it in the error).
    pub(super) async fn put_record(
        &self,
        key: &str,
        value: &Value,
        what: &str,
    ) -> Result<(), RestError> {
        self.store
            .put_setting(key, value.to_string().as_bytes())
            .await
            .map_err(|e| unavailable(what, e))
    }

    /// Deletes a stored record durably.
    pub(super) async fn delete_record(&self, key: &str, what: &str) -> Result<(), RestError> {
        self.store
            .delete_setting(key)
            .await
            .map_err(|e| unavailable(what, e))
    }

    /// Starts a change of API `id`: holds the update lock and a copy of the
    /// API's entry to change; [`ApiGatewayApi::commit`] makes it visible.
    async fn edit(&self, region: &str, id: &str) -> Result<Edit<'_>, RestError> {
        let guard = self.updates.lock().await;
        let current = self.deployments(region);
        let index = self.api_index(&current, id)?;
        let entry = current.apis[index].clone();
        Ok(Edit {
            _guard: guard,
            current,
            index,
            entry,
        })
    }

    /// Swaps the changed entry into the data plane's routing snapshot:
    /// requests already running finish on the one they started with.
    fn commit(&self, edit: Edit<'_>) {
        let mut next = (*edit.current).clone();
        next.apis[edit.index] = edit.entry;
        self.gateway.replace_deployments(next);
    }

    /// Changes API `id`'s working definition with `f`, stores it durably,
    /// then makes it visible. What stages serve changes only with a
    /// deployment.
    async fn change_api(
        &self,
        region: &str,
        id: &str,
        f: impl FnOnce(&mut gatewatch_model::RestApi) -> Result<Value, RestError>,
    ) -> Result<Value, RestError> {
        let mut edit = self.edit(region, id).await?;
        let mut api = edit.entry.api.as_ref().clone();
        let out = f(&mut api)?;
        self.store_api(region, &api).await?;
        edit.entry.api = Arc::new(api);
        self.commit(edit);
        Ok(out)
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
}

/// A method and path the API does not have.
pub(crate) fn unknown_operation(method: &str, path: &str) -> RestError {
    RestError {
        status: 404,
        error_type: "UnknownOperationException",
        message: format!("{method} {path} is not supported by Gatewatch's API Gateway API yet"),
    }
}

/// One page of `items` in the `{"item": [...], "position": ...}` shape.
pub(crate) fn page(query: Option<&str>, items: Vec<Value>) -> Result<Value, RestError> {
    let (position, limit) = paging(query)?;
    let total = items.len();
    let item: Vec<Value> = items.into_iter().skip(position).take(limit).collect();
    let mut out = json!({ "item": item });
    if position.saturating_add(limit) < total {
        out["position"] = json!((position + limit).to_string());
    }
    Ok(out)
}

/// A query string's name/value pairs, decoded as
/// `application/x-www-form-urlencoded` (`+` is a space, `%2C` a comma), as
/// the AWS CLI and SDKs encode them.
pub(crate) fn query_pairs(query: Option<&str>) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
}

/// A query-string parameter's decoded value (the first, if repeated).
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query_pairs(query).find_map(|(k, v)| (k == name).then(|| v.into_owned()))
}

/// `position` and `limit` (1–500, default 25).
fn paging(query: Option<&str>) -> Result<(usize, usize), RestError> {
    let mut position = 0;
    let mut limit = 25;
    for (k, v) in query_pairs(query) {
        match k.as_ref() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_reads_position_and_limit() {
        assert_eq!(paging(Some("limit=2&position=4")).unwrap(), (4, 2));
        assert!(paging(Some("limit=0")).is_err());
    }

    #[test]
    fn query_parameters_are_form_decoded() {
        let q = Some("extensions=apigateway%2Cintegrations&name=my+key&mode=import&empty");
        assert_eq!(
            query_param(q, "extensions").as_deref(),
            Some("apigateway,integrations")
        );
        assert_eq!(query_param(q, "name").as_deref(), Some("my key"));
        assert_eq!(query_param(q, "mode").as_deref(), Some("import"));
        assert_eq!(query_param(q, "empty").as_deref(), Some(""));
        assert_eq!(query_param(q, "absent"), None);
        assert_eq!(query_param(None, "mode"), None);
    }
}
