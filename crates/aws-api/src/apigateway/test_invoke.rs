//! TestInvokeMethod (`POST /restapis/{id}/resources/{rid}/methods/{m}`):
//! one request through the real data plane path, against the API's working
//! definition (deployed or not, as the console's Test button does), with
//! the execution log returned in the `log` member instead of being written
//! to CloudWatch Logs.
//!
//! The request runs as stage `test-invoke-stage` with INFO logging and data
//! trace, request id `test-invoke-request` and source IP
//! `test-invoke-source-ip`, as on AWS. The log starts with `Execution log
//! for request test-invoke-request` and prefixes every line with the
//! console's timestamp (`Sun Jan 19 17:19:42 UTC 2020 : `) rather than the
//! `(requestId) ` of CloudWatch; lines are not cut at 1 KB (unverified: the
//! console shows whole bodies).

use std::sync::Arc;

use bytes::Bytes;
use gatewatch_gateway::{DeployedApi, Snapshot, TestOverrides};
use gatewatch_logging::execution::{render, Verbosity};
use gatewatch_model::{LoggingLevel, MethodSetting, Stage};
use http_body_util::Full;
use serde_json::{json, Map, Value};

use super::resources;
use super::*;

/// The stage name a test invocation runs as.
const TEST_STAGE: &str = "test-invoke-stage";

/// `Sun Jan 19 17:19:42 UTC 2020` (Java's `Date.toString()` in UTC).
fn console_time(ms: i64) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day] [hour]:[minute]:[second] UTC [year]"
    );
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

impl ApiGatewayApi {
    pub(super) async fn test_invoke_method(
        &self,
        region: &str,
        id: &str,
        rid: &str,
        http_method: &str,
        body: &Value,
    ) -> Result<Value, RestError> {
        let current = self.deployments(region);
        let entry = &current.apis[self.api_index(&current, id)?];
        let draft = Arc::clone(&entry.api);
        let resource = resources::resource(&draft, rid)?;
        resources::method(resource, http_method)?;
        let path_and_query = body["pathWithQueryString"]
            .as_str()
            .filter(|p| !p.is_empty())
            .unwrap_or(&resource.path)
            .to_string();
        if !path_and_query.starts_with('/') {
            return Err(bad_request("pathWithQueryString must start with /"));
        }

        // The working definition served as a one-stage deployment.
        let mut stage = Stage::new(TEST_STAGE);
        stage.deployment_id = Some("test-invoke-deployment".into());
        stage.method_settings.insert(
            "*/*".into(),
            MethodSetting {
                logging_level: LoggingLevel::Info,
                data_trace_enabled: true,
                ..MethodSetting::default()
            },
        );
        if let Some(vars) = body["stageVariables"].as_object() {
            let ops = super::deployments::variable_ops(vars);
            super::stage::apply(&mut stage, &draft, |_| true, &ops, false, true)?;
        }
        let mut api = DeployedApi::undeployed(Arc::clone(&draft));
        let snapshot = Snapshot::new("test-invoke-deployment", Arc::clone(&draft), None, now_s());
        api.deployments
            .insert(snapshot.id.clone(), Arc::new(snapshot));
        api.stages.insert(TEST_STAGE.into(), Arc::new(stage));
        let deployments = gatewatch_gateway::Deployments {
            apis: vec![api],
            account_id: current.account_id.clone(),
            region: current.region.clone(),
        };

        // Checked before running: the path must reach this resource.
        let below = path_and_query.split('?').next().unwrap_or("/");
        let served = &deployments.apis[0].deployments["test-invoke-deployment"];
        match served.router.find(&served.api, below) {
            Some(m) if m.resource.id == rid => {}
            _ => {
                return Err(bad_request(format!(
                    "The path {below} does not lead to resource {} ({})",
                    rid, resource.path
                )))
            }
        }

        let method = if http_method == "ANY" {
            "GET"
        } else {
            http_method
        };
        let uri = format!("/restapis/{id}/{TEST_STAGE}/_user_request_{path_and_query}");
        let mut request = http::Request::builder().method(method).uri(uri);
        for (name, value) in body["headers"].as_object().into_iter().flatten() {
            request = request.header(name.as_str(), value.as_str().unwrap_or(""));
        }
        for (name, values) in body["multiValueHeaders"].as_object().into_iter().flatten() {
            for v in values.as_array().into_iter().flatten() {
                request = request.header(name.as_str(), v.as_str().unwrap_or(""));
            }
        }
        let payload = Bytes::from(body["body"].as_str().unwrap_or("").to_string());
        let request = request
            .body(Full::new(payload))
            .map_err(|e| bad_request(format!("The test request is not valid: {e}")))?;

        let started = std::time::Instant::now();
        let (parts, response_body, record) = self
            .gateway
            .test_invoke(deployments, request, TestOverrides::default())
            .await;
        let latency = started.elapsed().as_millis() as i64;

        let mut headers = Map::new();
        let mut multi: Map<String, Value> = Map::new();
        for (name, value) in &parts.headers {
            let v = value.to_str().unwrap_or("").to_string();
            let list = multi
                .entry(name.as_str().to_string())
                .or_insert_with(|| json!([]));
            if let Some(a) = list.as_array_mut() {
                a.push(json!(v));
            }
            headers.insert(canonical(name.as_str()), json!(v));
        }
        let multi: Map<String, Value> =
            multi.into_iter().map(|(k, v)| (canonical(&k), v)).collect();
        let mut log = String::from("Execution log for request test-invoke-request\n");
        if let Some(record) = record {
            let lines = render(
                &record.context,
                &record.events,
                Verbosity {
                    level: LoggingLevel::Info,
                    data_trace: true,
                    max_line_chars: Some(usize::MAX),
                },
            );
            let prefix = format!("({}) ", record.context.request_id);
            // The console's log starts at the execution: a test bypasses
            // API keys and usage plans, so their lines are not shown.
            let start = lines
                .iter()
                .position(|l| {
                    l.message
                        .strip_prefix(&prefix)
                        .unwrap_or(&l.message)
                        .starts_with("Starting execution")
                })
                .unwrap_or(0);
            for line in &lines[start..] {
                let text = line.message.strip_prefix(&prefix).unwrap_or(&line.message);
                log.push_str(&console_time(line.timestamp));
                log.push_str(" : ");
                log.push_str(text);
                log.push('\n');
            }
        }
        Ok(json!({
            "status": parts.status.as_u16(),
            "body": String::from_utf8_lossy(&response_body),
            "headers": headers,
            "multiValueHeaders": multi,
            "log": log,
            "latency": latency,
        }))
    }
}

/// `content-type` → `Content-Type`, as the console shows header names.
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_time_is_javas_date_format() {
        // 2020-01-19T17:19:42Z, the spec's example.
        assert_eq!(
            console_time(1_579_454_382_000),
            "Sun Jan 19 17:19:42 UTC 2020"
        );
        assert_eq!(canonical("x-amzn-requestid"), "X-Amzn-Requestid");
    }
}
