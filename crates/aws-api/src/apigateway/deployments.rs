//! Deployments: immutable snapshots of an API's working definition, which
//! stages serve (CreateDeployment, GetDeployments, GetDeployment,
//! UpdateDeployment, DeleteDeployment).
//!
//! CreateDeployment refuses an API without methods or with a method that has
//! no integration, as AWS does; with `stageName` it also creates the stage
//! or moves it to the new deployment. A deployment that a stage serves
//! cannot be deleted.

use std::sync::Arc;

use gatewatch_gateway::Snapshot;
use serde_json::{json, Value};

use super::stage::{self, stage_json};
use super::*;

/// A new deployment id: 6 lowercase letters and digits, as AWS's look.
fn new_deployment_id() -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    // Base-36 of the first bytes keeps letters in the mix.
    let mut n = u64::from_str_radix(&hex[..15], 16).unwrap_or(0);
    (0..6)
        .map(|_| {
            let d = (n % 36) as u32;
            n /= 36;
            char::from_digit(d, 36).unwrap_or('0')
        })
        .collect()
}

/// The `Deployment` shape; `summary` adds `apiSummary` (`embed=apisummary`).
fn deployment_json(d: &Snapshot, summary: bool) -> Value {
    let mut v = json!({ "id": d.id, "createdDate": d.created_date });
    if let Some(desc) = &d.description {
        v["description"] = json!(desc);
    }
    if summary {
        let mut paths = serde_json::Map::new();
        for r in &d.api.resources {
            if r.methods.is_empty() {
                continue;
            }
            let methods: serde_json::Map<String, Value> = r
                .methods
                .iter()
                .map(|(name, m)| {
                    (
                        name.clone(),
                        json!({
                            "authorizationType": m.authorization_type,
                            "apiKeyRequired": m.api_key_required,
                        }),
                    )
                })
                .collect();
            paths.insert(r.path.clone(), Value::Object(methods));
        }
        v["apiSummary"] = Value::Object(paths);
    }
    v
}

/// AWS's checks before a definition may be deployed.
fn check_deployable(api: &gatewatch_model::RestApi) -> Result<(), RestError> {
    if api.resources.iter().all(|r| r.methods.is_empty()) {
        return Err(bad_request("The REST API doesn't contain any methods"));
    }
    for r in &api.resources {
        for m in r.methods.values() {
            if m.integration.is_none() {
                return Err(bad_request(format!(
                    "No integration defined for method: {} {}",
                    m.http_method, r.path
                )));
            }
        }
    }
    Ok(())
}

fn invalid_deployment() -> RestError {
    not_found("Invalid Deployment identifier specified")
}

impl ApiGatewayApi {
    pub(super) async fn route_deployments(
        &self,
        method: &str,
        id: &str,
        rest: &[&str],
        query: Option<&str>,
        region: &str,
        body: &Value,
    ) -> Result<Value, RestError> {
        let summary = query_param(query, "embed").is_some_and(|e| e.contains("apisummary"));
        match (method, rest) {
            ("GET", []) => self.with_api_deployed(region, id, |api| {
                let mut list: Vec<&Arc<Snapshot>> = api.deployments.values().collect();
                list.sort_by(|a, b| b.created_date.cmp(&a.created_date).then(a.id.cmp(&b.id)));
                page(
                    query,
                    list.iter().map(|d| deployment_json(d, summary)).collect(),
                )
            }),
            ("GET", [did]) => self.with_api_deployed(region, id, |api| {
                let d = api.deployments.get(*did).ok_or_else(invalid_deployment)?;
                Ok(deployment_json(d, summary))
            }),
            ("POST", []) => self.create_deployment(region, id, body).await,
            ("PATCH", [did]) => self.update_deployment(region, id, did, body).await,
            ("DELETE", [did]) => self.delete_deployment(region, id, did).await,
            _ => Err(unknown_operation(
                method,
                &format!("/restapis/{id}/deployments/{}", rest.join("/")),
            )),
        }
    }

    /// CreateDeployment: snapshots the working definition; with
    /// `stageName`, points that stage (created if new) at it.
    async fn create_deployment(
        &self,
        region: &str,
        id: &str,
        body: &Value,
    ) -> Result<Value, RestError> {
        let stage_name = body["stageName"].as_str();
        if let Some(name) = stage_name {
            if !gatewatch_model::stage::is_valid_stage_name(name) {
                return Err(bad_request(
                    "Stage name only allows a-zA-Z0-9_- and must be 1 to 128 characters long",
                ));
            }
        }
        let mut edit = self.edit(region, id).await?;
        check_deployable(&edit.entry.api)?;
        let snapshot = Arc::new(Snapshot::new(
            new_deployment_id(),
            Arc::clone(&edit.entry.api),
            body["description"].as_str().map(str::to_string),
            now_s(),
        ));
        let mut stage_view = None;
        if let Some(name) = stage_name {
            let (mut stage, created) = match edit.entry.stages.get(name) {
                Some(s) => (s.as_ref().clone(), self.created_at(region, id, name)),
                None => {
                    let mut s = gatewatch_model::Stage::new(name);
                    s.description = body["stageDescription"].as_str().map(str::to_string);
                    (s, now_s())
                }
            };
            stage.deployment_id = Some(snapshot.id.clone());
            if let Some(t) = body["tracingEnabled"].as_bool() {
                stage.tracing_enabled = t;
            }
            if let Some(vars) = body["variables"].as_object() {
                let ops = variable_ops(vars);
                stage::apply(&mut stage, &snapshot.api, |_| true, &ops, self.strict, true)?;
            }
            stage_view = Some((stage, created));
        }
        // Durable first, then visible.
        self.put_record(
            &deployment_key(region, id, &snapshot.id),
            &persist::deployment_record(&snapshot),
            "deployment",
        )
        .await?;
        if let Some((stage, created)) = stage_view {
            let view = stage_json(&stage, created, now_s());
            self.save_stage(region, id, &stage.name, &view).await?;
            edit.entry
                .stages
                .insert(Arc::from(stage.name.as_str()), Arc::new(stage));
        }
        let out = deployment_json(&snapshot, false);
        edit.entry.deployments.insert(snapshot.id.clone(), snapshot);
        self.commit(edit);
        Ok(out)
    }

    /// UpdateDeployment: `/description`.
    async fn update_deployment(
        &self,
        region: &str,
        id: &str,
        did: &str,
        body: &Value,
    ) -> Result<Value, RestError> {
        let ops = stage::patch_ops(body)?;
        let mut edit = self.edit(region, id).await?;
        let d = edit
            .entry
            .deployments
            .get(did)
            .ok_or_else(invalid_deployment)?;
        let mut description = d.description.clone();
        for op in &ops {
            match (op.op.as_str(), op.path.as_str()) {
                ("replace", "/description") => description = op.value.clone(),
                ("remove", "/description") => description = None,
                _ => return Err(op.invalid_path("/description")),
            }
        }
        let snapshot = Arc::new(Snapshot::new(
            d.id.clone(),
            Arc::clone(&d.api),
            description,
            d.created_date,
        ));
        // A configured API's initial deployment is read from its file at
        // every start: only its description is stored.
        let from_file = did == gatewatch_gateway::initial_deployment_id(id)
            && self
                .record(&deployment_key(region, id, did))
                .is_none_or(|r| r.get("model").is_none());
        let mut record = persist::deployment_record(&snapshot);
        if from_file {
            record.as_object_mut().map(|o| o.remove("model"));
        }
        self.put_record(&deployment_key(region, id, did), &record, "deployment")
            .await?;
        let out = deployment_json(&snapshot, false);
        edit.entry.deployments.insert(did.to_string(), snapshot);
        self.commit(edit);
        Ok(out)
    }

    /// DeleteDeployment: only when no stage serves it.
    async fn delete_deployment(
        &self,
        region: &str,
        id: &str,
        did: &str,
    ) -> Result<Value, RestError> {
        let mut edit = self.edit(region, id).await?;
        if !edit.entry.deployments.contains_key(did) {
            return Err(invalid_deployment());
        }
        if edit
            .entry
            .stages
            .values()
            .any(|s| s.deployment_id.as_deref() == Some(did))
        {
            return Err(bad_request(
                "Active stages pointing to this deployment must be moved or deleted",
            ));
        }
        // A tombstone, so a file API's initial deployment stays deleted.
        self.put_record(
            &deployment_key(region, id, did),
            &json!({ "id": did, "deleted": true }),
            "deletion",
        )
        .await?;
        edit.entry.deployments.remove(did);
        self.commit(edit);
        Ok(json!({}))
    }
}

/// Stage variables as `replace /variables/{name}` operations, so they are
/// checked like UpdateStage checks them.
pub(super) fn variable_ops(vars: &serde_json::Map<String, Value>) -> Vec<stage::PatchOp> {
    vars.iter()
        .map(|(k, v)| stage::PatchOp {
            op: "replace".into(),
            path: format!("/variables/{k}"),
            value: v.as_str().map(str::to_string),
        })
        .collect()
}
