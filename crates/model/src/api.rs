//! The REST API model: an API, its resource tree, methods and integrations,
//! shaped like API Gateway's own resources (RestApi, Resource, Method,
//! Integration, IntegrationResponse).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::gateway_response::{GatewayResponse, GatewayResponseType};
use crate::id::stable_id;

/// The HTTP methods API Gateway accepts on a resource; `ANY` stands for all.
pub const HTTP_METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "ANY",
];

/// A REST API: the unit that gets an id and is deployed to stages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestApi {
    /// 10 lowercase alphanumerics, e.g. `a1b2c3d4e5`.
    pub id: String,
    /// `info.title` of the imported document.
    pub name: String,
    /// `info.description`.
    pub description: Option<String>,
    /// `info.version`.
    pub version: Option<String>,
    /// Every resource, parents before children, root (`/`) first.
    pub resources: Vec<Resource>,
    /// Media types served as binary (`x-amazon-apigateway-binary-media-types`).
    pub binary_media_types: Vec<String>,
    /// Where API keys are read from.
    pub api_key_source: ApiKeySource,
    /// Customised gateway responses.
    pub gateway_responses: BTreeMap<GatewayResponseType, GatewayResponse>,
}

impl RestApi {
    /// An API with only the root resource.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> RestApi {
        let id = id.into();
        let root = Resource {
            id: stable_id(&[&id, "/"]),
            parent_id: None,
            path_part: String::new(),
            path: "/".to_string(),
            methods: BTreeMap::new(),
        };
        RestApi {
            id,
            name: name.into(),
            description: None,
            version: None,
            resources: vec![root],
            binary_media_types: Vec::new(),
            api_key_source: ApiKeySource::Header,
            gateway_responses: BTreeMap::new(),
        }
    }

    /// The resource with this exact path (`/pets/{petId}`).
    pub fn resource(&self, path: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.path == path)
    }

    /// Returns the resource at `path`, creating it and any missing parents.
    /// `path` must start with `/` and have no empty segments.
    pub fn ensure_resource(&mut self, path: &str) -> &mut Resource {
        if let Some(i) = self.resources.iter().position(|r| r.path == path) {
            return &mut self.resources[i];
        }
        let (parent_path, part) = match path.rfind('/') {
            Some(0) => ("/", &path[1..]),
            Some(i) => (&path[..i], &path[i + 1..]),
            None => ("/", path),
        };
        let parent_id = self.ensure_resource(parent_path).id.clone();
        let resource = Resource {
            id: stable_id(&[&self.id, path]),
            parent_id: Some(parent_id),
            path_part: part.to_string(),
            path: path.to_string(),
            methods: BTreeMap::new(),
        };
        self.resources.push(resource);
        self.resources.last_mut().expect("just pushed")
    }

    /// True when a response of this content type is binary for this API.
    pub fn is_binary_media_type(&self, content_type: &str) -> bool {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        self.binary_media_types
            .iter()
            .any(|pattern| media_type_matches(pattern, &essence))
    }
}

/// `*/*`, `image/*` and exact matches, case-insensitive.
fn media_type_matches(pattern: &str, essence: &str) -> bool {
    let pattern = pattern.trim().to_ascii_lowercase();
    if pattern == "*/*" {
        return true;
    }
    match pattern.strip_suffix("/*") {
        Some(prefix) => essence
            .split_once('/')
            .is_some_and(|(top, _)| top == prefix),
        None => pattern == essence,
    }
}

/// `x-amazon-apigateway-api-key-source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ApiKeySource {
    /// The `x-api-key` header.
    #[default]
    Header,
    /// The `usageIdentifierKey` of a Lambda authorizer.
    Authorizer,
}

/// A node of the resource tree, e.g. `/pets/{petId}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// 10-character id (`$context.resourceId`).
    pub id: String,
    /// Parent resource id; `None` for the root.
    pub parent_id: Option<String>,
    /// The last path segment (`{petId}`); empty for the root.
    pub path_part: String,
    /// The full template path (`/pets/{petId}`), `$context.resourcePath`.
    pub path: String,
    /// HTTP method (upper case, or `ANY`) → method.
    pub methods: BTreeMap<String, Method>,
}

/// One kind of path segment in a resource template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPart<'a> {
    /// A literal segment, matched exactly.
    Literal(&'a str),
    /// `{name}`: one segment.
    Param(&'a str),
    /// `{name+}`: one or more segments.
    Greedy(&'a str),
}

impl<'a> PathPart<'a> {
    /// Classifies a path part.
    pub fn parse(part: &'a str) -> PathPart<'a> {
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) => match name.strip_suffix('+') {
                Some(greedy) => PathPart::Greedy(greedy),
                None => PathPart::Param(name),
            },
            None => PathPart::Literal(part),
        }
    }
}

/// A method on a resource.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Method {
    /// `GET`, `POST`, …, or `ANY`.
    pub http_method: String,
    /// `operationId`.
    pub operation_name: Option<String>,
    /// `NONE`, `AWS_IAM`, `CUSTOM`, `COGNITO_USER_POOLS`.
    pub authorization_type: String,
    /// Whether an API key is required.
    pub api_key_required: bool,
    /// `method.request.{location}.{name}` → required.
    pub request_parameters: BTreeMap<String, bool>,
    /// Status code → response.
    pub method_responses: BTreeMap<String, MethodResponse>,
    /// The backend; every deployable method has one.
    pub integration: Option<Integration>,
}

/// A declared method response.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MethodResponse {
    /// `method.response.header.{name}` → required.
    pub response_parameters: BTreeMap<String, bool>,
}

/// Integration type (`x-amazon-apigateway-integration.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IntegrationType {
    /// Answered by API Gateway itself.
    Mock,
    /// HTTP backend with request/response mapping.
    Http,
    /// HTTP backend, request and response passed through.
    HttpProxy,
    /// AWS service integration (Lambda non-proxy and others).
    Aws,
    /// Lambda proxy integration.
    AwsProxy,
}

impl IntegrationType {
    /// The upper-case name AWS uses (`HTTP_PROXY`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mock => "MOCK",
            Self::Http => "HTTP",
            Self::HttpProxy => "HTTP_PROXY",
            Self::Aws => "AWS",
            Self::AwsProxy => "AWS_PROXY",
        }
    }

    /// True for the proxy types, which pass responses through unmapped.
    pub fn is_proxy(self) -> bool {
        matches!(self, Self::HttpProxy | Self::AwsProxy)
    }
}

impl FromStr for IntegrationType {
    type Err = ();
    /// Case-insensitive, as the importer accepts `http_proxy` and `HTTP_PROXY`.
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.to_ascii_uppercase().as_str() {
            "MOCK" => Ok(Self::Mock),
            "HTTP" => Ok(Self::Http),
            "HTTP_PROXY" => Ok(Self::HttpProxy),
            "AWS" => Ok(Self::Aws),
            "AWS_PROXY" => Ok(Self::AwsProxy),
            _ => Err(()),
        }
    }
}

impl fmt::Display for IntegrationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `passthroughBehavior`: what happens to a request body whose content type
/// has no request template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PassthroughBehavior {
    /// Pass the body through when no template matches (the default).
    #[default]
    WhenNoMatch,
    /// Pass through only when the integration has no templates at all.
    WhenNoTemplates,
    /// Never pass through: no match → 415 Unsupported Media Type.
    Never,
}

impl FromStr for PassthroughBehavior {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.to_ascii_lowercase().as_str() {
            "when_no_match" => Ok(Self::WhenNoMatch),
            "when_no_templates" => Ok(Self::WhenNoTemplates),
            "never" => Ok(Self::Never),
            _ => Err(()),
        }
    }
}

/// The default and maximum integration timeout, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u32 = 29_000;
/// The minimum integration timeout, in milliseconds.
pub const MIN_TIMEOUT_MS: u32 = 50;

/// A method's integration with its backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Integration {
    /// The integration type.
    pub kind: IntegrationType,
    /// Method used towards the backend (`httpMethod`).
    pub http_method: Option<String>,
    /// Backend URI; may hold `{param}` and `${stageVariables.name}`.
    pub uri: Option<String>,
    /// `integration.request.{location}.{name}` → mapping expression.
    pub request_parameters: BTreeMap<String, String>,
    /// Content type → VTL template.
    pub request_templates: BTreeMap<String, String>,
    /// Body passthrough rule.
    pub passthrough_behavior: PassthroughBehavior,
    /// Timeout towards the backend, 50–29000 ms.
    pub timeout_ms: u32,
    /// `CONVERT_TO_TEXT` / `CONVERT_TO_BINARY`, when set.
    pub content_handling: Option<String>,
    /// Integration responses, in selection order (`default` last).
    pub responses: Vec<IntegrationResponse>,
    /// `tlsConfig.insecureSkipVerification`: accept any certificate from an
    /// HTTPS backend (self-signed, private CA, wrong host name).
    pub tls_insecure_skip_verification: bool,
}

impl Integration {
    /// An integration of `kind` with every optional field empty.
    pub fn new(kind: IntegrationType) -> Integration {
        Integration {
            kind,
            http_method: None,
            uri: None,
            request_parameters: BTreeMap::new(),
            request_templates: BTreeMap::new(),
            passthrough_behavior: PassthroughBehavior::default(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
            content_handling: None,
            responses: Vec::new(),
            tls_insecure_skip_verification: false,
        }
    }
}

/// One entry of an integration's `responses`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegrationResponse {
    /// Regex matched against the backend status (HTTP) or error message
    /// (Lambda); `None` is the default response.
    pub selection_pattern: Option<String>,
    /// Method response status this maps to.
    pub status_code: String,
    /// `method.response.header.{name}` → mapping expression.
    pub response_parameters: BTreeMap<String, String>,
    /// Content type → VTL template.
    pub response_templates: BTreeMap<String, String>,
    /// `CONVERT_TO_TEXT` / `CONVERT_TO_BINARY`, when set.
    pub content_handling: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_resource_builds_parents() {
        let mut api = RestApi::new("abcdefghij", "t");
        api.ensure_resource("/pets/{petId}/toys");
        let paths: Vec<_> = api.resources.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/", "/pets", "/pets/{petId}", "/pets/{petId}/toys"]);
        let toys = api.resource("/pets/{petId}/toys").unwrap();
        assert_eq!(toys.path_part, "toys");
        assert_eq!(
            toys.parent_id.as_deref(),
            Some(api.resource("/pets/{petId}").unwrap().id.as_str())
        );
    }

    #[test]
    fn path_parts_and_media_types() {
        assert_eq!(PathPart::parse("pets"), PathPart::Literal("pets"));
        assert_eq!(PathPart::parse("{id}"), PathPart::Param("id"));
        assert_eq!(PathPart::parse("{proxy+}"), PathPart::Greedy("proxy"));
        let mut api = RestApi::new("abcdefghij", "t");
        api.binary_media_types = vec!["image/*".into(), "application/octet-stream".into()];
        assert!(api.is_binary_media_type("image/png"));
        assert!(api.is_binary_media_type("Application/Octet-Stream; q=1"));
        assert!(!api.is_binary_media_type("application/json"));
    }
}
