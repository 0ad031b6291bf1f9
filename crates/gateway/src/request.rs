//! The method request as integrations and templates see it.

use std::sync::Arc;

use bytes::Bytes;
use gatewatch_model::Stage;
use http::HeaderMap;
use percent_encoding::percent_decode_str;

/// A client request after routing: method, decoded parameters, headers and
/// the (size-limited) body.
#[derive(Debug, Clone)]
pub struct MethodRequest {
    /// HTTP method as sent by the client.
    pub method: http::Method,
    /// Path parameters, decoded, in template order.
    pub path_parameters: Vec<(Arc<str>, String)>,
    /// Query string parameters, decoded, every value kept in order.
    pub query: Vec<(String, String)>,
    /// The raw query string (without `?`), passed through by proxies.
    pub raw_query: Option<String>,
    /// Request headers.
    pub headers: HeaderMap,
    /// Request body.
    pub body: Bytes,
    /// The stage serving the request (for `stageVariables`).
    pub stage: Arc<Stage>,
    /// Name of the resource's greedy path parameter (`proxy` for `{proxy+}`).
    pub greedy_parameter: Option<String>,
}

impl MethodRequest {
    /// The path parameters as name and value.
    pub fn path_parameter_pairs(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.path_parameters.iter().map(|(k, v)| (&**k, v.as_str()))
    }

    /// The query string parameters as name and value, in order.
    pub fn query_pairs(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.query.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The last value of a query parameter (what `queryStringParameters` keeps).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A path parameter.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.path_parameters
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a header, when it is valid text. A constant name
    /// (`http::header::CONTENT_TYPE`) is looked up without parsing it.
    pub fn header<K: http::header::AsHeaderName>(&self, name: K) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A stage variable.
    pub fn stage_variable(&self, name: &str) -> Option<&str> {
        self.stage.variables.get(name).map(String::as_str)
    }
}

/// Splits a query string into decoded pairs (`+` is a space), keeping repeats.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(k), decode_component(v))
        })
        .collect()
}

fn decode_component(s: &str) -> String {
    let spaced = s.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_keeps_every_value() {
        let q = parse_query("a=1&b=x+y&a=2&c&d=%2F");
        assert_eq!(
            q,
            [
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("a".into(), "2".into()),
                ("c".into(), String::new()),
                ("d".into(), "/".into())
            ]
        );
    }
}
