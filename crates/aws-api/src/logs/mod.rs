//! The CloudWatch Logs API (`Logs_20140328`), one module per resource kind.

mod events;
mod filters;
mod groups;
mod put_body;
mod queries;
mod streams;
mod tags;

use bytes::Bytes;
use gatewatch_store::{Scope, Store};
use http::{HeaderMap, Response};
use serde_json::Value;

use crate::sigv4::parse_authorization;
use crate::wire::{respond, ApiError, ApiResult, Input};

/// The `X-Amz-Target` prefix of CloudWatch Logs operations.
pub const TARGET_PREFIX: &str = "Logs_20140328.";

/// CloudWatch Logs over a [`Store`].
#[derive(Clone)]
pub struct LogsApi {
    store: Store,
    queries: gatewatch_insights::manager::QueryManager,
    account: String,
    default_region: String,
}

impl LogsApi {
    /// Serves `store`; every request acts in `account`, in the region of its
    /// signature or `default_region`.
    pub fn new(
        store: Store,
        account: impl Into<String>,
        default_region: impl Into<String>,
    ) -> LogsApi {
        let slots = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .max(2);
        LogsApi {
            queries: gatewatch_insights::manager::QueryManager::new(
                store.clone(),
                slots,
                std::time::Duration::from_secs(3600),
            ),
            store,
            account: account.into(),
            default_region: default_region.into(),
        }
    }

    /// True when a request is for this API.
    pub fn accepts(headers: &HeaderMap) -> bool {
        headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with(TARGET_PREFIX))
    }

    /// Handles one request (`POST /` with `X-Amz-Target`).
    pub async fn handle(&self, headers: &HeaderMap, body: &[u8]) -> Response<Bytes> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let target = headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let operation = target.strip_prefix(TARGET_PREFIX).unwrap_or(target);
        let region = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|a| parse_authorization(a).region)
            .unwrap_or_else(|| self.default_region.clone());
        let scope = Scope::new(self.account.clone(), region);
        if operation == "PutLogEvents" {
            if let Some(result) = events::put_borrowed(&self.store, &scope, body).await {
                if let Err(e) = &result {
                    tracing::debug!(operation, error_type = %e.error_type, message = %e.message, "CloudWatch Logs error");
                }
                return respond(result, &request_id);
            }
        }
        let result = match Input::parse(body) {
            Ok(input) => self.dispatch(operation, &scope, &input).await,
            Err(e) => Err(e),
        };
        if let Err(e) = &result {
            tracing::debug!(operation, error_type = %e.error_type, message = %e.message, "CloudWatch Logs error");
        }
        respond(result, &request_id)
    }

    async fn dispatch(&self, operation: &str, scope: &Scope, input: &Input) -> ApiResult {
        let store = &self.store;
        match operation {
            "CreateLogGroup" => groups::create(store, scope, input).await,
            "DeleteLogGroup" => groups::delete(store, scope, input).await,
            "DescribeLogGroups" => groups::describe(store, scope, input),
            "PutRetentionPolicy" => groups::put_retention(store, scope, input).await,
            "DeleteRetentionPolicy" => groups::delete_retention(store, scope, input).await,
            "CreateLogStream" => streams::create(store, scope, input).await,
            "DeleteLogStream" => streams::delete(store, scope, input).await,
            "DescribeLogStreams" => streams::describe(store, scope, input),
            "PutLogEvents" => events::put(store, scope, input).await,
            "GetLogEvents" => events::get(store, scope, input).await,
            "FilterLogEvents" => events::filter(store, scope, input).await,
            "TagResource" => tags::tag_resource(store, scope, input).await,
            "UntagResource" => tags::untag_resource(store, scope, input).await,
            "ListTagsForResource" => tags::list_for_resource(store, scope, input),
            "TagLogGroup" => tags::tag_log_group(store, scope, input).await,
            "UntagLogGroup" => tags::untag_log_group(store, scope, input).await,
            "ListTagsLogGroup" => tags::list_log_group(store, scope, input),
            "PutMetricFilter" => filters::put_metric(store, scope, input).await,
            "DeleteMetricFilter" => filters::delete_metric(store, scope, input).await,
            "DescribeMetricFilters" => filters::describe_metric(store, scope, input),
            "PutSubscriptionFilter" => filters::put_subscription(store, scope, input).await,
            "DeleteSubscriptionFilter" => filters::delete_subscription(store, scope, input).await,
            "DescribeSubscriptionFilters" => filters::describe_subscription(store, scope, input),
            "StartQuery" => queries::start(store, &self.queries, scope, input),
            "GetQueryResults" => queries::results(&self.queries, scope, input),
            "StopQuery" => queries::stop(&self.queries, scope, input),
            "DescribeQueries" => queries::describe(&self.queries, scope, input),
            "GetLogRecord" => queries::log_record(store, scope, input).await,
            "" => Err(ApiError::new(
                "UnknownOperationException",
                "Missing X-Amz-Target header",
            )),
            other => Err(ApiError::new(
                "UnknownOperationException",
                format!("Operation {other} is not supported by Gatewatch"),
            )),
        }
    }
}

/// An empty output.
pub(crate) fn empty() -> ApiResult {
    Ok(Value::Object(Default::default()))
}

/// The group named by `logGroupName` or `logGroupIdentifier` (exactly one).
pub(crate) fn group_name(input: &Input) -> Result<&str, ApiError> {
    match (
        input.opt_str("logGroupName")?,
        input.opt_str("logGroupIdentifier")?,
    ) {
        (Some(name), None) => Ok(name),
        (None, Some(id)) => name_from_identifier(id),
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
        )),
        (None, None) => Err(ApiError::invalid(
            "Should provide either name or ARN of the log group.",
        )),
    }
}

/// A log group name from a name or an ARN (`arn:aws:logs:r:a:log-group:NAME[:*]`).
pub(crate) fn name_from_identifier(id: &str) -> Result<&str, ApiError> {
    if !id.starts_with("arn:") {
        return Ok(id);
    }
    let name = id
        .split_once(":log-group:")
        .map(|(_, rest)| rest.strip_suffix(":*").unwrap_or(rest))
        .filter(|n| !n.is_empty() && !n.contains(':'))
        .ok_or_else(|| ApiError::invalid(format!("Invalid log group ARN: {id}")))?;
    Ok(name)
}

/// Pagination over a sorted list by name: the token is the last name returned.
pub(crate) fn page_after<'a, T>(
    items: &'a [T],
    name: impl Fn(&T) -> &str,
    token: Option<&str>,
    limit: usize,
) -> Result<(&'a [T], Option<String>), ApiError> {
    let start = match token {
        None => 0,
        Some(t) => {
            let after = t
                .strip_prefix("n/")
                .ok_or_else(|| ApiError::invalid("The specified nextToken is invalid."))?;
            items.partition_point(|i| name(i) <= after)
        }
    };
    let end = (start + limit).min(items.len());
    let page = &items[start..end];
    let next = (end < items.len()).then(|| format!("n/{}", page.last().map(&name).unwrap_or("")));
    Ok((page, next))
}
