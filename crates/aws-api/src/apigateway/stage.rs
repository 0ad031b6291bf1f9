//! Stages on the wire: the `Stage` shape, and UpdateStage's patch
//! operations applied to a stage with AWS's validation.
//!
//! Choices where AWS's exact messages are not documented: an unknown patch
//! path, an unsupported op, a bad value, and a method-setting path whose
//! resource or method does not exist are `BadRequestException`s whose
//! messages name the path and the valid choices. Caching settings are
//! refused (Gatewatch has no stage cache), never silently ignored.

use std::collections::BTreeMap;

use gatewatch_model::{AccessLogSettings, LoggingLevel, MethodSetting, RestApi, Stage};
use serde_json::{json, Map, Value};

use super::{bad_request, RestError};

/// The `Stage` resource as GetStage returns it.
pub fn stage_json(stage: &Stage, created: i64, updated: i64) -> Value {
    let mut settings = Map::new();
    for (key, m) in &stage.method_settings {
        settings.insert(key.clone(), method_setting_json(m));
    }
    let mut v = json!({
        "deploymentId": stage.deployment_id,
        "stageName": stage.name,
        "cacheClusterEnabled": false,
        "cacheClusterStatus": "NOT_AVAILABLE",
        "methodSettings": settings,
        "tracingEnabled": stage.tracing_enabled,
        "createdDate": created,
        "lastUpdatedDate": updated,
    });
    if let Some(d) = &stage.description {
        v["description"] = json!(d);
    }
    if !stage.variables.is_empty() {
        v["variables"] = json!(stage.variables);
    }
    if let Some(a) = &stage.access_log_settings {
        v["accessLogSettings"] = json!({ "format": a.format, "destinationArn": a.destination_arn });
    }
    v
}

fn method_setting_json(m: &MethodSetting) -> Value {
    json!({
        "metricsEnabled": m.metrics_enabled,
        "loggingLevel": m.logging_level.to_string(),
        "dataTraceEnabled": m.data_trace_enabled,
        "throttlingBurstLimit": m.throttling_burst_limit.unwrap_or(5000),
        "throttlingRateLimit": m.throttling_rate_limit.unwrap_or(10000.0),
        "cachingEnabled": false,
        "cacheTtlInSeconds": 300,
        "cacheDataEncrypted": false,
        "requireAuthorizationForCacheControl": true,
        "unauthorizedCacheControlHeaderStrategy": "SUCCEED_WITH_RESPONSE_HEADER",
    })
}

/// The settings the management API owns, restored onto a stage from its
/// persisted JSON (the shape of [`stage_json`]).
pub fn restore(stage: &mut Stage, saved: &Value) {
    if let Some(d) = saved["deploymentId"].as_str() {
        stage.deployment_id = Some(d.to_string());
    }
    stage.description = saved["description"].as_str().map(str::to_string);
    stage.tracing_enabled = saved["tracingEnabled"]
        .as_bool()
        .unwrap_or(stage.tracing_enabled);
    stage.variables = saved["variables"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    stage.access_log_settings = saved.get("accessLogSettings").and_then(|a| {
        Some(AccessLogSettings {
            format: a["format"].as_str()?.to_string(),
            destination_arn: a["destinationArn"].as_str()?.to_string(),
        })
    });
    let mut settings = BTreeMap::new();
    if let Some(m) = saved["methodSettings"].as_object() {
        for (key, v) in m {
            settings.insert(
                key.clone(),
                MethodSetting {
                    logging_level: v["loggingLevel"]
                        .as_str()
                        .and_then(|l| l.parse().ok())
                        .unwrap_or_default(),
                    data_trace_enabled: v["dataTraceEnabled"].as_bool().unwrap_or(false),
                    metrics_enabled: v["metricsEnabled"].as_bool().unwrap_or(false),
                    throttling_burst_limit: v["throttlingBurstLimit"]
                        .as_u64()
                        .map(|n| n as u32)
                        .filter(|n| *n != 5000),
                    throttling_rate_limit: v["throttlingRateLimit"]
                        .as_f64()
                        .filter(|n| *n != 10000.0),
                },
            );
        }
    }
    stage.method_settings = settings;
}

/// One patch operation.
#[derive(Debug, Clone)]
pub struct PatchOp {
    /// `add`, `remove`, `replace`, ...
    pub op: String,
    /// JSON-pointer-like path.
    pub path: String,
    /// New value (always a string on the wire).
    pub value: Option<String>,
}

/// Reads `patchOperations`.
pub fn patch_ops(body: &Value) -> Result<Vec<PatchOp>, RestError> {
    let Some(ops) = body.get("patchOperations") else {
        return Ok(Vec::new());
    };
    let ops = ops
        .as_array()
        .ok_or_else(|| bad_request("patchOperations must be a list"))?;
    ops.iter()
        .map(|o| {
            Ok(PatchOp {
                op: o["op"]
                    .as_str()
                    .ok_or_else(|| bad_request("Each patch operation needs an op"))?
                    .to_string(),
                path: o["path"]
                    .as_str()
                    .ok_or_else(|| bad_request("Each patch operation needs a path"))?
                    .to_string(),
                value: o["value"].as_str().map(str::to_string),
            })
        })
        .collect()
}

fn boolean(op: &PatchOp) -> Result<bool, RestError> {
    match op.value.as_deref() {
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        other => Err(bad_request(format!(
            "Invalid boolean value '{}' for {}; use true or false",
            other.unwrap_or(""),
            op.path
        ))),
    }
}

impl PatchOp {
    /// The operation's value; an error naming the path when it has none.
    pub fn required_value(&self) -> Result<&str, RestError> {
        self.value.as_deref().ok_or_else(|| {
            bad_request(format!(
                "Patch operation '{}' on {} needs a value",
                self.op, self.path
            ))
        })
    }

    /// AWS's error for a path this resource does not have; `valid` lists
    /// the ones it has.
    pub fn invalid_path(&self, valid: &str) -> RestError {
        bad_request(format!(
            "Invalid patch path '{}' specified for op '{}'. Must be one of: [{valid}]",
            self.path, self.op
        ))
    }

    /// The path's tokens with `~1` and `~0` unescaped (`/a/b~1c` → `a`, `b/c`).
    pub fn tokens(&self) -> Vec<String> {
        self.path
            .trim_start_matches('/')
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect()
    }
}

const STAGE_PATHS: &str = "[/description, /deploymentId, /tracingEnabled, /variables/{name}, /accessLogSettings, /accessLogSettings/format, /accessLogSettings/destinationArn, /{resourcePath}/{httpMethod}/logging/loglevel, /{resourcePath}/{httpMethod}/logging/dataTrace, /{resourcePath}/{httpMethod}/metrics/enabled, /{resourcePath}/{httpMethod}/throttling/burstLimit, /{resourcePath}/{httpMethod}/throttling/rateLimit]";

fn unknown_path(op: &PatchOp) -> RestError {
    op.invalid_path(STAGE_PATHS.trim_start_matches('[').trim_end_matches(']'))
}

/// `/~1pets~1{petId}/GET` → `pets/{petId}/GET`, checked against the API.
fn method_key(
    api: &RestApi,
    resource: &str,
    method: &str,
    path: &str,
) -> Result<String, RestError> {
    if resource == "*" && method == "*" {
        return Ok("*/*".into());
    }
    let resource_path = resource.replace("~1", "/").replace("~0", "~");
    let Some(r) = api.resources.iter().find(|r| r.path == resource_path) else {
        return Err(bad_request(format!(
            "Invalid method setting path {path}: the API has no resource {resource_path}"
        )));
    };
    let method = method.to_ascii_uppercase();
    if !r.methods.contains_key(&method) && method != "*" {
        return Err(bad_request(format!(
            "Invalid method setting path {path}: resource {resource_path} has no {method} method"
        )));
    }
    Ok(format!(
        "{}/{method}",
        resource_path.strip_prefix('/').unwrap_or(&resource_path)
    ))
}

/// Applies `ops` to `stage` in order; any error leaves the caller's stage
/// untouched (the caller applies to a copy). `role_set` says whether the
/// account has a CloudWatch role; with `strict` it is required for logging.
pub fn apply(
    stage: &mut Stage,
    api: &RestApi,
    is_deployment: impl Fn(&str) -> bool,
    ops: &[PatchOp],
    strict: bool,
    role_set: bool,
) -> Result<(), RestError> {
    for op in ops {
        if !matches!(op.op.as_str(), "add" | "remove" | "replace") {
            return Err(bad_request(format!(
                "Invalid patch operation '{}' for {}. Stages accept add, remove and replace",
                op.op, op.path
            )));
        }
        let remove = op.op == "remove";
        let segments: Vec<&str> = op.path.trim_start_matches('/').split('/').collect();
        match segments.as_slice() {
            ["description"] => {
                stage.description = if remove {
                    None
                } else {
                    Some(op.required_value()?.to_string())
                };
            }
            ["tracingEnabled"] if !remove => stage.tracing_enabled = boolean(op)?,
            ["deploymentId"] if !remove => {
                let v = op.required_value()?;
                if !is_deployment(v) {
                    return Err(bad_request("Invalid deployment identifier specified"));
                }
                stage.deployment_id = Some(v.to_string());
            }
            ["variables", name] => {
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(bad_request(format!(
                        "Stage variable name '{name}' must contain only alphanumerics and underscores"
                    )));
                }
                if remove {
                    stage.variables.remove(*name);
                } else {
                    let v = op.required_value()?;
                    if v.len() > 512 {
                        return Err(bad_request(format!(
                            "Stage variable value for '{name}' is longer than 512 characters"
                        )));
                    }
                    stage.variables.insert(name.to_string(), v.to_string());
                }
            }
            ["accessLogSettings"] if remove => stage.access_log_settings = None,
            ["accessLogSettings", field @ ("format" | "destinationArn")] => {
                let mut settings = stage
                    .access_log_settings
                    .clone()
                    .unwrap_or(AccessLogSettings {
                        destination_arn: String::new(),
                        format: String::new(),
                    });
                if remove {
                    stage.access_log_settings = None;
                    continue;
                }
                let v = op.required_value()?;
                if *field == "format" {
                    gatewatch_logging::access::AccessLogTemplate::compile(v)
                        .map_err(|e| bad_request(e.to_string()))?;
                    settings.format = v.to_string();
                } else {
                    gatewatch_logging::access::destination_group(v)
                        .map_err(|_| bad_request("Invalid ARN specified in the request"))?;
                    settings.destination_arn = v.trim_end_matches(":*").to_string();
                }
                stage.access_log_settings = Some(settings);
            }
            [resource, method] if remove => {
                let key = method_key(api, resource, method, &op.path)?;
                stage.method_settings.remove(&key);
            }
            [resource, method, section, field] => {
                let key = method_key(api, resource, method, &op.path)?;
                let base = stage
                    .method_settings
                    .get(&key)
                    .or_else(|| stage.method_settings.get("*/*"))
                    .cloned()
                    .unwrap_or_default();
                let mut setting = base;
                if remove {
                    // Back to the default for that one setting.
                    let d = MethodSetting::default();
                    match (*section, *field) {
                        ("logging", "loglevel") => setting.logging_level = d.logging_level,
                        ("logging", "dataTrace") => {
                            setting.data_trace_enabled = d.data_trace_enabled
                        }
                        ("metrics", "enabled") => setting.metrics_enabled = d.metrics_enabled,
                        ("throttling", "burstLimit") => setting.throttling_burst_limit = None,
                        ("throttling", "rateLimit") => setting.throttling_rate_limit = None,
                        _ => return Err(unknown_path(op)),
                    }
                    stage.method_settings.insert(key, setting);
                    continue;
                }
                match (*section, *field) {
                    ("logging", "loglevel") => {
                        let level: LoggingLevel = op
                            .required_value()?
                            .parse()
                            .map_err(|e: String| bad_request(e))?;
                        if strict && level != LoggingLevel::Off && !role_set {
                            return Err(bad_request(
                                "CloudWatch Logs role ARN must be set in account settings to enable logging",
                            ));
                        }
                        setting.logging_level = level;
                    }
                    ("logging", "dataTrace") => setting.data_trace_enabled = boolean(op)?,
                    ("metrics", "enabled") => setting.metrics_enabled = boolean(op)?,
                    ("throttling", "burstLimit") => {
                        setting.throttling_burst_limit =
                            Some(op.required_value()?.parse().map_err(|_| {
                                bad_request(format!("Invalid integer value for {}", op.path))
                            })?)
                    }
                    ("throttling", "rateLimit") => {
                        let rate: f64 = op.required_value()?.parse().map_err(|_| {
                            bad_request(format!("Invalid number value for {}", op.path))
                        })?;
                        if !(rate.is_finite() && rate >= 0.0) {
                            return Err(bad_request(format!(
                                "Invalid number value for {}",
                                op.path
                            )));
                        }
                        setting.throttling_rate_limit = Some(rate);
                    }
                    ("caching", _) => return Err(bad_request(
                        "Stage caching is not supported by Gatewatch (there is no cache cluster)",
                    )),
                    _ => return Err(unknown_path(op)),
                }
                stage.method_settings.insert(key, setting);
            }
            _ => return Err(unknown_path(op)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(op: &str, path: &str, value: Option<&str>) -> PatchOp {
        PatchOp {
            op: op.into(),
            path: path.into(),
            value: value.map(str::to_string),
        }
    }

    fn api() -> RestApi {
        let mut api = RestApi::new("abc1234567", "t");
        api.ensure_resource("/pets").methods.insert(
            "GET".into(),
            gatewatch_model::Method {
                http_method: "GET".into(),
                operation_name: None,
                authorization_type: "NONE".into(),
                api_key_required: false,
                request_parameters: Default::default(),
                method_responses: Default::default(),
                integration: None,
            },
        );
        api
    }

    #[test]
    fn patches_apply_and_validate() {
        let api = api();
        let mut stage = Stage::new("dev");
        apply(
            &mut stage,
            &api,
            |d| d == "d1",
            &[
                op("replace", "/*/*/logging/loglevel", Some("INFO")),
                op("replace", "/~1pets/GET/metrics/enabled", Some("true")),
                op("replace", "/*/*/throttling/rateLimit", Some("12.5")),
                op("add", "/variables/color", Some("blue")),
                op("replace", "/description", Some("hello")),
            ],
            false,
            false,
        )
        .unwrap();
        assert_eq!(
            stage.method_settings["*/*"].logging_level,
            LoggingLevel::Info
        );
        // A new per-method key starts from `*/*`.
        assert_eq!(
            stage.method_settings["pets/GET"].logging_level,
            LoggingLevel::Info
        );
        assert!(stage.method_settings["pets/GET"].metrics_enabled);
        assert_eq!(stage.variables["color"], "blue");
        // remove resets one field; removing the description clears it.
        apply(
            &mut stage,
            &api,
            |d| d == "d1",
            &[
                op("remove", "/*/*/throttling/rateLimit", None),
                op("remove", "/description", None),
                op("remove", "/variables/color", None),
            ],
            false,
            false,
        )
        .unwrap();
        assert_eq!(stage.method_settings["*/*"].throttling_rate_limit, None);
        assert_eq!(stage.description, None);
        assert!(stage.variables.is_empty());
        // Errors name the problem.
        let bad = |ops: &[PatchOp], strict: bool| {
            let mut s = stage.clone();
            apply(&mut s, &api, |d| d == "d1", ops, strict, false)
                .unwrap_err()
                .message
        };
        assert!(bad(
            &[op("replace", "/~1cats/GET/logging/loglevel", Some("INFO"))],
            false
        )
        .contains("no resource /cats"));
        assert!(bad(
            &[op("replace", "/*/*/caching/enabled", Some("true"))],
            false
        )
        .contains("caching is not supported"));
        assert!(bad(&[op("copy", "/description", None)], false).contains("add, remove and replace"));
        assert!(bad(&[op("replace", "/nope", Some("x"))], false).contains("Invalid patch path"));
        assert_eq!(
            bad(
                &[op("replace", "/*/*/logging/loglevel", Some("ERROR"))],
                true
            ),
            "CloudWatch Logs role ARN must be set in account settings to enable logging"
        );
    }

    #[test]
    fn saved_stages_restore_including_removals() {
        let api = api();
        let mut stage = Stage::new("dev");
        stage.description = Some("from config".into());
        let mut changed = stage.clone();
        apply(
            &mut changed,
            &api,
            |d| d == "d1",
            &[
                op("remove", "/description", None),
                op("replace", "/*/*/logging/dataTrace", Some("true")),
            ],
            false,
            false,
        )
        .unwrap();
        let saved = stage_json(&changed, 1, 2);
        restore(&mut stage, &saved);
        assert_eq!(stage.description, None);
        assert!(stage.method_settings["*/*"].data_trace_enabled);
    }
}
