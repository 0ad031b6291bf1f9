//! Tags: the ARN-based API and the older log-group-name API share one store.

use gatewatch_store::{Scope, Store};
use serde_json::json;

use super::{empty, name_from_identifier};
use crate::wire::{ApiError, ApiResult, Input};

/// The log group an ARN names (log-group ARNs are the only taggable
/// resources Gatewatch keeps).
fn group_of_arn(arn: &str) -> Result<&str, ApiError> {
    if !arn.starts_with("arn:") || !arn.contains(":log-group:") {
        return Err(ApiError::invalid(format!(
            "Invalid ARN or unsupported resource type: {arn}"
        )));
    }
    name_from_identifier(arn)
}

pub(super) async fn tag_resource(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    let arn = input.str("resourceArn")?;
    let tags = input
        .opt_str_map("tags")?
        .ok_or_else(|| crate::wire::missing("tags"))?;
    store.tag_log_group(scope, group_of_arn(arn)?, tags).await?;
    empty()
}

pub(super) async fn untag_resource(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    let arn = input.str("resourceArn")?;
    let keys = input
        .opt_str_list("tagKeys")?
        .ok_or_else(|| crate::wire::missing("tagKeys"))?;
    store
        .untag_log_group(scope, group_of_arn(arn)?, keys)
        .await?;
    empty()
}

pub(super) fn list_for_resource(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    let arn = input.str("resourceArn")?;
    let group = store.log_group(scope, group_of_arn(arn)?)?;
    Ok(json!({ "tags": group.tags }))
}

pub(super) async fn tag_log_group(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    let name = input.str("logGroupName")?;
    let tags = input
        .opt_str_map("tags")?
        .ok_or_else(|| crate::wire::missing("tags"))?;
    store.tag_log_group(scope, name, tags).await?;
    empty()
}

pub(super) async fn untag_log_group(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    let name = input.str("logGroupName")?;
    // Despite its name, `tags` is a list of keys here.
    let keys = input
        .opt_str_list("tags")?
        .ok_or_else(|| crate::wire::missing("tags"))?;
    store.untag_log_group(scope, name, keys).await?;
    empty()
}

pub(super) fn list_log_group(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    let group = store.log_group(scope, input.str("logGroupName")?)?;
    Ok(json!({ "tags": group.tags }))
}
