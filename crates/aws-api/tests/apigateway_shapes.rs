//! Golden snapshots of the API Gateway management API's JSON: one success
//! shape per operation family, and the errors, from the real handler over a
//! real store and data plane (in process; the wire is covered by the
//! binary's end-to-end tests). Ids and dates are replaced by placeholders so
//! the snapshots are stable.

use std::sync::Arc;

use gatewatch_aws_api::apigateway::ApiGatewayApi;
use gatewatch_gateway::{Deployments, DiscardSink, Gateway, Limits};
use gatewatch_store::{Store, StoreConfig};
use http::{HeaderMap, Method};
use serde_json::{json, Value};

struct Harness {
    api: ApiGatewayApi,
    _dir: std::path::PathBuf,
}

impl Harness {
    fn new(tag: &str) -> Harness {
        let dir = std::env::temp_dir().join(format!("gw-shapes-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, StoreConfig::default()).unwrap();
        let deployments = Deployments {
            apis: Vec::new(),
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
        };
        let gateway = Arc::new(Gateway::new(
            deployments,
            Arc::new(DiscardSink),
            Limits::default(),
        ));
        Harness {
            api: ApiGatewayApi::new(gateway, store, "000000000000", "us-east-1", false),
            _dir: dir,
        }
    }

    /// Status, error type and the body with ids and dates redacted.
    async fn call(&self, method: Method, path: &str, body: Value) -> (u16, Value) {
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        let bytes = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let r = self
            .api
            .handle(&method, path, query, &HeaderMap::new(), &bytes)
            .await;
        let status = r.status().as_u16();
        let mut v: Value = if r.body().is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(r.body()).unwrap()
        };
        if let Some(t) = r.headers().get("x-amzn-errortype") {
            v["__type"] = json!(t.to_str().unwrap());
        }
        (status, v)
    }
}

/// Replaces values that change from run to run.
fn redact(v: &mut Value, ids: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match (k.as_str(), &*x) {
                    ("createdDate" | "lastUpdatedDate", _) => *x = json!("<date>"),
                    ("value", Value::String(s)) if s.len() == 40 => *x = json!("<key value>"),
                    (
                        "id" | "rootResourceId" | "parentId" | "deploymentId" | "keyId",
                        Value::String(s),
                    ) => {
                        let n = match ids.iter().position(|i| i == s) {
                            Some(n) => n,
                            None => {
                                ids.push(s.clone());
                                ids.len() - 1
                            }
                        };
                        *x = json!(format!("<id {n}>"));
                    }
                    _ => redact(x, ids),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| redact(x, ids)),
        _ => {}
    }
}

/// Replaces ids seen by [`redact`] inside other strings (`{apiId}/dev`).
fn redact_inside(v: &mut Value, ids: &[String]) {
    match v {
        Value::String(s) => {
            for (n, id) in ids.iter().enumerate() {
                if s.contains(id.as_str()) && !s.starts_with("<id") {
                    *s = s.replace(id.as_str(), &format!("<id {n}>"));
                }
            }
        }
        Value::Object(m) => m.values_mut().for_each(|x| redact_inside(x, ids)),
        Value::Array(a) => a.iter_mut().for_each(|x| redact_inside(x, ids)),
        _ => {}
    }
}

#[tokio::test]
async fn management_api_shapes() {
    let h = Harness::new("all");
    let mut ids = Vec::new();
    let mut out = Vec::new();
    let mut record = |name: &str, (status, mut body): (u16, Value), ids: &mut Vec<String>| {
        redact(&mut body, ids);
        redact_inside(&mut body, ids);
        out.push(json!({ "call": name, "status": status, "body": body }));
    };

    let created = h
        .call(
            Method::POST,
            "/restapis",
            json!({ "name": "Shapes", "description": "d" }),
        )
        .await;
    let id = created.1["id"].as_str().unwrap().to_string();
    let root = created.1["rootResourceId"].as_str().unwrap().to_string();
    record("CreateRestApi", created, &mut ids);
    let res = h
        .call(
            Method::POST,
            &format!("/restapis/{id}/resources/{root}"),
            json!({ "pathPart": "{name}" }),
        )
        .await;
    let rid = res.1["id"].as_str().unwrap().to_string();
    record("CreateResource", res, &mut ids);
    let m = format!("/restapis/{id}/resources/{rid}/methods/GET");
    record(
        "PutMethod",
        h.call(
            Method::PUT,
            &m,
            json!({ "authorizationType": "NONE", "apiKeyRequired": true }),
        )
        .await,
        &mut ids,
    );
    record(
        "PutMethodResponse",
        h.call(
            Method::PUT,
            &format!("{m}/responses/200"),
            json!({ "responseParameters": { "method.response.header.X-Name": true } }),
        )
        .await,
        &mut ids,
    );
    record(
        "PutIntegration",
        h.call(Method::PUT, &format!("{m}/integration"), json!({ "type": "HTTP", "httpMethod": "GET", "uri": "http://127.0.0.1:9/{name}", "requestParameters": { "integration.request.path.name": "method.request.path.name" } })).await,
        &mut ids,
    );
    record(
        "PutIntegrationResponse",
        h.call(Method::PUT, &format!("{m}/integration/responses/200"), json!({ "selectionPattern": "2\\d{2}", "responseParameters": { "method.response.header.X-Name": "integration.response.header.X-Name" } })).await,
        &mut ids,
    );
    record(
        "GetMethod",
        h.call(Method::GET, &m, Value::Null).await,
        &mut ids,
    );
    record(
        "GetResources(embed=methods)",
        h.call(
            Method::GET,
            &format!("/restapis/{id}/resources?embed=methods"),
            Value::Null,
        )
        .await,
        &mut ids,
    );
    record(
        "CreateDeployment",
        h.call(
            Method::POST,
            &format!("/restapis/{id}/deployments"),
            json!({ "stageName": "dev", "description": "first", "variables": { "v": "1" } }),
        )
        .await,
        &mut ids,
    );
    record(
        "GetDeployments(embed=apisummary)",
        h.call(
            Method::GET,
            &format!("/restapis/{id}/deployments?embed=apisummary"),
            Value::Null,
        )
        .await,
        &mut ids,
    );
    record(
        "GetStage",
        h.call(
            Method::GET,
            &format!("/restapis/{id}/stages/dev"),
            Value::Null,
        )
        .await,
        &mut ids,
    );
    record(
        "UpdateStage",
        h.call(
            Method::PATCH,
            &format!("/restapis/{id}/stages/dev"),
            json!({ "patchOperations": [
            { "op": "replace", "path": "/*/*/logging/loglevel", "value": "ERROR" },
            { "op": "replace", "path": "/~1{name}/GET/logging/dataTrace", "value": "true" }
        ] }),
        )
        .await,
        &mut ids,
    );
    record(
        "PutGatewayResponse",
        h.call(
            Method::PUT,
            &format!("/restapis/{id}/gatewayresponses/DEFAULT_4XX"),
            json!({ "statusCode": "418", "responseTemplates": { "application/json": "{}" } }),
        )
        .await,
        &mut ids,
    );
    record(
        "GetGatewayResponse(default)",
        h.call(
            Method::GET,
            &format!("/restapis/{id}/gatewayresponses/THROTTLED"),
            Value::Null,
        )
        .await,
        &mut ids,
    );
    let key = h
        .call(Method::POST, "/apikeys", json!({ "name": "k", "enabled": true, "stageKeys": [{ "restApiId": id, "stageName": "dev" }] }))
        .await;
    let key_id = key.1["id"].as_str().unwrap().to_string();
    record("CreateApiKey", key, &mut ids);
    let plan = h
        .call(Method::POST, "/usageplans", json!({ "name": "p", "apiStages": [{ "apiId": id, "stage": "dev" }], "throttle": { "burstLimit": 10, "rateLimit": 5.0 }, "quota": { "limit": 100, "period": "DAY" } }))
        .await;
    let plan_id = plan.1["id"].as_str().unwrap().to_string();
    record("CreateUsagePlan", plan, &mut ids);
    record(
        "CreateUsagePlanKey",
        h.call(
            Method::POST,
            &format!("/usageplans/{plan_id}/keys"),
            json!({ "keyId": key_id, "keyType": "API_KEY" }),
        )
        .await,
        &mut ids,
    );
    record(
        "GetApiKeys(limit=1)",
        h.call(Method::GET, "/apikeys?limit=1", Value::Null).await,
        &mut ids,
    );

    // Errors.
    record(
        "GetRestApi(unknown)",
        h.call(Method::GET, "/restapis/nosuchapi0", Value::Null)
            .await,
        &mut ids,
    );
    record(
        "CreateResource(duplicate)",
        h.call(
            Method::POST,
            &format!("/restapis/{id}/resources/{root}"),
            json!({ "pathPart": "{name}" }),
        )
        .await,
        &mut ids,
    );
    record(
        "PutIntegration(bad timeout)",
        h.call(
            Method::PUT,
            &format!("{m}/integration"),
            json!({ "type": "MOCK", "timeoutInMillis": 30000 }),
        )
        .await,
        &mut ids,
    );
    record(
        "UpdateStage(bad level)",
        h.call(Method::PATCH, &format!("/restapis/{id}/stages/dev"), json!({ "patchOperations": [{ "op": "replace", "path": "/*/*/logging/loglevel", "value": "LOUD" }] })).await,
        &mut ids,
    );
    record(
        "UpdateStage(bad ARN)",
        h.call(Method::PATCH, &format!("/restapis/{id}/stages/dev"), json!({ "patchOperations": [{ "op": "replace", "path": "/accessLogSettings/destinationArn", "value": "nope" }] })).await,
        &mut ids,
    );
    let empty = h
        .call(Method::POST, "/restapis", json!({ "name": "Empty" }))
        .await;
    let empty_id = empty.1["id"].as_str().unwrap().to_string();
    record(
        "CreateDeployment(no methods)",
        h.call(
            Method::POST,
            &format!("/restapis/{empty_id}/deployments"),
            json!({}),
        )
        .await,
        &mut ids,
    );
    record(
        "GetUsagePlan(unknown)",
        h.call(Method::GET, "/usageplans/nope", Value::Null).await,
        &mut ids,
    );
    insta::assert_json_snapshot!(out);
}
