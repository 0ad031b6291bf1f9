//! AWS JSON 1.1 plumbing: typed access to request members with AWS's error
//! shapes, and response/error encoding.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use serde_json::{Map, Value};

use gatewatch_store::StoreError;

/// An API error: `__type`, message, HTTP status, optional extra members.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// `__type`.
    pub error_type: &'static str,
    /// `message`.
    pub message: String,
    /// HTTP status (400 for client errors).
    pub status: u16,
    /// Extra members (e.g. `resourceName`), rarely present.
    pub extra: Option<Box<Map<String, Value>>>,
}

impl ApiError {
    /// A 400 error of `error_type`.
    pub fn new(error_type: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            error_type,
            message: message.into(),
            status: 400,
            extra: None,
        }
    }

    /// `InvalidParameterException`.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new("InvalidParameterException", message)
    }

    /// `SerializationException` (a member has the wrong JSON type).
    pub fn serialization(message: impl Into<String>) -> ApiError {
        ApiError::new("SerializationException", message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let mut err = ApiError::new(e.error_type(), e.to_string());
        match &e {
            StoreError::ServiceUnavailable(_) => err.status = 500,
            StoreError::TooManyTags { resource_name, .. } => {
                let mut extra = Map::new();
                extra.insert("resourceName".into(), Value::String(resource_name.clone()));
                err.extra = Some(Box::new(extra));
            }
            _ => {}
        }
        err
    }
}

/// Result of an operation: the output object.
pub type ApiResult = Result<Value, ApiError>;

/// A request's JSON members with typed accessors.
pub struct Input(pub Map<String, Value>);

impl Input {
    /// Parses the body (`{}` when empty).
    pub fn parse(body: &[u8]) -> Result<Input, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Input(Map::new()));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Input(map)),
            Ok(_) => Err(ApiError::serialization(
                "Start of structure or map found where not expected.",
            )),
            Err(e) => Err(ApiError::serialization(format!(
                "The request body is not valid JSON: {e}"
            ))),
        }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// An optional string member.
    pub fn opt_str(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            // Tokens have a minimum length of 1 (AWS's Coral message).
            Some(Value::String(s)) if s.is_empty() && name == "nextToken" => Err(constraint(
                "",
                name,
                "Member must have length greater than or equal to 1",
            )),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::serialization(format!(
                "Expected a string for '{name}'"
            ))),
        }
    }

    /// A required string member.
    pub fn str(&self, name: &str) -> Result<&str, ApiError> {
        self.opt_str(name)?.ok_or_else(|| missing(name))
    }

    /// An optional integer member.
    pub fn opt_i64(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
                .map(Some)
                .ok_or_else(|| {
                    ApiError::serialization(format!("Expected an integer for '{name}'"))
                }),
            Some(_) => Err(ApiError::serialization(format!(
                "Expected a number for '{name}'"
            ))),
        }
    }

    /// An optional boolean member.
    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::serialization(format!(
                "Expected a boolean for '{name}'"
            ))),
        }
    }

    /// An optional list of strings.
    pub fn opt_str_list(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str().map(String::from).ok_or_else(|| {
                        ApiError::serialization(format!("Expected strings in '{name}'"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(ApiError::serialization(format!(
                "Expected a list for '{name}'"
            ))),
        }
    }

    /// An optional map of strings.
    pub fn opt_str_map(
        &self,
        name: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, String>>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| {
                    v.as_str()
                        .map(|s| (k.clone(), s.to_string()))
                        .ok_or_else(|| {
                            ApiError::serialization(format!("Expected string values in '{name}'"))
                        })
                })
                .collect::<Result<_, _>>()
                .map(Some),
            Some(_) => Err(ApiError::serialization(format!(
                "Expected a map for '{name}'"
            ))),
        }
    }

    /// An optional timestamp member (milliseconds, at least 0).
    pub fn opt_timestamp(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.opt_i64(name)? {
            Some(t) if t < 0 => Err(constraint(
                &t.to_string(),
                name,
                "Member must have value greater than or equal to 0",
            )),
            other => Ok(other),
        }
    }

    /// A raw member.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }

    /// `limit` within `1..=max`, defaulting to `default`.
    pub fn limit(&self, max: i64, default: i64) -> Result<usize, ApiError> {
        match self.opt_i64("limit")? {
            None => Ok(default as usize),
            Some(n) if n < 1 => Err(constraint(
                &n.to_string(),
                "limit",
                "Member must have value greater than or equal to 1",
            )),
            Some(n) if n > max => Err(constraint(
                &n.to_string(),
                "limit",
                &format!("Member must have value less than or equal to {max}"),
            )),
            Some(n) => Ok(n as usize),
        }
    }
}

/// The Coral-style message for a missing required member.
pub fn missing(name: &str) -> ApiError {
    ApiError::invalid(format!(
        "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
    ))
}

/// The Coral-style message for a constraint failure.
pub fn constraint(value: &str, member: &str, rule: &str) -> ApiError {
    ApiError::invalid(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {rule}"
    ))
}

const JSON_11: &str = "application/x-amz-json-1.1";

/// Encodes a result as an HTTP response with `x-amzn-RequestId`.
pub fn respond(result: ApiResult, request_id: &str) -> Response<Bytes> {
    let (status, body) = match result {
        Ok(value) => (StatusCode::OK, value.to_string()),
        Err(e) => {
            let mut obj = Map::new();
            obj.insert("__type".into(), Value::String(e.error_type.to_string()));
            obj.insert("message".into(), Value::String(e.message));
            if let Some(extra) = e.extra {
                obj.extend(*extra);
            }
            (
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
                Value::Object(obj).to_string(),
            )
        }
    };
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(JSON_11),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    response
}
