//! # gatewatch-model
//!
//! What an API *is*, independent of serving it: REST APIs, their resource
//! trees, methods, integrations, stages and gateway responses, shaped like
//! Amazon API Gateway's own resources; and the importer that builds them from
//! OpenAPI 3.0/3.1 or Swagger 2.0 documents (YAML or JSON) with the
//! `x-amazon-apigateway-*` extensions, reporting every problem with its JSON
//! pointer and line.
//!
//! This crate does no I/O: callers hand it text and get values back.
//!
//! ```
//! let yaml = r#"
//! openapi: 3.0.1
//! info: { title: demo, version: "1" }
//! paths:
//!   /hello:
//!     get:
//!       x-amazon-apigateway-integration:
//!         type: mock
//!         requestTemplates: { application/json: '{"statusCode": 200}' }
//!         responses: { default: { statusCode: "200" } }
//! "#;
//! let imported = gatewatch_model::import::import_document(yaml, &Default::default()).unwrap();
//! assert!(imported.api.resource("/hello").unwrap().methods.contains_key("GET"));
//! ```

pub mod api;
pub mod diagnostic;
pub mod export;
pub mod gateway_response;
pub mod id;
pub mod import;
pub mod source;
pub mod stage;

pub use api::{
    ApiKeySource, Integration, IntegrationResponse, IntegrationType, Method, MethodResponse,
    PassthroughBehavior, PathPart, Resource, RestApi,
};
pub use diagnostic::{Diagnostic, Severity};
pub use gateway_response::{GatewayResponse, GatewayResponseType};
pub use stage::{AccessLogSettings, LoggingLevel, MethodSetting, Stage};
