//! Log streams.

use gatewatch_store::{names, LogStream, Scope, Store};
use serde_json::{json, Map, Value};

use super::{empty, group_name};
use crate::wire::{ApiError, ApiResult, Input};

pub(super) async fn create(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    store
        .create_log_stream(
            scope,
            input.str("logGroupName")?,
            input.str("logStreamName")?,
        )
        .await?;
    empty()
}

pub(super) async fn delete(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    store
        .delete_log_stream(
            scope,
            input.str("logGroupName")?,
            input.str("logStreamName")?,
        )
        .await?;
    empty()
}

pub(super) fn describe(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    let group = group_name(input)?;
    let prefix = input.opt_str("logStreamNamePrefix")?;
    if let Some(p) = prefix {
        names::log_stream_name(p, "logStreamNamePrefix")?;
    }
    let order = input.opt_str("orderBy")?.unwrap_or("LogStreamName");
    let by_time = match order {
        "LogStreamName" => false,
        "LastEventTime" => true,
        other => {
            return Err(crate::wire::constraint(
                other,
                "orderBy",
                "Member must satisfy enum value set: [LogStreamName, LastEventTime]",
            ))
        }
    };
    if by_time && prefix.is_some() {
        return Err(ApiError::invalid(
            "Cannot order by LastEventTime with a logStreamNamePrefix.",
        ));
    }
    let descending = input.opt_bool("descending")?.unwrap_or(false);
    let limit = input.limit(50, 50)?;
    let mut streams: Vec<LogStream> = store
        .log_streams(scope, group)?
        .into_iter()
        .filter(|s| prefix.is_none_or(|p| s.name.starts_with(p)))
        .collect();
    if by_time {
        streams.sort_by(|a, b| {
            (a.last_event_timestamp.unwrap_or(-1), &a.name)
                .cmp(&(b.last_event_timestamp.unwrap_or(-1), &b.name))
        });
    }
    if descending {
        streams.reverse();
    }
    // By name, the token is the last name returned (stable while streams
    // come and go); by time it is the position in the time order.
    let token = input.opt_str("nextToken")?;
    let invalid = || ApiError::invalid("The specified nextToken is invalid.");
    let start = match token {
        None => 0,
        Some(t) if !by_time => {
            let after = t.strip_prefix("n/").ok_or_else(invalid)?;
            if descending {
                streams.partition_point(|s| s.name.as_str() >= after)
            } else {
                streams.partition_point(|s| s.name.as_str() <= after)
            }
        }
        Some(t) => t
            .strip_prefix("o/")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= streams.len())
            .ok_or_else(invalid)?,
    };
    let end = (start + limit).min(streams.len());
    let list: Vec<Value> = streams[start..end]
        .iter()
        .map(|s| {
            let mut o = Map::new();
            o.insert("logStreamName".into(), json!(s.name));
            o.insert("creationTime".into(), json!(s.creation_time));
            if let Some(t) = s.first_event_timestamp {
                o.insert("firstEventTimestamp".into(), json!(t));
            }
            if let Some(t) = s.last_event_timestamp {
                o.insert("lastEventTimestamp".into(), json!(t));
            }
            if let Some(t) = s.last_ingestion_time {
                o.insert("lastIngestionTime".into(), json!(t));
            }
            o.insert("uploadSequenceToken".into(), json!(format!("{:056}", s.id)));
            o.insert("arn".into(), json!(scope.log_stream_arn(group, &s.name)));
            o.insert("storedBytes".into(), json!(0));
            Value::Object(o)
        })
        .collect();
    let mut out = Map::new();
    out.insert("logStreams".into(), Value::Array(list));
    if end < streams.len() {
        let token = if by_time {
            format!("o/{end}")
        } else {
            format!("n/{}", streams[end - 1].name)
        };
        out.insert("nextToken".into(), json!(token));
    }
    Ok(Value::Object(out))
}
