//! Stages (create, get, list, update with patch operations, delete) and
//! the account (GetAccount, UpdateAccount).

use std::sync::Arc;

use serde_json::{json, Value};

use super::stage::{self, stage_json};
use super::*;

impl ApiGatewayApi {
    /// Stores a stage's state (or its deletion) durably.
    pub(super) async fn save_stage(
        &self,
        region: &str,
        id: &str,
        name: &str,
        view: &Value,
    ) -> Result<(), RestError> {
        self.put_record(&stage_key(region, id, name), view, "stage")
            .await
    }

    /// CreateStage: a stage serving an existing deployment.
    pub(super) async fn create_stage(
        &self,
        region: &str,
        id: &str,
        body: &Value,
    ) -> Result<Value, RestError> {
        let name = body["stageName"]
            .as_str()
            .ok_or_else(|| bad_request("stageName is required"))?;
        let deployment_id = body["deploymentId"]
            .as_str()
            .ok_or_else(|| bad_request("deploymentId is required"))?;
        if !gatewatch_model::stage::is_valid_stage_name(name) {
            return Err(bad_request(
                "Stage name only allows a-zA-Z0-9_- and must be 1 to 128 characters long",
            ));
        }
        let mut edit = self.edit(region, id).await?;
        let Some(snapshot) = edit.entry.deployments.get(deployment_id) else {
            return Err(bad_request("Invalid deployment identifier specified"));
        };
        if edit.entry.stages.contains_key(name) {
            return Err(conflict("Stage already exists"));
        }
        let mut stage = gatewatch_model::Stage::new(name);
        stage.deployment_id = Some(deployment_id.to_string());
        stage.description = body["description"].as_str().map(str::to_string);
        stage.tracing_enabled = body["tracingEnabled"].as_bool().unwrap_or(false);
        if let Some(vars) = body["variables"].as_object() {
            let ops = super::deployments::variable_ops(vars);
            stage::apply(&mut stage, &snapshot.api, |_| true, &ops, self.strict, true)?;
        }
        let now = now_s();
        let view = stage_json(&stage, now, now);
        self.save_stage(region, id, name, &view).await?;
        edit.entry.stages.insert(Arc::from(name), Arc::new(stage));
        self.commit(edit);
        Ok(view)
    }

    /// DeleteStage.
    pub(super) async fn delete_stage(
        &self,
        region: &str,
        id: &str,
        name: &str,
    ) -> Result<Value, RestError> {
        let mut edit = self.edit(region, id).await?;
        if !edit.entry.stages.contains_key(name) {
            return Err(not_found("Invalid stage identifier specified"));
        }
        // Remembered, so a stage from a file stays deleted after a restart.
        self.save_stage(region, id, name, &json!({ "deleted": true }))
            .await?;
        edit.entry.stages.remove(name);
        self.commit(edit);
        Ok(json!({}))
    }

    /// A stored stage's `(createdDate, lastUpdatedDate)`; start-up time for
    /// stages never changed through the API.
    fn stage_dates(&self, region: &str, id: &str, name: &str) -> (i64, i64) {
        let saved = self
            .record(&stage_key(region, id, name))
            .unwrap_or(Value::Null);
        (
            saved["createdDate"].as_i64().unwrap_or(self.started),
            saved["lastUpdatedDate"].as_i64().unwrap_or(self.started),
        )
    }

    /// When a stage was created.
    pub(super) fn created_at(&self, region: &str, id: &str, name: &str) -> i64 {
        self.stage_dates(region, id, name).0
    }

    fn stage_view(&self, region: &str, id: &str, s: &gatewatch_model::Stage) -> Value {
        let (created, updated) = self.stage_dates(region, id, &s.name);
        stage_json(s, created, updated)
    }

    /// GetStages (optionally `deploymentId=` filtered).
    pub(super) fn get_stages(
        &self,
        region: &str,
        id: &str,
        query: Option<&str>,
    ) -> Result<Value, RestError> {
        let only = query_param(query, "deploymentId");
        self.with_api_deployed(region, id, |api| {
            let items: Vec<Value> = api
                .stages
                .values()
                .filter(|s| only.is_none() || s.deployment_id == only)
                .map(|s| self.stage_view(region, id, s))
                .collect();
            Ok(json!({ "item": items }))
        })
    }

    /// GetStage.
    pub(super) fn get_stage(&self, region: &str, id: &str, name: &str) -> Result<Value, RestError> {
        self.with_api_deployed(region, id, |api| {
            let s = api
                .stages
                .get(name)
                .ok_or_else(|| not_found("Invalid stage identifier specified"))?;
            Ok(self.stage_view(region, id, s))
        })
    }

    pub(super) fn role_arn(&self, region: &str) -> Option<String> {
        self.store
            .setting(&account_key(region))
            .ok()
            .flatten()
            .and_then(|v| String::from_utf8(v).ok())
    }

    pub(super) async fn update_stage(
        &self,
        region: &str,
        id: &str,
        name: &str,
        body: &Value,
    ) -> Result<Value, RestError> {
        let ops = stage::patch_ops(body)?;
        let mut edit = self.edit(region, id).await?;
        let mut new_stage = edit
            .entry
            .stages
            .get(name)
            .map(|s| s.as_ref().clone())
            .ok_or_else(|| not_found("Invalid stage identifier specified"))?;
        // Method-setting paths are checked against what the stage serves.
        let served = edit
            .entry
            .deployment_of(&new_stage)
            .map_or(Arc::clone(&edit.entry.api), |d| Arc::clone(&d.api));
        stage::apply(
            &mut new_stage,
            &served,
            |d| edit.entry.deployments.contains_key(d),
            &ops,
            self.strict,
            self.role_arn(region).is_some(),
        )?;
        let view = stage_json(&new_stage, self.created_at(region, id, name), now_s());
        // Durable first, then visible: an acknowledged update survives a crash.
        self.save_stage(region, id, name, &view).await?;
        edit.entry
            .stages
            .insert(Arc::from(name), Arc::new(new_stage));
        self.commit(edit);
        Ok(view)
    }

    pub(super) fn get_account(&self, region: &str) -> Result<Value, RestError> {
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

    pub(super) async fn update_account(
        &self,
        region: &str,
        body: &Value,
    ) -> Result<Value, RestError> {
        let ops = stage::patch_ops(body)?;
        for op in &ops {
            if op.path != "/cloudwatchRoleArn" {
                return Err(op.invalid_path("/cloudwatchRoleArn"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        assert!(is_role_arn("arn:aws:iam::123456789012:role/apigw-logs"));
        assert!(!is_role_arn("arn:aws:iam::123:role/x"));
        assert!(!is_role_arn("not-an-arn"));
    }
}
