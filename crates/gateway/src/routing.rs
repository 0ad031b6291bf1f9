//! Resource matching as API Gateway does it: per path segment a literal child
//! beats a `{param}` child, which beats a greedy `{proxy+}` child; when a more
//! specific branch cannot match the rest of the path, the next one is tried.
//! Then the method: the exact method, else `ANY`.
//!
//! Once a resource matches, a missing method is not retried on a less
//! specific resource: API Gateway answers 403 Missing Authentication Token.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use gatewatch_model::{Method, PathPart, Resource, RestApi};
use percent_encoding::percent_decode_str;

/// A resource tree compiled for matching.
#[derive(Debug, Clone)]
pub struct Router {
    nodes: Vec<Node>,
    /// Per resource (same index as `RestApi::resources`): its path and id,
    /// shared with the request contexts that match it.
    names: Vec<ResourceNames>,
}

/// A resource's `$context.resourcePath` and `$context.resourceId`, made
/// once per deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceNames {
    /// The resource's path template (`/pets/{petId}`).
    pub path: Arc<str>,
    /// The resource's id.
    pub id: Arc<str>,
}

#[derive(Debug, Clone, Default)]
struct Node {
    /// Index into `RestApi::resources`.
    resource: usize,
    /// Literal children, sorted by segment for a binary search (a node has
    /// few children: cheaper than hashing the segment).
    literal: Vec<(Box<str>, usize)>,
    param: Option<(Arc<str>, usize)>,
    greedy: Option<(Arc<str>, usize)>,
}

/// A matched resource and the decoded path parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteMatch<'a> {
    /// The resource.
    pub resource: &'a Resource,
    /// Its index in the API's `resources`, for tasks that own the API.
    pub resource_index: usize,
    /// Its path and id, to share with the request context.
    pub names: &'a ResourceNames,
    /// Path parameters in template order, URL-decoded.
    pub path_parameters: Vec<(Arc<str>, String)>,
}

impl Router {
    /// Compiles the API's resource tree.
    pub fn new(api: &RestApi) -> Router {
        let mut nodes = Vec::with_capacity(api.resources.len());
        let mut by_id = HashMap::new();
        for (i, r) in api.resources.iter().enumerate() {
            by_id.insert(r.id.as_str(), nodes.len());
            nodes.push(Node {
                resource: i,
                ..Node::default()
            });
        }
        for r in &api.resources {
            let Some(parent) = r.parent_id.as_deref().and_then(|p| by_id.get(p)) else {
                continue;
            };
            let me = by_id[r.id.as_str()];
            let node = &mut nodes[*parent];
            match PathPart::parse(&r.path_part) {
                PathPart::Literal(lit) => {
                    match node.literal.binary_search_by(|(l, _)| (**l).cmp(lit)) {
                        Ok(at) => node.literal[at].1 = me,
                        Err(at) => node.literal.insert(at, (lit.into(), me)),
                    }
                }
                PathPart::Param(name) => node.param = Some((Arc::from(name), me)),
                PathPart::Greedy(name) => node.greedy = Some((Arc::from(name), me)),
            }
        }
        let names = api
            .resources
            .iter()
            .map(|r| ResourceNames {
                path: Arc::from(r.path.as_str()),
                id: Arc::from(r.id.as_str()),
            })
            .collect();
        Router { nodes, names }
    }

    /// Matches a path relative to the stage (`/pets/1`, still URL-encoded).
    /// A trailing slash is ignored; `""` and `"/"` are the root resource.
    pub fn find<'a>(&'a self, api: &'a RestApi, path: &str) -> Option<RouteMatch<'a>> {
        if self.nodes.is_empty() {
            return None;
        }
        let trimmed = path.strip_prefix('/').unwrap_or(path);
        let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
        let mut params = Vec::new();
        let segments = (!trimmed.is_empty()).then_some(trimmed);
        let node = self.walk(0, segments, &mut params)?;
        let resource_index = self.nodes[node].resource;
        Some(RouteMatch {
            resource: &api.resources[resource_index],
            resource_index,
            names: &self.names[resource_index],
            path_parameters: params,
        })
    }

    /// The node the segments of `rest` lead to from `node`, or `None` when
    /// nothing matches. `rest` is the path below `node`, segments separated
    /// by `/` and each possibly empty; `rest` is `None` when the path ends
    /// at `node`.
    fn walk(
        &self,
        node: usize,
        rest: Option<&str>,
        params: &mut Vec<(Arc<str>, String)>,
    ) -> Option<usize> {
        let Some(rest) = rest else {
            return Some(node);
        };
        let (first, tail) = match rest.split_once('/') {
            Some((first, tail)) => (first, Some(tail)),
            None => (rest, None),
        };
        let n = &self.nodes[node];
        let decoded = decode(first);
        if let Ok(at) = n.literal.binary_search_by(|(l, _)| (**l).cmp(&decoded)) {
            if let Some(found) = self.walk(n.literal[at].1, tail, params) {
                return Some(found);
            }
        }
        if let Some((name, child)) = &n.param {
            if !first.is_empty() {
                params.push((Arc::clone(name), decoded.into_owned()));
                if let Some(found) = self.walk(*child, tail, params) {
                    return Some(found);
                }
                params.pop();
            }
        }
        if let Some((name, child)) = &n.greedy {
            let value = rest.split('/').map(decode).collect::<Vec<_>>().join("/");
            params.push((Arc::clone(name), value));
            return Some(*child);
        }
        None
    }
}

/// A path segment, URL-decoded; borrowed when it holds no escape (checked
/// first with one scan, the common case costing no decoder).
fn decode(segment: &str) -> Cow<'_, str> {
    if memchr::memchr(b'%', segment.as_bytes()).is_none() {
        return Cow::Borrowed(segment);
    }
    percent_decode_str(segment).decode_utf8_lossy()
}

/// The method a request uses on a resource: the exact method, else `ANY`.
pub fn select_method<'a>(resource: &'a Resource, http_method: &str) -> Option<&'a Method> {
    resource
        .methods
        .get(http_method)
        .or_else(|| resource.methods.get("ANY"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatewatch_model::Method;

    fn api(paths: &[(&str, &[&str])]) -> RestApi {
        let mut api = RestApi::new("abcdefghij", "t");
        for (path, methods) in paths {
            let r = api.ensure_resource(path);
            for m in *methods {
                r.methods.insert(
                    m.to_string(),
                    Method {
                        http_method: m.to_string(),
                        ..Method::default()
                    },
                );
            }
        }
        api
    }

    /// (request method, request path) → (resource template, method key, params) or None.
    #[test]
    fn precedence_table() {
        let api = api(&[
            ("/", &["GET"]),
            ("/pets", &["GET", "POST"]),
            ("/pets/{petId}", &["GET", "DELETE"]),
            ("/pets/mine", &["GET"]),
            ("/pets/{petId}/toys", &["ANY"]),
            ("/files/{path+}", &["GET"]),
            ("/{proxy+}", &["OPTIONS", "PUT"]),
            ("/a/b/c", &["GET"]),
            ("/a/{x}/d", &["GET"]),
        ]);
        let router = Router::new(&api);
        type Row<'a> = (
            &'a str,
            &'a str,
            Option<(&'a str, &'a str, &'a [(&'a str, &'a str)])>,
        );
        let table: &[Row] = &[
            ("GET", "/", Some(("/", "GET", &[]))),
            ("GET", "", Some(("/", "GET", &[]))),
            ("GET", "/pets", Some(("/pets", "GET", &[]))),
            ("GET", "/pets/", Some(("/pets", "GET", &[]))),
            ("POST", "/pets", Some(("/pets", "POST", &[]))),
            // literal beats param
            ("GET", "/pets/mine", Some(("/pets/mine", "GET", &[]))),
            (
                "GET",
                "/pets/42",
                Some(("/pets/{petId}", "GET", &[("petId", "42")])),
            ),
            // decoded parameter
            (
                "GET",
                "/pets/a%20b",
                Some(("/pets/{petId}", "GET", &[("petId", "a b")])),
            ),
            // ANY is the fallback for missing methods
            (
                "PATCH",
                "/pets/7/toys",
                Some(("/pets/{petId}/toys", "ANY", &[("petId", "7")])),
            ),
            // greedy takes the rest
            (
                "GET",
                "/files/a/b/c.txt",
                Some(("/files/{path+}", "GET", &[("path", "a/b/c.txt")])),
            ),
            // param beats greedy; greedy catches what nothing else does
            (
                "PUT",
                "/nothing/here",
                Some(("/{proxy+}", "PUT", &[("proxy", "nothing/here")])),
            ),
            // a literal branch that dead-ends backtracks to the param branch
            ("GET", "/a/zz/d", Some(("/a/{x}/d", "GET", &[("x", "zz")]))),
            ("GET", "/a/b/d", Some(("/a/{x}/d", "GET", &[("x", "b")]))),
            ("GET", "/a/b/c", Some(("/a/b/c", "GET", &[]))),
            // an escaped literal matches its decoded segment
            ("GET", "/pets/%6Dine", Some(("/pets/mine", "GET", &[]))),
            // an empty segment fills no parameter; the greedy resource
            // takes it with the rest
            (
                "PUT",
                "/pets//toys",
                Some(("/{proxy+}", "PUT", &[("proxy", "pets//toys")])),
            ),
            ("GET", "/pets//toys", None),
            (
                "GET",
                "/files//x%2Fy",
                Some(("/files/{path+}", "GET", &[("path", "/x/y")])),
            ),
            // resource matched, method missing, no ANY: no fallback to /{proxy+}
            ("PUT", "/pets", None),
            ("HEAD", "/pets", None),
            ("GET", "/nothing/here", None),
        ];
        for (method, path, expected) in table {
            let got = router.find(&api, path).and_then(|m| {
                select_method(m.resource, method).map(|meth| {
                    (
                        m.resource.path.clone(),
                        meth.http_method.clone(),
                        m.path_parameters.clone(),
                    )
                })
            });
            let expected = expected.map(|(r, m, p)| {
                (
                    r.to_string(),
                    m.to_string(),
                    p.iter()
                        .map(|(k, v)| (Arc::from(*k), v.to_string()))
                        .collect::<Vec<_>>(),
                )
            });
            assert_eq!(got, expected, "{method} {path}");
        }
    }

    #[test]
    fn no_root_method_and_empty_api() {
        let api = api(&[("/x", &["GET"])]);
        let router = Router::new(&api);
        let m = router.find(&api, "/").unwrap();
        assert_eq!(m.resource.path, "/");
        assert!(select_method(m.resource, "GET").is_none());
        assert!(router.find(&api, "/y").is_none());
    }
}
