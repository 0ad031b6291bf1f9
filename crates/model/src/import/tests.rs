use super::*;
use crate::api::{IntegrationType, PassthroughBehavior};

const OAS3: &str = include_str!("../../tests/fixtures/petstore-oas3.yaml");
const SWAGGER2: &str = include_str!("../../tests/fixtures/petstore-swagger2.json");
const BROKEN: &str = include_str!("../../tests/fixtures/broken.yaml");
const SYNTAX: &str = include_str!("../../tests/fixtures/syntax-error.yaml");

fn import(text: &str) -> Imported {
    match import_document(text, &ImportOptions::default()) {
        Ok(i) => i,
        Err(d) => panic!("import failed: {d:#?}"),
    }
}

fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics.iter().map(|d| format!("{d}\n")).collect()
}

#[test]
fn openapi3_fixture_imports_every_integration_type() {
    let imported = import(OAS3);
    let api = &imported.api;
    assert_eq!(api.name, "Pet Store");
    assert_eq!(api.id, stable_id(&["restapi", "Pet Store"]));
    let paths: Vec<_> = api.resources.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/", "/pets", "/pets/{petId}", "/files", "/files/{proxy+}"]
    );

    let list = &api.resource("/pets").unwrap().methods["GET"];
    assert_eq!(list.operation_name.as_deref(), Some("listPets"));
    assert_eq!(
        list.request_parameters
            .get("method.request.querystring.limit"),
        Some(&false)
    );
    let mock = list.integration.as_ref().unwrap();
    assert_eq!(mock.kind, IntegrationType::Mock);
    assert_eq!(mock.responses[0].status_code, "200");
    assert_eq!(
        mock.responses[0].response_parameters["method.response.header.x-source"],
        "'mock'"
    );

    let post = api.resource("/pets").unwrap().methods["POST"]
        .integration
        .clone()
        .unwrap();
    assert_eq!(post.kind, IntegrationType::Http);
    assert_eq!(post.timeout_ms, 5000);
    assert_eq!(
        post.passthrough_behavior,
        PassthroughBehavior::WhenNoTemplates
    );
    // `default` is always selected last.
    let patterns: Vec<_> = post
        .responses
        .iter()
        .map(|r| r.selection_pattern.clone())
        .collect();
    assert_eq!(patterns, [Some("2\\d{2}".to_string()), None]);

    let get = &api.resource("/pets/{petId}").unwrap().methods["GET"];
    assert_eq!(
        get.request_parameters.get("method.request.path.petId"),
        Some(&true)
    );
    let proxy = get.integration.as_ref().unwrap();
    assert_eq!(proxy.kind, IntegrationType::HttpProxy);
    assert_eq!(proxy.timeout_ms, 29_000);
    assert_eq!(
        proxy.uri.as_deref(),
        Some("${stageVariables.backend}/pets/{id}")
    );

    let any = &api.resource("/files/{proxy+}").unwrap().methods["ANY"];
    assert_eq!(
        any.integration.as_ref().unwrap().kind,
        IntegrationType::AwsProxy
    );

    assert_eq!(
        api.binary_media_types,
        ["image/png", "application/octet-stream"]
    );
    let custom = &api.gateway_responses[&GatewayResponseType::MissingAuthenticationToken];
    assert_eq!(custom.status_code, Some(404));
    assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
}

#[test]
fn swagger2_fixture_imports() {
    let imported = import(SWAGGER2);
    let api = &imported.api;
    assert_eq!(api.name, "Swagger Pets");
    assert!(api.resource("/").unwrap().methods.contains_key("GET"));
    let delete = &api.resource("/items/{id}").unwrap().methods["DELETE"];
    assert!(delete.api_key_required);
    assert!(delete.method_responses.contains_key("204"));
    assert_eq!(
        delete.integration.as_ref().unwrap().kind,
        IntegrationType::HttpProxy
    );
}

#[test]
fn same_title_same_id_and_explicit_id() {
    assert_eq!(import(OAS3).api.id, import(OAS3).api.id);
    let fixed = import_document(
        OAS3,
        &ImportOptions {
            rest_api_id: Some("abc1234567".into()),
        },
    )
    .unwrap();
    assert_eq!(fixed.api.id, "abc1234567");
    let bad = import_document(
        OAS3,
        &ImportOptions {
            rest_api_id: Some("ABC".into()),
        },
    )
    .unwrap_err();
    assert!(bad[0].message.contains("Invalid restApiId"));
}

#[test]
fn broken_fixture_lists_every_problem_with_its_line() {
    let diagnostics = import_document(BROKEN, &ImportOptions::default()).unwrap_err();
    insta::assert_snapshot!(render(&diagnostics));
}

#[test]
fn syntax_errors_name_the_line() {
    let diagnostics = import_document(SYNTAX, &ImportOptions::default()).unwrap_err();
    assert_eq!(diagnostics.len(), 1);
    insta::assert_snapshot!(render(&diagnostics));
}

#[test]
fn not_an_openapi_document() {
    let d = import_document("just a string", &ImportOptions::default()).unwrap_err();
    assert_eq!(
        d[0].message,
        "The document must be an OpenAPI or Swagger object"
    );
    let d = import_document(
        "openapi: 2.5\ninfo: {title: t}\n",
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(
        d[0].message.contains("Unsupported OpenAPI version"),
        "{}",
        d[0]
    );
    let d =
        import_document("{\"info\": {\"title\": \"t\"}}", &ImportOptions::default()).unwrap_err();
    assert!(d[0].message.contains("Missing 'openapi'"));
}

#[test]
fn unknown_extensions_warn_only() {
    let text = "openapi: 3.0.1\ninfo: {title: t, version: '1'}\nx-amazon-apigateway-shiny: 1\npaths:\n  /a:\n    get:\n      x-amazon-apigateway-request-validator: all\n      x-amazon-apigateway-integration: {type: mock, responses: {default: {statusCode: '200'}}}\n";
    let imported = import(text);
    let messages: Vec<_> = imported.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "warning: line 3, /x-amazon-apigateway-shiny: Unknown extension x-amazon-apigateway-shiny is ignored",
            "warning: line 7, /paths/~1a/get/x-amazon-apigateway-request-validator: x-amazon-apigateway-request-validator is not supported by Gatewatch yet and is ignored",
        ]
    );
}

#[test]
fn hostile_inputs_never_panic() {
    for text in [
        "",
        "---",
        "[]",
        "openapi: 3.0.1\npaths: 7",
        "openapi: 3.0.1\ninfo: {title: t}\npaths: {/a: [1]}",
        "openapi: 3.0.1\ninfo: {title: t}\npaths: {/a: {get: 1}}",
        "openapi: 3.0.1\ninfo: {title: t}\npaths: {/a: {get: {x-amazon-apigateway-integration: 3}}}",
        "openapi: 3.0.1\ninfo: {title: t}\npaths: {/a: {parameters: [{$ref: '#/nope'}]}}",
        "openapi: 3.0.1\ninfo: {title: t}\npaths: {'/{}': {}}",
        "{\"openapi\": \"3.0.1\", \"paths\": {\"/\\u0000\": {}}}",
        "a: &x [*x]",
    ] {
        let _ = import_document(text, &ImportOptions::default());
    }
}
