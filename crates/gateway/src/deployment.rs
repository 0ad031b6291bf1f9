//! What the data plane serves: deployed APIs with their stages, and how a
//! request's host and path pick one.
//!
//! Three addressing forms, as in the design:
//! - `{restApiId}.execute-api.{anything}` host + `/{stage}/path`;
//! - `/restapis/{restApiId}/{stage}/_user_request_/path`;
//! - `/{stage}/path`, when exactly one API has that stage.

use std::collections::BTreeMap;
use std::sync::Arc;

use gatewatch_model::{RestApi, Stage};

use crate::routing::Router;

/// A deployment: an immutable snapshot of an API's definition, compiled for
/// serving. Stages point at one; changing the API's working definition
/// changes no deployment.
#[derive(Debug)]
pub struct Snapshot {
    /// Deployment id (`$context.deploymentId`).
    pub id: String,
    /// `description`.
    pub description: Option<String>,
    /// Seconds since the epoch.
    pub created_date: i64,
    /// The definition as it was deployed.
    pub api: Arc<RestApi>,
    /// Its compiled resource tree.
    pub router: Arc<Router>,
    /// The API's id, shared with every request context it serves (made by
    /// [`Snapshot::new`] from `api`).
    pub api_id: Arc<str>,
    /// [`Snapshot::id`], shared with every request context it serves (made
    /// by [`Snapshot::new`]).
    pub shared_id: Arc<str>,
}

impl Snapshot {
    /// Compiles `api` as deployment `id`.
    pub fn new(
        id: impl Into<String>,
        api: Arc<RestApi>,
        description: Option<String>,
        created_date: i64,
    ) -> Snapshot {
        let router = Router::new(&api);
        let id: String = id.into();
        Snapshot {
            api_id: Arc::from(api.id.as_str()),
            shared_id: Arc::from(id.as_str()),
            id,
            description,
            created_date,
            router: Arc::new(router),
            api,
        }
    }
}

/// One API as served: its working definition, its deployments and its
/// stages, each stage serving the deployment it points to.
#[derive(Debug, Clone)]
pub struct DeployedApi {
    /// The working definition: what the management API reads and changes;
    /// it is served only once deployed.
    pub api: Arc<RestApi>,
    /// Deployment id → snapshot.
    pub deployments: BTreeMap<String, Arc<Snapshot>>,
    /// Stage name → stage. The name is shared with the request contexts
    /// of the stage (no copy per request).
    pub stages: BTreeMap<Arc<str>, Arc<Stage>>,
}

impl DeployedApi {
    /// An API from configuration: its definition is deployed at once (the
    /// deployment id is derived from the API id, so it is the same on every
    /// start) and every stage without a deployment of its own serves it.
    pub fn new(api: RestApi, stages: Vec<Stage>) -> DeployedApi {
        let deployment_id = initial_deployment_id(&api.id);
        let api = Arc::new(api);
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let snapshot = Snapshot::new(deployment_id.clone(), Arc::clone(&api), None, created);
        let mut deployed = DeployedApi::undeployed(api);
        deployed
            .deployments
            .insert(deployment_id.clone(), Arc::new(snapshot));
        for mut s in stages {
            s.deployment_id.get_or_insert_with(|| deployment_id.clone());
            deployed
                .stages
                .insert(Arc::from(s.name.as_str()), Arc::new(s));
        }
        deployed
    }

    /// An API with no deployments and no stages (as ImportRestApi and
    /// CreateRestApi leave it).
    pub fn undeployed(api: Arc<RestApi>) -> DeployedApi {
        DeployedApi {
            api,
            deployments: BTreeMap::new(),
            stages: BTreeMap::new(),
        }
    }

    /// The definition whose gateway responses answer a request that matched
    /// no method: the named stage's deployment, else the newest deployment,
    /// else the working definition.
    pub fn served_api(&self, stage: Option<&str>) -> &RestApi {
        stage
            .and_then(|name| self.stages.get(name))
            .and_then(|s| self.deployment_of(s))
            .or_else(|| self.deployments.values().max_by_key(|d| d.created_date))
            .map_or(self.api.as_ref(), |d| d.api.as_ref())
    }

    /// The deployment a stage serves.
    pub fn deployment_of(&self, stage: &Stage) -> Option<&Arc<Snapshot>> {
        self.deployments.get(stage.deployment_id.as_deref()?)
    }
}

/// The id of the deployment an API from configuration starts with.
pub fn initial_deployment_id(api_id: &str) -> String {
    gatewatch_model::id::stable_id(&["deployment", api_id])
}

/// Every API the data plane serves.
#[derive(Debug, Clone, Default)]
pub struct Deployments {
    /// The APIs, in configuration order.
    pub apis: Vec<DeployedApi>,
    /// AWS account id used in ARNs and `$context.accountId` (shared with
    /// every request context).
    pub account_id: Arc<str>,
    /// AWS region used in ARNs.
    pub region: String,
}

/// Where a request goes: an API, one of its stages, and the path below the
/// stage (still URL-encoded).
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// The API.
    pub api: &'a DeployedApi,
    /// The stage.
    pub stage: &'a Arc<Stage>,
    /// The stage's name, as the API's stage map holds it.
    pub stage_name: &'a Arc<str>,
    /// The deployment the stage serves.
    pub deployment: &'a Arc<Snapshot>,
    /// Path below the stage, starting with `/` (`/pets/1`), or `/`.
    pub path: &'a str,
    /// `$context.path`: `/{stage}{path}`.
    pub context_path: String,
}

/// Why no target was found, to pick the API whose gateway responses apply.
#[derive(Debug, Clone)]
pub struct Miss<'a> {
    /// The API the request addressed, when it is known.
    pub api: Option<&'a DeployedApi>,
    /// Stage named in the request, when there is one.
    pub stage: Option<&'a str>,
}

impl Deployments {
    /// Resolves a request's `Host` and path (without the query).
    pub fn resolve<'a>(
        &'a self,
        host: Option<&str>,
        path: &'a str,
    ) -> Result<Target<'a>, Miss<'a>> {
        // /restapis/{id}/{stage}/_user_request_/rest
        if let Some(rest) = path.strip_prefix("/restapis/") {
            let mut parts = rest.splitn(3, '/');
            let id = parts.next().unwrap_or("");
            let stage = parts.next().unwrap_or("");
            let tail = parts.next().unwrap_or("");
            let api = self.apis.iter().find(|a| a.api.id == id);
            if let (Some(api), Some(below)) = (api, tail.strip_prefix("_user_request_")) {
                if below.is_empty() || below.starts_with('/') {
                    return self.target(api, stage, below);
                }
            }
            if api.is_some() {
                return Err(Miss {
                    api,
                    stage: Some(stage),
                });
            }
        }
        let (stage, below) = split_stage(path);
        if let Some(id) = host.and_then(api_id_from_host) {
            let api = self.apis.iter().find(|a| a.api.id == id);
            return match api {
                Some(api) => self.target(api, stage, below),
                None => Err(Miss {
                    api: None,
                    stage: Some(stage),
                }),
            };
        }
        let mut with_stage = self
            .apis
            .iter()
            .filter_map(|a| Some((a, a.stages.get_key_value(stage)?)));
        match (with_stage.next(), with_stage.next()) {
            // `/{stage}{below}` is the request's own path here.
            (Some((api, entry)), None) => Self::serve(api, entry, stage, below, Some(path)),
            _ => Err(Miss {
                api: (self.apis.len() == 1).then(|| &self.apis[0]),
                stage: Some(stage),
            }),
        }
    }

    fn target<'a>(
        &'a self,
        api: &'a DeployedApi,
        stage: &'a str,
        below: &'a str,
    ) -> Result<Target<'a>, Miss<'a>> {
        match api.stages.get_key_value(stage) {
            Some(entry) => Self::serve(api, entry, stage, below, None),
            None => Err(Miss {
                api: Some(api),
                stage: Some(stage),
            }),
        }
    }

    /// The target of `api`'s stage `entry` (named `stage` in the request),
    /// when the stage serves a deployment. `request_path` is the request's
    /// path when it is `/{stage}{below}` itself, so `$context.path` is a
    /// copy of it rather than put together again.
    fn serve<'a>(
        api: &'a DeployedApi,
        (name, s): (&'a Arc<str>, &'a Arc<Stage>),
        stage: &'a str,
        below: &'a str,
        request_path: Option<&str>,
    ) -> Result<Target<'a>, Miss<'a>> {
        let Some(deployment) = api.deployment_of(s) else {
            return Err(Miss {
                api: Some(api),
                stage: Some(stage),
            });
        };
        Ok(Target {
            api,
            stage: s,
            stage_name: name,
            deployment,
            path: if below.is_empty() { "/" } else { below },
            context_path: match request_path {
                Some(path) if path.starts_with('/') => path.to_owned(),
                _ => ["/", stage, below].concat(),
            },
        })
    }
}

/// `/dev/pets/1` → (`dev`, `/pets/1`); `/dev` → (`dev`, ``).
fn split_stage(path: &str) -> (&str, &str) {
    let rest = path.strip_prefix('/').unwrap_or(path);
    // A byte search: a stage name is a few bytes, shorter than the setup of
    // `str::find`'s searcher.
    match rest.bytes().position(|b| b == b'/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    }
}

/// `abcdefghij.execute-api.localhost:8080` → `abcdefghij`.
pub fn api_id_from_host(host: &str) -> Option<&str> {
    let dot = host.bytes().position(|b| b == b'.')?;
    let (id, rest) = (&host[..dot], &host[dot + 1..]);
    rest.starts_with("execute-api.").then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployments() -> Deployments {
        let a = DeployedApi::new(
            RestApi::new("aaaaaaaaaa", "a"),
            vec![Stage::new("dev"), Stage::new("prod")],
        );
        let b = DeployedApi::new(
            RestApi::new("bbbbbbbbbb", "b"),
            vec![Stage::new("dev"), Stage::new("test")],
        );
        Deployments {
            apis: vec![a, b],
            account_id: "000000000000".into(),
            region: "us-east-1".into(),
        }
    }

    #[test]
    fn addressing_forms() {
        let d = deployments();
        let t = d
            .resolve(Some("bbbbbbbbbb.execute-api.localhost:8080"), "/dev/pets/1")
            .unwrap();
        assert_eq!(
            (t.api.api.id.as_str(), t.stage.name.as_str(), t.path),
            ("bbbbbbbbbb", "dev", "/pets/1")
        );
        assert_eq!(t.context_path, "/dev/pets/1");
        let t = d
            .resolve(None, "/restapis/aaaaaaaaaa/prod/_user_request_/x")
            .unwrap();
        assert_eq!(
            (t.api.api.id.as_str(), t.stage.name.as_str(), t.path),
            ("aaaaaaaaaa", "prod", "/x")
        );
        let t = d.resolve(Some("localhost:8080"), "/test").unwrap();
        assert_eq!(
            (t.api.api.id.as_str(), t.path, t.context_path.as_str()),
            ("bbbbbbbbbb", "/", "/test")
        );
        // `dev` is ambiguous without a host.
        assert!(d.resolve(Some("localhost"), "/dev/x").is_err());
        let miss = d
            .resolve(Some("aaaaaaaaaa.execute-api.localhost"), "/nope/x")
            .unwrap_err();
        assert_eq!(miss.api.unwrap().api.id, "aaaaaaaaaa");
        assert!(d
            .resolve(Some("zzzzzzzzzz.execute-api.localhost"), "/dev/x")
            .is_err());
    }
}
