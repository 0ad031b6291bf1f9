//! What the management API keeps in the store's engine, and how it is laid
//! over the configured APIs when gatewatch starts.
//!
//! Records (settings keys of the store's metadata keyspace, per region):
//! - `apigateway/api/{region}/{apiId}`: an API's working definition (the
//!   model as JSON), or a tombstone for a deleted API;
//! - `apigateway/deployment/{region}/{apiId}/{deploymentId}`: a deployment
//!   (its snapshot of the definition), or a tombstone;
//! - `apigateway/stage/{region}/{apiId}/{stage}`: a stage as GetStage shows
//!   it (including the deployment it serves), or a tombstone;
//! - `apigateway/account/{region}`: the CloudWatch role ARN;
//! - `apigateway/apikey/{region}/{id}`, `apigateway/usageplan/{region}/{id}`
//!   and `apigateway/usageplankey/{region}/{planId}/{keyId}`.
//!
//! On restart an API that comes from a file is read from the file again:
//! its definition becomes the working definition and its initial
//! deployment, which every stage configured for it serves. What was changed
//! through the API is then laid over it: a stored working definition
//! replaces the file's (but not what its stages serve), stored deployments
//! are added, and stored stages keep their settings and their deployment.

use std::sync::Arc;

use gatewatch_gateway::{DeployedApi, Deployments, Snapshot};
use gatewatch_model::RestApi;
use gatewatch_store::Store;
use serde_json::{json, Value};

use super::stage::restore;

/// Settings key of a stage's persisted state.
pub(super) fn stage_key(region: &str, api: &str, stage: &str) -> String {
    format!("apigateway/stage/{region}/{api}/{stage}")
}

/// Settings key of an API's working definition.
pub(super) fn api_key(region: &str, id: &str) -> String {
    format!("apigateway/api/{region}/{id}")
}

/// Settings key of a deployment.
pub(super) fn deployment_key(region: &str, api: &str, id: &str) -> String {
    format!("apigateway/deployment/{region}/{api}/{id}")
}

/// Settings key of the account's CloudWatch role.
pub(super) fn account_key(region: &str) -> String {
    format!("apigateway/account/{region}")
}

/// The stored form of a deployment.
pub(super) fn deployment_record(d: &Snapshot) -> Value {
    json!({
        "id": d.id,
        "description": d.description,
        "createdDate": d.created_date,
        "model": d.api.as_ref(),
    })
}

/// An API definition from a stored record: the model, or (records written
/// before deployments existed) an exported OpenAPI document.
fn stored_api(record: &Value, id: &str) -> Option<RestApi> {
    if let Some(model) = record.get("model") {
        return serde_json::from_value(model.clone()).ok();
    }
    let options = gatewatch_model::import::ImportOptions {
        rest_api_id: Some(id.to_string()),
    };
    let body = record["body"].as_str()?;
    gatewatch_model::import::import_document(body, &options)
        .ok()
        .map(|i| i.api)
}

/// The JSON records under `prefix` whose keys go on `{apiId}/{name}`, as
/// `(apiId, name, record)`; records that do not read back are skipped.
fn per_api(store: &Store, prefix: &str) -> Vec<(String, String, Value)> {
    store
        .settings(prefix)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(key, value)| {
            let (api, name) = key.strip_prefix(prefix)?.split_once('/')?;
            let record = serde_json::from_slice(&value).ok()?;
            Some((api.to_string(), name.to_string(), record))
        })
        .collect()
}

/// Lays what the management API stored over the APIs built from
/// configuration (at start-up).
///
/// Records written before deployments existed (`{"id", "body"}`, an
/// exported document that was served as it stood) are migrated: the
/// document becomes the working definition and the API's initial
/// deployment, and both are stored in today's form so they stay served.
pub async fn restore_stage_settings(store: &Store, deployments: &mut Deployments) {
    let region = deployments.region.clone();
    let read = |prefix: String| store.settings(&prefix).unwrap_or_default();
    let mut migrations: Vec<(String, Value)> = Vec::new();

    for (_, value) in read(format!("apigateway/api/{region}/")) {
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
        let Some(api) = stored_api(&record, id) else {
            tracing::warn!(api = id, "a stored API no longer reads back; skipped");
            continue;
        };
        if record.get("body").is_some() {
            // Before deployments existed, a stored document was served as
            // it stood: keep serving it, as the initial deployment.
            let index = match deployments.apis.iter().position(|a| a.api.id == id) {
                Some(i) => {
                    let stages = deployments.apis[i]
                        .stages
                        .values()
                        .map(|s| s.as_ref().clone())
                        .collect();
                    deployments.apis[i] = DeployedApi::new(api, stages);
                    i
                }
                None => {
                    deployments.apis.push(DeployedApi::new(api, Vec::new()));
                    deployments.apis.len() - 1
                }
            };
            let entry = &deployments.apis[index];
            let created = record["createdDate"].as_i64().unwrap_or(0);
            migrations.push((
                api_key(&region, id),
                json!({ "id": id, "model": entry.api.as_ref(), "createdDate": created }),
            ));
            for d in entry.deployments.values() {
                migrations.push((deployment_key(&region, id, &d.id), deployment_record(d)));
            }
            continue;
        }
        match deployments.apis.iter_mut().find(|a| a.api.id == id) {
            Some(existing) => existing.api = Arc::new(api),
            None => deployments
                .apis
                .push(DeployedApi::undeployed(Arc::new(api))),
        }
    }

    for (api_id, dep_id, record) in per_api(store, &format!("apigateway/deployment/{region}/")) {
        let (api_id, dep_id) = (api_id.as_str(), dep_id.as_str());
        let Some(api) = deployments.apis.iter_mut().find(|a| a.api.id == api_id) else {
            continue;
        };
        if record["deleted"].as_bool() == Some(true) {
            api.deployments.remove(dep_id);
            continue;
        }
        if record.get("model").is_none() {
            // Only the description of a configured API's initial
            // deployment, whose definition comes from its file.
            if let Some(d) = api.deployments.get(dep_id) {
                let described = Snapshot::new(
                    dep_id,
                    Arc::clone(&d.api),
                    record["description"].as_str().map(str::to_string),
                    d.created_date,
                );
                api.deployments
                    .insert(dep_id.to_string(), Arc::new(described));
            }
            continue;
        }
        match serde_json::from_value::<RestApi>(record["model"].clone()) {
            Ok(model) => {
                let snapshot = Snapshot::new(
                    dep_id,
                    Arc::new(model),
                    record["description"].as_str().map(str::to_string),
                    record["createdDate"].as_i64().unwrap_or(0),
                );
                api.deployments
                    .insert(dep_id.to_string(), Arc::new(snapshot));
            }
            Err(e) => tracing::warn!(
                api = api_id,
                deployment = dep_id,
                "a stored deployment no longer reads back ({e}); skipped"
            ),
        }
    }

    for (api_id, stage_name, json) in per_api(store, &format!("apigateway/stage/{region}/")) {
        let stage_name = stage_name.as_str();
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
            let before = stage.deployment_id.clone();
            restore(&mut stage, &json);
            if api.deployment_of(&stage).is_none() {
                // Its deployment is gone (a file API's definition changed
                // its initial deployment): keep what the file says.
                stage.deployment_id = before;
            }
            api.stages.insert(Arc::from(stage_name), Arc::new(stage));
        }
    }
    for (key, value) in migrations {
        if let Err(e) = store.put_setting(&key, value.to_string().as_bytes()).await {
            tracing::warn!(
                key,
                "could not store a migrated record ({e}); it is migrated again next start"
            );
        }
    }
}
