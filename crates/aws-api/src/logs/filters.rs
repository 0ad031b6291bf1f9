//! Metric filters and subscription filters: validated, stored, described.

use gatewatch_store::{now_ms, FilterPattern, MetricFilter, Scope, Store, SubscriptionFilter};
use serde_json::{json, Map, Value};

use super::{empty, page_after};
use crate::wire::{ApiError, ApiResult, Input};

pub(super) async fn put_metric(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    let group = input.str("logGroupName")?;
    let name = input.str("filterName")?;
    let pattern = input
        .opt_str("filterPattern")?
        .ok_or_else(|| crate::wire::missing("filterPattern"))?;
    FilterPattern::parse(pattern)?;
    let transformations = match input.value("metricTransformations") {
        Some(Value::Array(items)) if items.len() == 1 => Value::Array(items.clone()),
        Some(Value::Array(items)) => {
            return Err(crate::wire::constraint(
                &format!("{} items", items.len()),
                "metricTransformations",
                "Member must have length less than or equal to 1",
            ))
        }
        _ => return Err(crate::wire::missing("metricTransformations")),
    };
    for member in ["metricName", "metricNamespace", "metricValue"] {
        if transformations[0]
            .get(member)
            .and_then(Value::as_str)
            .is_none()
        {
            return Err(crate::wire::missing(&format!(
                "metricTransformations.1.member.{member}"
            )));
        }
    }
    store
        .put_metric_filter(
            scope,
            group,
            MetricFilter {
                filter_name: name.to_string(),
                filter_pattern: pattern.to_string(),
                metric_transformations: transformations,
                creation_time: now_ms(),
                apply_on_transformed_logs: input
                    .opt_bool("applyOnTransformedLogs")?
                    .unwrap_or(false),
            },
        )
        .await?;
    empty()
}

pub(super) async fn delete_metric(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    store
        .delete_metric_filter(scope, input.str("logGroupName")?, input.str("filterName")?)
        .await?;
    empty()
}

pub(super) fn describe_metric(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    let group = input.opt_str("logGroupName")?;
    let prefix = input.opt_str("filterNamePrefix")?;
    let metric_name = input.opt_str("metricName")?;
    let namespace = input.opt_str("metricNamespace")?;
    if metric_name.is_some() != namespace.is_some() {
        return Err(ApiError::invalid(
            "metricName and metricNamespace must be specified together.",
        ));
    }
    let limit = input.limit(50, 50)?;
    let groups: Vec<_> = match group {
        Some(g) => vec![store.log_group(scope, g)?],
        None => store
            .log_groups(scope)
            .into_iter()
            .map(|(g, _)| g)
            .collect(),
    };
    let mut filters: Vec<(String, MetricFilter)> = groups
        .into_iter()
        .flat_map(|g| {
            g.metric_filters
                .into_values()
                .map(move |f| (g.name.clone(), f))
        })
        .filter(|(_, f)| group.is_none() || prefix.is_none_or(|p| f.filter_name.starts_with(p)))
        .filter(|(_, f)| {
            metric_name.is_none_or(|m| {
                let t = &f.metric_transformations[0];
                t.get("metricName").and_then(Value::as_str) == Some(m)
                    && t.get("metricNamespace").and_then(Value::as_str) == namespace
            })
        })
        .collect();
    filters.sort_by(|a, b| a.1.filter_name.cmp(&b.1.filter_name));
    let (page, next) = page_after(
        &filters,
        |(_, f)| f.filter_name.as_str(),
        input.opt_str("nextToken")?,
        limit,
    )?;
    let list: Vec<Value> = page
        .iter()
        .map(|(g, f)| {
            json!({
                "filterName": f.filter_name,
                "filterPattern": f.filter_pattern,
                "metricTransformations": f.metric_transformations,
                "creationTime": f.creation_time,
                "logGroupName": g,
                "applyOnTransformedLogs": f.apply_on_transformed_logs,
            })
        })
        .collect();
    let mut out = Map::new();
    out.insert("metricFilters".into(), Value::Array(list));
    if let Some(n) = next {
        out.insert("nextToken".into(), json!(n));
    }
    Ok(Value::Object(out))
}

pub(super) async fn put_subscription(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    let group = input.str("logGroupName")?;
    let name = input.str("filterName")?;
    let pattern = input
        .opt_str("filterPattern")?
        .ok_or_else(|| crate::wire::missing("filterPattern"))?;
    FilterPattern::parse(pattern)?;
    let destination = input.str("destinationArn")?;
    if !destination.starts_with("arn:") {
        return Err(ApiError::invalid(format!(
            "Invalid destination ARN: {destination}"
        )));
    }
    let distribution = input.opt_str("distribution")?.unwrap_or("ByLogStream");
    if !["Random", "ByLogStream"].contains(&distribution) {
        return Err(crate::wire::constraint(
            distribution,
            "distribution",
            "Member must satisfy enum value set: [Random, ByLogStream]",
        ));
    }
    store
        .put_subscription_filter(
            scope,
            group,
            SubscriptionFilter {
                filter_name: name.to_string(),
                filter_pattern: pattern.to_string(),
                destination_arn: destination.to_string(),
                role_arn: input.opt_str("roleArn")?.map(String::from),
                distribution: distribution.to_string(),
                creation_time: now_ms(),
                apply_on_transformed_logs: input
                    .opt_bool("applyOnTransformedLogs")?
                    .unwrap_or(false),
            },
        )
        .await?;
    empty()
}

pub(super) async fn delete_subscription(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    store
        .delete_subscription_filter(scope, input.str("logGroupName")?, input.str("filterName")?)
        .await?;
    empty()
}

pub(super) fn describe_subscription(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    let group = input.str("logGroupName")?;
    let prefix = input.opt_str("filterNamePrefix")?;
    let limit = input.limit(50, 50)?;
    let filters: Vec<SubscriptionFilter> = store
        .log_group(scope, group)?
        .subscription_filters
        .into_values()
        .filter(|f| prefix.is_none_or(|p| f.filter_name.starts_with(p)))
        .collect();
    let (page, next) = page_after(
        &filters,
        |f| f.filter_name.as_str(),
        input.opt_str("nextToken")?,
        limit,
    )?;
    let list: Vec<Value> = page
        .iter()
        .map(|f| {
            let mut o = Map::new();
            o.insert("filterName".into(), json!(f.filter_name));
            o.insert("logGroupName".into(), json!(group));
            o.insert("filterPattern".into(), json!(f.filter_pattern));
            o.insert("destinationArn".into(), json!(f.destination_arn));
            if let Some(r) = &f.role_arn {
                o.insert("roleArn".into(), json!(r));
            }
            o.insert("distribution".into(), json!(f.distribution));
            o.insert(
                "applyOnTransformedLogs".into(),
                json!(f.apply_on_transformed_logs),
            );
            o.insert("creationTime".into(), json!(f.creation_time));
            Value::Object(o)
        })
        .collect();
    let mut out = Map::new();
    out.insert("subscriptionFilters".into(), Value::Array(list));
    if let Some(n) = next {
        out.insert("nextToken".into(), json!(n));
    }
    Ok(Value::Object(out))
}
