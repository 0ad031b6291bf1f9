//! API keys and usage plans (CRUD, and the keys of a usage plan). They are
//! stored per region and survive a restart; the data plane does not enforce
//! them yet (keys, quotas and throttles are a later issue).
//!
//! Choices where AWS's messages are not documented: an API stage of a
//! usage plan must name an existing API and stage (`BadRequestException`
//! "Invalid API Stage {apiId}:{stage} specified"); a key added twice to a
//! plan is a `ConflictException`.

use serde_json::{json, Map, Value};

use super::stage::patch_ops;
use super::*;

fn key_key(region: &str, id: &str) -> String {
    format!("apigateway/apikey/{region}/{id}")
}

fn plan_key(region: &str, id: &str) -> String {
    format!("apigateway/usageplan/{region}/{id}")
}

fn plan_member_key(region: &str, plan: &str, key: &str) -> String {
    format!("apigateway/usageplankey/{region}/{plan}/{key}")
}

/// 10 lowercase letters and digits.
fn new_id() -> String {
    gatewatch_model::id::stable_id(&[&uuid::Uuid::new_v4().to_string()])
}

/// A new key value: 40 letters and digits.
fn new_key_value() -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for _ in 0..2 {
        let _ = write!(out, "{}", uuid::Uuid::new_v4().simple());
    }
    // Mixed case, as AWS's keys are.
    out.chars()
        .take(40)
        .enumerate()
        .map(|(i, c)| {
            if i % 3 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

fn invalid_key() -> RestError {
    not_found("Invalid API Key identifier specified")
}

fn invalid_plan() -> RestError {
    not_found("Invalid Usage Plan ID specified")
}

impl ApiGatewayApi {
    /// `{restApiId}/{stageName}` must name a served stage.
    fn check_stage_key(&self, region: &str, stage_key: &str) -> Result<(), RestError> {
        let (api, stage) = stage_key.split_once('/').unwrap_or((stage_key, ""));
        let d = self.deployments(region);
        let ok = d
            .apis
            .iter()
            .any(|a| a.api.id == api && a.stages.contains_key(stage));
        if ok {
            Ok(())
        } else {
            Err(bad_request(format!(
                "Invalid API Stage {{api: {api}, stage: {stage}}} specified"
            )))
        }
    }

    /// `/apikeys[/{id}]`.
    pub(super) async fn route_api_keys(
        &self,
        method: &str,
        rest: &[&str],
        query: Option<&str>,
        region: &str,
        body: &Value,
    ) -> Result<Value, RestError> {
        let _guard = self.updates.lock().await;
        match (method, rest) {
            ("POST", []) => {
                let value = match body["value"].as_str() {
                    Some(v) if v.len() < 20 => {
                        return Err(bad_request(
                            "API Key value should be at least 20 characters",
                        ))
                    }
                    Some(v) => v.to_string(),
                    None => new_key_value(),
                };
                if self
                    .records(&format!("apigateway/apikey/{region}/"))
                    .iter()
                    .any(|k| k["value"] == json!(value))
                {
                    return Err(conflict("API Key already exists"));
                }
                let mut stage_keys = Vec::new();
                for s in body["stageKeys"].as_array().into_iter().flatten() {
                    let key = format!(
                        "{}/{}",
                        s["restApiId"].as_str().unwrap_or(""),
                        s["stageName"].as_str().unwrap_or("")
                    );
                    self.check_stage_key(region, &key)?;
                    stage_keys.push(json!(key));
                }
                let now = now_s();
                let id = new_id();
                let mut record = json!({
                    "id": id,
                    "value": value,
                    "name": body["name"].as_str().unwrap_or(&id),
                    "enabled": body["enabled"].as_bool().unwrap_or(false),
                    "createdDate": now,
                    "lastUpdatedDate": now,
                    "stageKeys": stage_keys,
                });
                for field in ["description", "customerId", "tags"] {
                    if !body[field].is_null() {
                        record[field] = body[field].clone();
                    }
                }
                self.put_record(&key_key(region, &id), &record, "API key")
                    .await?;
                Ok(record)
            }
            ("GET", []) => {
                let include = query_param(query, "includeValues").as_deref() == Some("true");
                let name = query_param(query, "name");
                let customer = query_param(query, "customerId");
                let mut keys = self.records(&format!("apigateway/apikey/{region}/"));
                keys.retain(|k| {
                    name.as_deref()
                        .is_none_or(|n| k["name"].as_str().unwrap_or("").starts_with(n))
                        && customer
                            .as_deref()
                            .is_none_or(|c| k["customerId"].as_str() == Some(c))
                });
                keys.sort_by_key(|k| k["createdDate"].as_i64());
                for k in &mut keys {
                    if !include {
                        k.as_object_mut().map(|o| o.remove("value"));
                    }
                }
                page(query, keys)
            }
            ("GET", [id]) => {
                let mut k = self.record(&key_key(region, id)).ok_or_else(invalid_key)?;
                if query_param(query, "includeValue").as_deref() != Some("true") {
                    k.as_object_mut().map(|o| o.remove("value"));
                }
                Ok(k)
            }
            ("PATCH", [id]) => {
                let ops = patch_ops(body)?;
                let mut k = self.record(&key_key(region, id)).ok_or_else(invalid_key)?;
                for op in &ops {
                    match (op.op.as_str(), op.path.as_str()) {
                        ("replace", "/name") => k["name"] = json!(op.required_value()?.to_string()),
                        ("replace", "/description") => {
                            k["description"] = json!(op.required_value()?.to_string())
                        }
                        ("replace", "/customerId") => {
                            k["customerId"] = json!(op.required_value()?.to_string())
                        }
                        ("replace", "/enabled") => {
                            match op.required_value()?.to_string().as_str() {
                                "true" => k["enabled"] = json!(true),
                                "false" => k["enabled"] = json!(false),
                                other => {
                                    return Err(bad_request(format!(
                                        "Invalid boolean value '{other}' for /enabled"
                                    )))
                                }
                            }
                        }
                        ("add" | "remove", "/stages") => {
                            let stage = op.required_value()?.to_string();
                            let list = k["stageKeys"].as_array().cloned().unwrap_or_default();
                            let mut list: Vec<Value> =
                                list.into_iter().filter(|s| *s != json!(stage)).collect();
                            if op.op == "add" {
                                self.check_stage_key(region, &stage)?;
                                list.push(json!(stage));
                            }
                            k["stageKeys"] = json!(list);
                        }
                        _ => {
                            return Err(op.invalid_path(
                                "/name, /description, /customerId, /enabled, /stages",
                            ))
                        }
                    }
                }
                k["lastUpdatedDate"] = json!(now_s());
                self.put_record(&key_key(region, id), &k, "API key").await?;
                k.as_object_mut().map(|o| o.remove("value"));
                Ok(k)
            }
            ("DELETE", [id]) => {
                self.record(&key_key(region, id)).ok_or_else(invalid_key)?;
                for (key, _) in self
                    .store
                    .settings(&format!("apigateway/usageplankey/{region}/"))
                    .unwrap_or_default()
                {
                    if key.ends_with(&format!("/{id}")) {
                        self.delete_record(&key, "usage plan key").await?;
                    }
                }
                self.delete_record(&key_key(region, id), "API key").await?;
                Ok(json!({}))
            }
            _ => Err(unknown_operation(
                method,
                &format!("/apikeys/{}", rest.join("/")),
            )),
        }
    }

    /// Reads `apiStages`, `throttle` and `quota` of a usage plan body.
    fn plan_parts(&self, region: &str, body: &Value, plan: &mut Value) -> Result<(), RestError> {
        if let Some(stages) = body["apiStages"].as_array() {
            for s in stages {
                let key = format!(
                    "{}/{}",
                    s["apiId"].as_str().unwrap_or(""),
                    s["stage"].as_str().unwrap_or("")
                );
                self.check_stage_key(region, &key)?;
            }
            plan["apiStages"] = json!(stages);
        }
        if let Some(t) = body.get("throttle").filter(|t| t.is_object()) {
            plan["throttle"] = t.clone();
        }
        if let Some(q) = body.get("quota").filter(|q| q.is_object()) {
            check_quota(q)?;
            plan["quota"] = q.clone();
        }
        Ok(())
    }

    /// `/usageplans[/{id}[/keys[/{keyId}]]]`.
    pub(super) async fn route_usage_plans(
        &self,
        method: &str,
        rest: &[&str],
        query: Option<&str>,
        region: &str,
        body: &Value,
    ) -> Result<Value, RestError> {
        let _guard = self.updates.lock().await;
        match (method, rest) {
            ("POST", []) => {
                let name = body["name"]
                    .as_str()
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| bad_request("Usage Plan name must be specified"))?;
                let id = new_id();
                let mut plan = json!({ "id": id, "name": name, "apiStages": [] });
                for field in ["description", "tags", "productCode"] {
                    if !body[field].is_null() {
                        plan[field] = body[field].clone();
                    }
                }
                self.plan_parts(region, body, &mut plan)?;
                self.put_record(&plan_key(region, &id), &plan, "usage plan")
                    .await?;
                Ok(plan)
            }
            ("GET", []) => {
                let mut plans = self.records(&format!("apigateway/usageplan/{region}/"));
                if let Some(key) = query_param(query, "keyId") {
                    plans.retain(|p| {
                        let id = p["id"].as_str().unwrap_or("");
                        self.record(&plan_member_key(region, id, &key)).is_some()
                    });
                }
                page(query, plans)
            }
            ("GET", [id]) => self.record(&plan_key(region, id)).ok_or_else(invalid_plan),
            ("PATCH", [id]) => {
                let ops = patch_ops(body)?;
                let mut plan = self
                    .record(&plan_key(region, id))
                    .ok_or_else(invalid_plan)?;
                for op in &ops {
                    let tokens: Vec<&str> = op.path.trim_start_matches('/').split('/').collect();
                    let remove = op.op == "remove";
                    match tokens.as_slice() {
                        ["name"] if !remove => plan["name"] = json!(op.required_value()?.to_string()),
                        ["description"] => {
                            plan["description"] = if remove { Value::Null } else { json!(op.required_value()?.to_string()) }
                        }
                        ["productCode"] => {
                            plan["productCode"] = if remove { Value::Null } else { json!(op.required_value()?.to_string()) }
                        }
                        [section @ ("throttle" | "quota")] if remove => {
                            plan.as_object_mut().map(|o| o.remove(*section));
                        }
                        [section @ ("throttle" | "quota"), field] => {
                            if !plan[*section].is_object() {
                                plan[*section] = json!({});
                            }
                            let v = op.required_value()?.to_string();
                            let parsed = match *field {
                                "period" => json!(v),
                                "rateLimit" => json!(v.parse::<f64>().map_err(|_| bad_request(format!("Invalid number value for {}", op.path)))?),
                                "burstLimit" | "limit" | "offset" => json!(v.parse::<i64>().map_err(|_| bad_request(format!("Invalid integer value for {}", op.path)))?),
                                _ => return Err(op.invalid_path("/name, /description, /productCode, /throttle/burstLimit, /throttle/rateLimit, /quota/limit, /quota/offset, /quota/period, /apiStages")),
                            };
                            plan[*section][*field] = parsed;
                            if *section == "quota" {
                                check_quota(&plan["quota"])?;
                            }
                        }
                        ["apiStages"] => {
                            // `{apiId}:{stage}`.
                            let v = op.required_value()?.to_string();
                            let (api, stage) = v.split_once(':').unwrap_or((&v, ""));
                            let mut stages = plan["apiStages"].as_array().cloned().unwrap_or_default();
                            stages.retain(|s| !(s["apiId"] == json!(api) && s["stage"] == json!(stage)));
                            if op.op == "add" {
                                self.check_stage_key(region, &format!("{api}/{stage}"))?;
                                stages.push(json!({ "apiId": api, "stage": stage }));
                            }
                            plan["apiStages"] = json!(stages);
                        }
                        _ => return Err(op.invalid_path("/name, /description, /productCode, /throttle/burstLimit, /throttle/rateLimit, /quota/limit, /quota/offset, /quota/period, /apiStages")),
                    }
                }
                if let Some(o) = plan.as_object_mut() {
                    o.retain(|_, v| !v.is_null());
                }
                self.put_record(&plan_key(region, id), &plan, "usage plan")
                    .await?;
                Ok(plan)
            }
            ("DELETE", [id]) => {
                self.record(&plan_key(region, id))
                    .ok_or_else(invalid_plan)?;
                for (key, _) in self
                    .store
                    .settings(&format!("apigateway/usageplankey/{region}/{id}/"))
                    .unwrap_or_default()
                {
                    self.delete_record(&key, "usage plan key").await?;
                }
                self.delete_record(&plan_key(region, id), "usage plan")
                    .await?;
                Ok(json!({}))
            }
            ("POST", [id, "keys"]) => {
                self.record(&plan_key(region, id))
                    .ok_or_else(invalid_plan)?;
                if body["keyType"].as_str().is_some_and(|t| t != "API_KEY") {
                    return Err(bad_request("keyType must be API_KEY"));
                }
                let key_id = body["keyId"]
                    .as_str()
                    .ok_or_else(|| bad_request("keyId is required"))?;
                let key = self
                    .record(&key_key(region, key_id))
                    .ok_or_else(invalid_key)?;
                let member = plan_member_key(region, id, key_id);
                if self.record(&member).is_some() {
                    return Err(conflict(format!(
                        "API Key {key_id} is already in usage plan {id}"
                    )));
                }
                self.put_record(&member, &json!({ "keyId": key_id }), "usage plan key")
                    .await?;
                Ok(plan_key_json(&key))
            }
            ("GET", [id, "keys"]) => {
                self.record(&plan_key(region, id))
                    .ok_or_else(invalid_plan)?;
                let name = query_param(query, "name");
                let keys: Vec<Value> = self
                    .records(&format!("apigateway/usageplankey/{region}/{id}/"))
                    .iter()
                    .filter_map(|m| self.record(&key_key(region, m["keyId"].as_str()?)))
                    .filter(|k| {
                        name.as_deref()
                            .is_none_or(|n| k["name"].as_str().unwrap_or("").starts_with(n))
                    })
                    .map(|k| plan_key_json(&k))
                    .collect();
                page(query, keys)
            }
            ("GET", [id, "keys", key_id]) => {
                self.record(&plan_member_key(region, id, key_id))
                    .ok_or_else(|| not_found("Invalid Usage Plan Key identifier specified"))?;
                let key = self
                    .record(&key_key(region, key_id))
                    .ok_or_else(invalid_key)?;
                Ok(plan_key_json(&key))
            }
            ("DELETE", [id, "keys", key_id]) => {
                let member = plan_member_key(region, id, key_id);
                self.record(&member)
                    .ok_or_else(|| not_found("Invalid Usage Plan Key identifier specified"))?;
                self.delete_record(&member, "usage plan key").await?;
                Ok(json!({}))
            }
            _ => Err(unknown_operation(
                method,
                &format!("/usageplans/{}", rest.join("/")),
            )),
        }
    }
}

/// `period` is DAY, WEEK or MONTH; `limit` is positive.
fn check_quota(q: &Value) -> Result<(), RestError> {
    if let Some(p) = q.get("period") {
        if !matches!(p.as_str(), Some("DAY" | "WEEK" | "MONTH")) {
            return Err(bad_request(format!(
                "Invalid quota period {p}. Valid values are DAY, WEEK, MONTH"
            )));
        }
    }
    if q.get("limit")
        .and_then(Value::as_i64)
        .is_some_and(|l| l < 0)
    {
        return Err(bad_request("The quota limit must be positive"));
    }
    Ok(())
}

/// The `UsagePlanKey` shape.
fn plan_key_json(key: &Value) -> Value {
    let mut v = Map::new();
    v.insert("id".into(), key["id"].clone());
    v.insert("type".into(), json!("API_KEY"));
    v.insert("value".into(), key["value"].clone());
    v.insert("name".into(), key["name"].clone());
    Value::Object(v)
}
