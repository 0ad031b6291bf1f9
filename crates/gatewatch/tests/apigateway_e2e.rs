//! End-to-end: the official AWS SDK for Rust (`aws-sdk-apigateway`) against
//! the real binary's API Gateway management API — stages and logging
//! settings changed live, effective on the next request, kept across a
//! restart.

mod common;

use std::time::Duration;

use aws_sdk_apigateway::types::{Op, PatchOperation};
use common::Gatewatch;

fn patch(op: Op, path: &str, value: Option<&str>) -> PatchOperation {
    let mut b = PatchOperation::builder().op(op).path(path);
    if let Some(v) = value {
        b = b.value(v);
    }
    b.build()
}

/// Execution-log events of the example API's dev stage.
async fn execution_lines(gw: &Gatewatch, group: &str) -> Vec<String> {
    let logs = common::logs_client(gw, "us-east-1");
    match logs.filter_log_events().log_group_name(group).send().await {
        Ok(page) => page
            .events()
            .iter()
            .filter_map(|e| e.message().map(str::to_string))
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stages_and_logging_change_live_and_persist() {
    let dir = common::temp_dir("apigw");
    let mut gw = Gatewatch::start_in(&dir, &["-q"]);
    let apigw = common::apigateway_client(&gw, "us-east-1");

    let apis = apigw.get_rest_apis().send().await.unwrap();
    let api = &apis.items()[0];
    let id = api.id().unwrap().to_string();
    assert!(api.name().is_some());
    let stages = apigw.get_stages().rest_api_id(&id).send().await.unwrap();
    let dev = stages
        .item()
        .iter()
        .find(|s| s.stage_name() == Some("dev"))
        .expect("dev stage");
    assert!(dev.deployment_id().is_some());

    // Resources, methods and integrations as imported.
    let resources = apigw
        .get_resources()
        .rest_api_id(&id)
        .embed("methods")
        .send()
        .await
        .unwrap();
    let pets = resources
        .items()
        .iter()
        .find(|r| r.path() == Some("/pets"))
        .expect("/pets resource");
    let get = &pets.resource_methods().unwrap()["GET"];
    assert_eq!(get.http_method(), Some("GET"));
    let integration = apigw
        .get_integration()
        .rest_api_id(&id)
        .resource_id(pets.id().unwrap())
        .http_method("GET")
        .send()
        .await
        .unwrap();
    assert_eq!(
        integration.r#type(),
        Some(&aws_sdk_apigateway::types::IntegrationType::Mock)
    );
    let e = apigw
        .get_method()
        .rest_api_id(&id)
        .resource_id(pets.id().unwrap())
        .http_method("PATCH")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_not_found_exception(), "{e:?}");

    // Export, and the export imports back to the same API.
    let exported = apigw
        .get_export()
        .rest_api_id(&id)
        .stage_name("dev")
        .export_type("oas30")
        .parameters("extensions", "apigateway")
        .send()
        .await
        .unwrap();
    let text = String::from_utf8(exported.body().unwrap().as_ref().to_vec()).unwrap();
    // (The Rust SDK always asks for JSON; YAML is served to `Accept: application/yaml`.)
    assert_eq!(exported.content_type(), Some("application/json"));
    let again = gatewatch_model::import::import_document(&text, &Default::default())
        .expect("the export imports")
        .api;
    assert_eq!(again.id, id);
    assert!(text.contains("x-amazon-apigateway-integration"));

    // The bundled example logs at INFO; turn execution logging off live.
    let updated = apigw
        .update_stage()
        .rest_api_id(&id)
        .stage_name("dev")
        .patch_operations(patch(Op::Replace, "/*/*/logging/loglevel", Some("OFF")))
        .patch_operations(patch(Op::Replace, "/*/*/logging/dataTrace", Some("false")))
        .patch_operations(patch(Op::Replace, "/variables/color", Some("blue")))
        .send()
        .await
        .unwrap();
    let all = &updated.method_settings().unwrap()["*/*"];
    assert_eq!(all.logging_level(), Some("OFF"));
    assert!(!all.data_trace_enabled());
    assert_eq!(updated.variables().unwrap()["color"], "blue");

    let group = format!("API-Gateway-Execution-Logs_{id}/dev");
    let before = execution_lines(&gw, &group).await.len();
    assert_eq!(common::get(gw.data, "/dev/pets").status, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        execution_lines(&gw, &group).await.len(),
        before,
        "logging OFF writes no execution lines"
    );

    // ERROR level: a healthy request writes nothing.
    apigw
        .update_stage()
        .rest_api_id(&id)
        .stage_name("dev")
        .patch_operations(patch(Op::Replace, "/*/*/logging/loglevel", Some("ERROR")))
        .send()
        .await
        .unwrap();
    assert_eq!(common::get(gw.data, "/dev/pets").status, 200);
    let mut lines = Vec::new();
    for _ in 0..100 {
        lines = execution_lines(&gw, &group).await;
        if lines.len() > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    // INFO brings the lines back.
    assert_eq!(lines.len(), before);
    apigw
        .update_stage()
        .rest_api_id(&id)
        .stage_name("dev")
        .patch_operations(patch(Op::Replace, "/*/*/logging/loglevel", Some("INFO")))
        .send()
        .await
        .unwrap();
    assert_eq!(common::get(gw.data, "/dev/pets").status, 200);
    for _ in 0..100 {
        lines = execution_lines(&gw, &group).await;
        if lines.len() > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert!(
        lines
            .iter()
            .skip(before)
            .any(|l| l.contains("Method completed with status: 200")),
        "{lines:?}"
    );

    // Access logging: a bad format is refused with AWS's error type; removal works.
    let e = apigw
        .update_stage()
        .rest_api_id(&id)
        .stage_name("dev")
        .patch_operations(patch(
            Op::Replace,
            "/accessLogSettings/format",
            Some("$context.status"),
        ))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_bad_request_exception(), "{e:?}");
    assert!(format!("{e:?}").contains("requestId"));
    let e = apigw
        .update_stage()
        .rest_api_id(&id)
        .stage_name("dev")
        .patch_operations(patch(Op::Replace, "/*/*/logging/loglevel", Some("LOUD")))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_bad_request_exception(), "{e:?}");
    let e = apigw
        .get_stage()
        .rest_api_id(&id)
        .stage_name("nope")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_not_found_exception(), "{e:?}");
    let e = apigw
        .get_rest_api()
        .rest_api_id("zzzzzzzzzz")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_not_found_exception(), "{e:?}");

    // A per-method override with a ~1-escaped resource path.
    let updated = apigw
        .update_stage()
        .rest_api_id(&id)
        .stage_name("dev")
        .patch_operations(patch(
            Op::Replace,
            "/~1pets/GET/logging/loglevel",
            Some("ERROR"),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        updated.method_settings().unwrap()["pets/GET"].logging_level(),
        Some("ERROR")
    );

    // The account's CloudWatch role.
    let account = apigw
        .update_account()
        .patch_operations(patch(
            Op::Replace,
            "/cloudwatchRoleArn",
            Some("arn:aws:iam::000000000000:role/apigw-logs"),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        account.cloudwatch_role_arn(),
        Some("arn:aws:iam::000000000000:role/apigw-logs")
    );

    // Import a new API, give it a stage, call it; delete it again.
    let doc = r#"
openapi: 3.0.1
info: { title: Imported Echo, version: "2" }
paths:
  /echo:
    get:
      responses: { "200": { description: ok } }
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: { application/json: '{"statusCode": 200}' }
        responses:
          default:
            statusCode: "200"
            responseTemplates: { application/json: '{"echo": true}' }
"#;
    let imported = apigw
        .import_rest_api()
        .body(aws_sdk_apigateway::primitives::Blob::new(doc.as_bytes()))
        .send()
        .await
        .unwrap();
    let new_id = imported.id().unwrap().to_string();
    assert_eq!(imported.name(), Some("Imported Echo"));
    // An import is not served until it is deployed, as on AWS.
    let d = apigw
        .get_deployments()
        .rest_api_id(&new_id)
        .send()
        .await
        .unwrap();
    assert!(d.items().is_empty());
    let first = apigw
        .create_deployment()
        .rest_api_id(&new_id)
        .stage_name("v2")
        .description("first")
        .send()
        .await
        .unwrap();
    let first_id = first.id().unwrap().to_string();
    assert_eq!(first_id.len(), 6);
    let echo = common::get(gw.data, "/v2/echo");
    assert_eq!(echo.status, 200);
    assert!(echo.text().contains("\"echo\": true"), "{}", echo.text());
    // Merge one more route in, rename the API; the stage keeps serving.
    let more = doc
        .replace("/echo:", "/echo2:")
        .replace("Imported Echo", "More");
    apigw
        .put_rest_api()
        .rest_api_id(&new_id)
        .mode(aws_sdk_apigateway::types::PutMode::Merge)
        .body(aws_sdk_apigateway::primitives::Blob::new(more.as_bytes()))
        .send()
        .await
        .unwrap();
    // The stage still serves its deployment: the merged route needs a new one.
    assert_eq!(common::get(gw.data, "/v2/echo2").status, 403);
    let second = apigw
        .create_deployment()
        .rest_api_id(&new_id)
        .stage_name("v2")
        .send()
        .await
        .unwrap();
    assert_eq!(common::get(gw.data, "/v2/echo2").status, 200);
    assert_eq!(common::get(gw.data, "/v2/echo").status, 200);
    let v2 = apigw
        .get_stage()
        .rest_api_id(&new_id)
        .stage_name("v2")
        .send()
        .await
        .unwrap();
    assert_eq!(v2.deployment_id(), second.id());
    // The old deployment can go; the one a stage serves cannot.
    let e = apigw
        .delete_deployment()
        .rest_api_id(&new_id)
        .deployment_id(second.id().unwrap())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_bad_request_exception(), "{e:?}");
    apigw
        .delete_deployment()
        .rest_api_id(&new_id)
        .deployment_id(&first_id)
        .send()
        .await
        .unwrap();
    let renamed = apigw
        .update_rest_api()
        .rest_api_id(&new_id)
        .patch_operations(patch(Op::Replace, "/name", Some("Echo Renamed")))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.name(), Some("Echo Renamed"));
    let empty = apigw
        .create_rest_api()
        .name("Empty One")
        .send()
        .await
        .unwrap();
    assert_eq!(empty.name(), Some("Empty One"));
    let e = apigw
        .import_rest_api()
        .body(aws_sdk_apigateway::primitives::Blob::new(
            &b"openapi: 3.0.1\npaths: {"[..],
        ))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_bad_request_exception(), "{e:?}");

    // A new stage serves the same API at once; a deleted one stops.
    let deployments = apigw
        .get_deployments()
        .rest_api_id(&id)
        .send()
        .await
        .unwrap();
    let deployment_id = deployments.items()[0].id().unwrap().to_string();
    let created = apigw
        .create_stage()
        .rest_api_id(&id)
        .stage_name("prod")
        .deployment_id(&deployment_id)
        .variables("upstream", "http://127.0.0.1:9/none")
        .send()
        .await
        .unwrap();
    assert_eq!(created.stage_name(), Some("prod"));
    assert_eq!(common::get(gw.data, "/prod/pets").status, 200);
    let e = apigw
        .create_stage()
        .rest_api_id(&id)
        .stage_name("prod")
        .deployment_id(&deployment_id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_conflict_exception(), "{e:?}");
    apigw
        .create_stage()
        .rest_api_id(&id)
        .stage_name("scratch")
        .deployment_id(&deployment_id)
        .send()
        .await
        .unwrap();
    apigw
        .delete_stage()
        .rest_api_id(&id)
        .stage_name("scratch")
        .send()
        .await
        .unwrap();
    assert_eq!(common::get(gw.data, "/scratch/pets").status, 403);

    // Everything survives a restart.
    gw.signal("TERM");
    assert_eq!(gw.wait_exit(Duration::from_secs(20)), Some(0));
    let gw = Gatewatch::start_in(&dir, &["-q"]);
    let apigw = common::apigateway_client(&gw, "us-east-1");
    let stage = apigw
        .get_stage()
        .rest_api_id(&id)
        .stage_name("dev")
        .send()
        .await
        .unwrap();
    let settings = stage.method_settings().unwrap();
    assert_eq!(settings["*/*"].logging_level(), Some("INFO"));
    assert_eq!(settings["pets/GET"].logging_level(), Some("ERROR"));
    assert_eq!(stage.variables().unwrap()["color"], "blue");
    let account = apigw.get_account().send().await.unwrap();
    assert!(account.cloudwatch_role_arn().is_some());
    // The imported API, its merged route, name and stage are back.
    assert_eq!(common::get(gw.data, "/v2/echo").status, 200);
    assert_eq!(common::get(gw.data, "/v2/echo2").status, 200);
    let back = apigw
        .get_rest_api()
        .rest_api_id(&new_id)
        .send()
        .await
        .unwrap();
    assert_eq!(back.name(), Some("Echo Renamed"));
    let names: Vec<String> = apigw
        .get_rest_apis()
        .send()
        .await
        .unwrap()
        .items()
        .iter()
        .filter_map(|a| a.name().map(str::to_string))
        .collect();
    assert!(names.contains(&"Empty One".to_string()), "{names:?}");
    apigw
        .delete_rest_api()
        .rest_api_id(&new_id)
        .send()
        .await
        .unwrap();
    assert_eq!(common::get(gw.data, "/v2/echo").status, 403);
    // The created stage is back, the deleted one stays gone.
    assert_eq!(common::get(gw.data, "/prod/pets").status, 200);
    assert_eq!(common::get(gw.data, "/scratch/pets").status, 403);
    drop(gw);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn strict_mode_needs_the_cloudwatch_role() {
    let gw = Gatewatch::start(&["-q", "--strict-aws"]);
    let apigw = common::apigateway_client(&gw, "us-east-1");
    let id = apigw.get_rest_apis().send().await.unwrap().items()[0]
        .id()
        .unwrap()
        .to_string();
    let e = apigw
        .update_stage()
        .rest_api_id(&id)
        .stage_name("dev")
        .patch_operations(patch(Op::Replace, "/*/*/logging/loglevel", Some("INFO")))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_bad_request_exception(), "{e:?}");
    assert_eq!(
        aws_sdk_apigateway::error::ProvideErrorMetadata::message(&e),
        Some("CloudWatch Logs role ARN must be set in account settings to enable logging")
    );
    apigw
        .update_account()
        .patch_operations(patch(
            Op::Replace,
            "/cloudwatchRoleArn",
            Some("arn:aws:iam::000000000000:role/apigw-logs"),
        ))
        .send()
        .await
        .unwrap();
    apigw
        .update_stage()
        .rest_api_id(&id)
        .stage_name("dev")
        .patch_operations(patch(Op::Replace, "/*/*/logging/loglevel", Some("INFO")))
        .send()
        .await
        .unwrap();
}
