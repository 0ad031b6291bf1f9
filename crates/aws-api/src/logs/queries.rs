//! Logs Insights: StartQuery, GetQueryResults, StopQuery, DescribeQueries,
//! GetLogRecord.
//!
//! Choices where AWS documents no message text: a time range ending before it
//! starts, a request naming no log group and no `SOURCE`, and an unknown
//! query id are `InvalidParameterException` / `ResourceNotFoundException`
//! with plain messages saying so. Query ids are UUIDs.

use gatewatch_insights::manager::{QueryManager, StartError, Status};
use gatewatch_insights::{compile, decode_pointer, source_groups, QueryRequest};
use gatewatch_store::{Scope, Store, StoreError};
use serde_json::{json, Map, Value};

use super::name_from_identifier;
use crate::wire::{constraint, missing, ApiError, ApiResult, Input};

/// Most log groups one query may name.
const MAX_GROUPS: usize = 50;

fn malformed(e: &gatewatch_insights::QueryError) -> ApiError {
    let mut err = ApiError::new("MalformedQueryException", e.to_string());
    let mut extra = Map::new();
    extra.insert(
        "queryCompileError".into(),
        json!({
            "location": {
                "startCharOffset": e.span.start,
                "endCharOffset": e.span.end,
            },
            "message": e.to_string(),
        }),
    );
    err.extra = Some(Box::new(extra));
    err
}

/// StartQuery.
pub(crate) fn start(
    store: &Store,
    queries: &QueryManager,
    scope: &Scope,
    input: &Input,
) -> ApiResult {
    let text = input.str("queryString")?;
    if text.chars().count() > gatewatch_insights::parser::MAX_QUERY_CHARS {
        return Err(constraint(
            "...",
            "queryString",
            "Member must have length less than or equal to 10000",
        ));
    }
    if let Some(lang) = input.opt_str("queryLanguage")? {
        if lang != "CWLI" {
            return Err(ApiError::invalid(format!(
                "Query language {lang} is not supported by Gatewatch; use CWLI"
            )));
        }
    }
    let start = input
        .opt_i64("startTime")?
        .ok_or_else(|| missing("startTime"))?;
    let end = input
        .opt_i64("endTime")?
        .ok_or_else(|| missing("endTime"))?;
    if start < 0 {
        return Err(constraint(
            &start.to_string(),
            "startTime",
            "Member must have value greater than or equal to 0",
        ));
    }
    if end < start {
        return Err(ApiError::invalid(
            "endTime must be greater than or equal to startTime",
        ));
    }
    let limit = match input.opt_i64("limit")? {
        None => None,
        Some(n) if !(1..=10_000).contains(&n) => {
            return Err(constraint(
                &n.to_string(),
                "limit",
                "Member must have value between 1 and 10000",
            ))
        }
        Some(n) => Some(n as usize),
    };
    let query = compile(text).map_err(|e| malformed(&e))?;
    let named: Vec<String> = match (
        input.opt_str("logGroupName")?,
        input.opt_str_list("logGroupNames")?,
        input.opt_str_list("logGroupIdentifiers")?,
    ) {
        (Some(n), None, None) => vec![n.to_string()],
        (None, Some(ns), None) => ns,
        (None, None, Some(ids)) => ids
            .iter()
            .map(|i| name_from_identifier(i).map(str::to_string))
            .collect::<Result<_, _>>()?,
        (None, None, None) => Vec::new(),
        _ => {
            return Err(ApiError::invalid(
                "Specify only one of logGroupName, logGroupNames and logGroupIdentifiers",
            ))
        }
    };
    let groups = match (named.is_empty(), source_groups(&query, store, scope)) {
        (false, Some(_)) => {
            return Err(ApiError::invalid(
                "A query with a SOURCE command cannot also name log groups in the request",
            ))
        }
        (false, None) => named,
        (true, Some(g)) => g,
        (true, None) => {
            return Err(ApiError::invalid(
                "Specify log groups with logGroupName, logGroupNames or logGroupIdentifiers, or with a SOURCE command in the query",
            ))
        }
    };
    if groups.len() > MAX_GROUPS {
        return Err(ApiError::invalid(format!(
            "A query can search at most {MAX_GROUPS} log groups"
        )));
    }
    for g in &groups {
        store.log_group(scope, g)?;
    }
    let req = QueryRequest {
        query: text.to_string(),
        groups,
        start_ms: start.saturating_mul(1000),
        end_ms: end.saturating_mul(1000).saturating_add(999),
        limit,
    };
    match queries.start(scope, query, req) {
        Ok(id) => Ok(json!({ "queryId": id })),
        Err(StartError::LimitExceeded) => Err(ApiError::new(
            "LimitExceededException",
            format!(
                "Account has reached the maximum number of concurrent queries ({})",
                gatewatch_insights::manager::MAX_ACTIVE
            ),
        )),
    }
}

fn unknown_query() -> ApiError {
    ApiError::new(
        "ResourceNotFoundException",
        "The specified query does not exist.",
    )
}

/// GetQueryResults.
pub(crate) fn results(queries: &QueryManager, scope: &Scope, input: &Input) -> ApiResult {
    let id = input.str("queryId")?;
    let info = queries.get(scope, id).ok_or_else(unknown_query)?;
    let (rows, stats) = match &info.output {
        Some(out) => (
            out.rows
                .iter()
                .map(|row| {
                    Value::Array(
                        row.iter()
                            .map(|(f, v)| json!({ "field": f, "value": v }))
                            .collect(),
                    )
                })
                .collect::<Vec<_>>(),
            out.statistics,
        ),
        None => (Vec::new(), Default::default()),
    };
    Ok(json!({
        "queryLanguage": "CWLI",
        "results": rows,
        "statistics": {
            "recordsMatched": stats.records_matched,
            "recordsScanned": stats.records_scanned,
            "estimatedRecordsSkipped": 0.0,
            "bytesScanned": stats.bytes_scanned,
            "estimatedBytesSkipped": 0.0,
            "logGroupsScanned": stats.log_groups_scanned,
        },
        "status": info.status.as_str(),
    }))
}

/// StopQuery.
pub(crate) fn stop(queries: &QueryManager, scope: &Scope, input: &Input) -> ApiResult {
    let id = input.str("queryId")?;
    match queries.stop(scope, id) {
        None => Err(unknown_query()),
        Some(stopped) => Ok(json!({ "success": stopped })),
    }
}

/// DescribeQueries (newest first; `nextToken` is an offset).
pub(crate) fn describe(queries: &QueryManager, scope: &Scope, input: &Input) -> ApiResult {
    let group = input.opt_str("logGroupName")?;
    let status = match input.opt_str("status")? {
        None => None,
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            constraint(
                s,
                "status",
                "Member must satisfy enum value set: [Scheduled, Running, Complete, Failed, Cancelled, Timeout, Unknown]",
            )
        })?),
    };
    let max = match input.opt_i64("maxResults")? {
        None => 1000,
        Some(n) if !(1..=1000).contains(&n) => {
            return Err(constraint(
                &n.to_string(),
                "maxResults",
                "Member must have value between 1 and 1000",
            ))
        }
        Some(n) => n as usize,
    };
    let offset: usize = match input.opt_str("nextToken")? {
        None => 0,
        Some(t) => t
            .parse()
            .map_err(|_| ApiError::invalid("The specified nextToken is invalid."))?,
    };
    let all = queries.describe(scope, group, status);
    let page: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(max)
        .map(|q| {
            let mut v = json!({
                "queryLanguage": "CWLI",
                "queryId": q.id,
                "queryString": q.query_string,
                "status": q.status.as_str(),
                "createTime": q.create_time,
            });
            if let Some(g) = &q.log_group_name {
                v["logGroupName"] = json!(g);
            }
            v
        })
        .collect();
    let mut out = json!({ "queries": page });
    if offset + max < all.len() {
        out["nextToken"] = json!((offset + max).to_string());
    }
    Ok(out)
}

/// GetLogRecord: every field of the event an `@ptr` points at.
pub(crate) async fn log_record(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    let ptr = input.str("logRecordPointer")?;
    let Some((group, stream, ts, seq)) = decode_pointer(ptr) else {
        return Err(ApiError::invalid(
            "The specified log record pointer is invalid.",
        ));
    };
    let event = store
        .get_event(scope, &group, &stream, ts, seq)
        .await
        .map_err(|e| match e {
            StoreError::ResourceNotFound(_) => ApiError::new(
                "ResourceNotFoundException",
                "The specified log record does not exist.",
            ),
            other => other.into(),
        })?
        .ok_or_else(|| {
            ApiError::new(
                "ResourceNotFoundException",
                "The specified log record does not exist.",
            )
        })?;
    let mut record = Map::new();
    for (k, v) in gatewatch_insights::value::flatten_json(&event.message) {
        record.insert(k, Value::String(v));
    }
    record.insert("@timestamp".into(), json!(event.timestamp.to_string()));
    record.insert(
        "@ingestionTime".into(),
        json!(event.ingestion_time.to_string()),
    );
    record.insert("@logStream".into(), json!(stream));
    record.insert("@log".into(), json!(format!("{}:{group}", scope.account)));
    record.insert("@message".into(), json!(event.message));
    Ok(json!({ "logRecord": record }))
}
