//! Log groups and their retention.

use gatewatch_store::{names, CreateLogGroup, Scope, Store};
use serde_json::{json, Map, Value};

use super::{empty, page_after};
use crate::wire::{ApiError, ApiResult, Input};

pub(super) async fn create(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    let name = input.str("logGroupName")?;
    let options = CreateLogGroup {
        tags: input.opt_str_map("tags")?.unwrap_or_default(),
        kms_key_id: input.opt_str("kmsKeyId")?.map(String::from),
        log_group_class: input.opt_str("logGroupClass")?.map(String::from),
        deletion_protection_enabled: input
            .opt_bool("deletionProtectionEnabled")?
            .unwrap_or(false),
    };
    store.create_log_group(scope, name, options).await?;
    empty()
}

pub(super) async fn delete(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    store
        .delete_log_group(scope, input.str("logGroupName")?)
        .await?;
    empty()
}

pub(super) async fn put_retention(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    let name = input.str("logGroupName")?;
    let days = input
        .opt_i64("retentionInDays")?
        .ok_or_else(|| crate::wire::missing("retentionInDays"))?;
    store.put_retention_policy(scope, name, days).await?;
    empty()
}

pub(super) async fn delete_retention(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    store
        .delete_retention_policy(scope, input.str("logGroupName")?)
        .await?;
    empty()
}

pub(super) fn describe(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    let prefix = input.opt_str("logGroupNamePrefix")?;
    let pattern = input.opt_str("logGroupNamePattern")?;
    let identifiers = input.opt_str_list("logGroupIdentifiers")?;
    let class = input.opt_str("logGroupClass")?;
    if prefix.is_some() && pattern.is_some() {
        return Err(ApiError::invalid(
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
        ));
    }
    if let Some(p) = prefix {
        names::log_group_name(p, "logGroupNamePrefix")?;
    }
    let limit = input.limit(50, 50)?;
    let wanted: Option<Vec<String>> = match &identifiers {
        Some(ids) => Some(
            ids.iter()
                .map(|id| super::name_from_identifier(id).map(String::from))
                .collect::<Result<_, _>>()?,
        ),
        None => None,
    };
    let groups: Vec<_> = store
        .log_groups(scope)
        .into_iter()
        .filter(|(g, _)| prefix.is_none_or(|p| g.name.starts_with(p)))
        .filter(|(g, _)| pattern.is_none_or(|p| g.name.contains(p)))
        .filter(|(g, _)| class.is_none_or(|c| g.log_group_class == c))
        .filter(|(g, _)| wanted.as_ref().is_none_or(|w| w.contains(&g.name)))
        .collect();
    let (page, next) = page_after(
        &groups,
        |(g, _)| g.name.as_str(),
        input.opt_str("nextToken")?,
        limit,
    )?;
    let list: Vec<Value> = page
        .iter()
        .map(|(g, stored)| {
            let mut o = Map::new();
            o.insert("logGroupName".into(), json!(g.name));
            o.insert("creationTime".into(), json!(g.creation_time));
            o.insert(
                "arn".into(),
                json!(format!("{}:*", scope.log_group_arn(&g.name))),
            );
            if pattern.is_none() {
                if let Some(days) = g.retention_in_days {
                    o.insert("retentionInDays".into(), json!(days));
                }
                o.insert("metricFilterCount".into(), json!(g.metric_filters.len()));
                o.insert("storedBytes".into(), json!(stored));
                o.insert("logGroupArn".into(), json!(scope.log_group_arn(&g.name)));
                o.insert("logGroupClass".into(), json!(g.log_group_class));
                o.insert(
                    "deletionProtectionEnabled".into(),
                    json!(g.deletion_protection_enabled),
                );
                if let Some(k) = &g.kms_key_id {
                    o.insert("kmsKeyId".into(), json!(k));
                }
            }
            Value::Object(o)
        })
        .collect();
    let mut out = Map::new();
    out.insert("logGroups".into(), Value::Array(list));
    if let Some(n) = next {
        out.insert("nextToken".into(), json!(n));
    }
    Ok(Value::Object(out))
}
