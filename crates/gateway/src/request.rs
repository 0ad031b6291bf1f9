//! The method request as integrations and templates see it.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use gatewatch_model::Stage;
use http::HeaderMap;
use percent_encoding::percent_decode_str;

use crate::context::RequestContext;

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

    /// The method request's headers as API Gateway's front end presents
    /// them to the method (the Lambda proxy event, the data trace's
    /// `Method request headers`): the client's headers in the order they
    /// came, named as received (this server reads names lowercased, as an
    /// HTTP/2 client sends them), without the connection's own framing
    /// headers; `Host` and `User-Agent` in the front end's spelling; then
    /// the headers the front end adds: `X-Amzn-Trace-Id` (the client's, else
    /// the request's trace id), `X-Forwarded-For` (the client's chain with
    /// the client's address appended), `X-Forwarded-Port` (from `Host`, else
    /// 80) and `X-Forwarded-Proto`.
    ///
    /// Observed on AWS: events list `Host`, `User-Agent`, `X-Amzn-Trace-Id`
    /// and `X-Forwarded-*` in that spelling next to lowercase names such as
    /// `origin` and `x-correlation-id`.
    ///
    /// A TestInvokeMethod request ([`RequestContext::test_invoke`]) has
    /// only the headers its caller gave, as given.
    pub fn front_end_headers(&self, ctx: &RequestContext) -> Vec<(String, String)> {
        let mut out = Vec::with_capacity(self.headers.len() + 4);
        self.visit_front_end_headers(ctx, |name, value| {
            out.push((name.to_string(), value.to_string()))
        });
        out
    }

    /// Calls `visit` with each of [`MethodRequest::front_end_headers`] in
    /// order, borrowing what it can (the data trace copies them straight
    /// into its list).
    pub fn visit_front_end_headers(&self, ctx: &RequestContext, mut visit: impl FnMut(&str, &str)) {
        // TestInvokeMethod requests skip the front end: the caller's
        // headers, as given.
        if ctx.test_invoke {
            for (name, value) in &self.headers {
                visit(name.as_str(), &String::from_utf8_lossy(value.as_bytes()));
            }
            return;
        }
        let mut trace = None;
        let mut forwarded = String::new();
        let mut port = None;
        for (name, value) in &self.headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            let name = match name.as_str() {
                "connection" | "keep-alive" | "proxy-connection" | "te" | "trailer"
                | "transfer-encoding" | "upgrade" | "x-forwarded-port" | "x-forwarded-proto" => {
                    continue
                }
                "x-amzn-trace-id" => {
                    trace.get_or_insert(value);
                    continue;
                }
                "x-forwarded-for" => {
                    let value = value.trim();
                    if !value.is_empty() {
                        forwarded.push_str(value);
                        forwarded.push_str(", ");
                    }
                    continue;
                }
                "host" => {
                    port = value
                        .rsplit_once(':')
                        .and_then(|(_, p)| p.parse::<u16>().ok());
                    "Host"
                }
                "user-agent" => "User-Agent",
                other => other,
            };
            visit(name, &value);
        }
        match trace {
            Some(client) => visit("X-Amzn-Trace-Id", &client),
            None => {
                let mut root = String::with_capacity(5 + ctx.xray_trace_id.len());
                root.push_str("Root=");
                root.push_str(&ctx.xray_trace_id);
                visit("X-Amzn-Trace-Id", &root);
            }
        }
        if forwarded.is_empty() {
            visit("X-Forwarded-For", &ctx.identity.source_ip);
        } else {
            forwarded.push_str(&ctx.identity.source_ip);
            visit("X-Forwarded-For", &forwarded);
        }
        let mut digits = itoa::Buffer::new();
        visit("X-Forwarded-Port", digits.format(port.unwrap_or(80)));
        visit("X-Forwarded-Proto", "http");
    }

    /// Whether API Gateway's front end sets the header `name`
    /// (`X-Amzn-Trace-Id`, `X-Forwarded-For`, `X-Forwarded-Port`,
    /// `X-Forwarded-Proto`), so its value is the front end's, not the
    /// client's.
    pub fn is_front_end_header(&self, name: &str) -> bool {
        const SET_BY_FRONT_END: [&str; 4] = [
            "x-amzn-trace-id",
            "x-forwarded-for",
            "x-forwarded-port",
            "x-forwarded-proto",
        ];
        SET_BY_FRONT_END
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
    }

    /// A header as a mapping (`method.request.header.NAME`,
    /// `$input.params('NAME')`) reads it: the ones API Gateway's front end
    /// sets (`X-Amzn-Trace-Id`, `X-Forwarded-For`, `X-Forwarded-Port`,
    /// `X-Forwarded-Proto`) as [`MethodRequest::front_end_headers`] gives
    /// them, any other as the client sent it.
    pub fn mapped_header<'a>(&'a self, name: &str, ctx: &RequestContext) -> Option<Cow<'a, str>> {
        if self.is_front_end_header(name) {
            // Only the one value is copied, not every header's.
            let mut found = None;
            self.visit_front_end_headers(ctx, |n, v| {
                if found.is_none() && n.eq_ignore_ascii_case(name) {
                    found = Some(v.to_string());
                }
            });
            return found.map(Cow::Owned);
        }
        self.header(name).map(Cow::Borrowed)
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
    fn the_front_end_names_and_adds_its_headers() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("host", "api.example.test:8443"),
            ("user-agent", "curl/8.5.0"),
            ("x-forwarded-for", "203.0.113.7"),
            ("connection", "keep-alive"),
            ("x-correlation-id", "abc"),
            ("x-forwarded-for", "198.51.100.2"),
            ("x-forwarded-proto", "gopher"),
            (
                "x-amzn-trace-id",
                "Root=1-5c755b5d-07b29b94e632d3da19d88789",
            ),
        ] {
            headers.append(
                http::HeaderName::from_static(name),
                http::HeaderValue::from_static(value),
            );
        }
        let request = MethodRequest {
            method: http::Method::GET,
            path_parameters: Vec::new(),
            query: Vec::new(),
            raw_query: None,
            headers,
            body: Bytes::new(),
            stage: Arc::new(Stage::new("dev")),
            greedy_parameter: None,
        };
        let mut ctx = RequestContext::default();
        ctx.identity.source_ip = "127.0.0.1".into();
        ctx.xray_trace_id = "1-00000000-000000000000000000000000".into();
        let seen = request.front_end_headers(&ctx);
        let seen: Vec<(&str, &str)> = seen.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(
            seen,
            [
                ("Host", "api.example.test:8443"),
                ("User-Agent", "curl/8.5.0"),
                ("x-correlation-id", "abc"),
                (
                    "X-Amzn-Trace-Id",
                    "Root=1-5c755b5d-07b29b94e632d3da19d88789"
                ),
                ("X-Forwarded-For", "203.0.113.7, 198.51.100.2, 127.0.0.1"),
                ("X-Forwarded-Port", "8443"),
                ("X-Forwarded-Proto", "http"),
            ]
        );

        // Without the client's: the request's trace id and port 80.
        let bare = MethodRequest {
            headers: HeaderMap::new(),
            ..request
        };
        let seen = bare.front_end_headers(&ctx);
        assert_eq!(seen[0].1, "Root=1-00000000-000000000000000000000000");
        assert_eq!(seen[1].1, "127.0.0.1");
        assert_eq!(seen[2].1, "80");
        assert_eq!(
            bare.mapped_header("X-Forwarded-For", &ctx).as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            bare.mapped_header("x-forwarded-proto", &ctx).as_deref(),
            Some("http")
        );
        assert_eq!(bare.mapped_header("host", &ctx), None);
        assert!(bare.is_front_end_header("X-Forwarded-Port") && !bare.is_front_end_header("Host"));

        // TestInvokeMethod: only what the caller gave.
        let mut headers = HeaderMap::new();
        headers.insert("content-type", http::HeaderValue::from_static("text/plain"));
        let invoked = MethodRequest { headers, ..bare };
        ctx.test_invoke = true;
        let seen = invoked.front_end_headers(&ctx);
        assert_eq!(
            seen,
            [("content-type".to_string(), "text/plain".to_string())]
        );
        assert_eq!(invoked.mapped_header("X-Forwarded-For", &ctx), None);
    }

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
