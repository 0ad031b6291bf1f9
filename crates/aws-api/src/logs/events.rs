//! PutLogEvents, GetLogEvents, FilterLogEvents.
//!
//! GetLogEvents tokens are `f/` or `b/` followed by 56 digits (the event's
//! timestamp and sequence number), deterministic so that a client paging to
//! the end gets back exactly the token it sent, which is how CloudWatch
//! signals the end of a stream. FilterLogEvents tokens are opaque positions
//! after the last event returned; no token means no more events.

use gatewatch_store::{
    Cursor, EventInput, FilterPattern, InputLogEvent, LogEvent, Scope, Store, StreamSelector,
};
use serde_json::{json, Map, Value};

use super::{group_name, put_body};
use crate::wire::{ApiError, ApiResult, Input};

/// Events examined per FilterLogEvents call before a partial page is returned.
const MAX_SCANNED_PER_CALL: usize = 200_000;

pub(super) async fn put(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    let group = input.str("logGroupName")?;
    let stream = input.str("logStreamName")?;
    let raw = match input.value("logEvents") {
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ApiError::serialization("Expected a list for 'logEvents'")),
        None => return Err(crate::wire::missing("logEvents")),
    };
    let mut events = Vec::with_capacity(raw.len());
    for (i, item) in raw.iter().enumerate() {
        let timestamp = item
            .get("timestamp")
            .and_then(Value::as_i64)
            .ok_or_else(|| {
                crate::wire::missing(&format!("logEvents.{}.member.timestamp", i + 1))
            })?;
        let message = item
            .get("message")
            .and_then(Value::as_str)
            .ok_or_else(|| crate::wire::missing(&format!("logEvents.{}.member.message", i + 1)))?;
        events.push(InputLogEvent {
            timestamp,
            message: message.to_string(),
        });
    }
    stored(store, scope, group, stream, &events).await
}

/// PutLogEvents read straight from the request body, for a well-formed
/// request: first by [`put_body::read`] (the common shape, all strings
/// decoded into one buffer), then by `serde_json` into events that borrow
/// their messages from the body where they have no escapes. `None` when
/// the body has neither shape; the generic path then reads it and reports
/// what is wrong the way CloudWatch does.
pub(super) async fn put_borrowed(store: &Store, scope: &Scope, body: &[u8]) -> Option<ApiResult> {
    if let Some(read) = put_body::read(body) {
        let events: Vec<Event<'_>> = read
            .events
            .iter()
            .map(|(timestamp, message)| Event {
                timestamp: *timestamp,
                message: std::borrow::Cow::Borrowed(&read.text[message.clone()]),
            })
            .collect();
        let (group, stream) = (
            &read.text[read.group.clone()],
            &read.text[read.stream.clone()],
        );
        return Some(stored(store, scope, group, stream, &events).await);
    }
    let body: SerdeBody<'_> = serde_json::from_slice(body).ok()?;
    Some(stored(store, scope, &body.group, &body.stream, &body.events).await)
}

/// A PutLogEvents body as `serde_json` reads it.
#[derive(serde::Deserialize)]
struct SerdeBody<'a> {
    #[serde(rename = "logGroupName", borrow)]
    group: std::borrow::Cow<'a, str>,
    #[serde(rename = "logStreamName", borrow)]
    stream: std::borrow::Cow<'a, str>,
    #[serde(rename = "logEvents", borrow)]
    events: Vec<Event<'a>>,
}

/// One event of a PutLogEvents body; its message is borrowed unless it had
/// escapes.
#[derive(serde::Deserialize)]
struct Event<'a> {
    timestamp: i64,
    #[serde(borrow)]
    message: std::borrow::Cow<'a, str>,
}

impl EventInput for Event<'_> {
    fn timestamp(&self) -> i64 {
        self.timestamp
    }

    fn message(&self) -> &str {
        &self.message
    }
}

async fn stored<E: EventInput>(
    store: &Store,
    scope: &Scope,
    group: &str,
    stream: &str,
    events: &[E],
) -> ApiResult {
    let outcome = store.put_log_events(scope, group, stream, events).await?;
    let mut out = Map::new();
    out.insert(
        "nextSequenceToken".into(),
        json!(outcome.next_sequence_token),
    );
    if !outcome.rejected.is_empty() {
        let mut r = Map::new();
        if let Some(i) = outcome.rejected.too_new_log_event_start_index {
            r.insert("tooNewLogEventStartIndex".into(), json!(i));
        }
        if let Some(i) = outcome.rejected.too_old_log_event_end_index {
            r.insert("tooOldLogEventEndIndex".into(), json!(i));
        }
        if let Some(i) = outcome.rejected.expired_log_event_end_index {
            r.insert("expiredLogEventEndIndex".into(), json!(i));
        }
        out.insert("rejectedLogEventsInfo".into(), Value::Object(r));
    }
    Ok(Value::Object(out))
}

fn encode(dir: char, c: Cursor) -> String {
    format!("{dir}/{:020}{:020}{:016}", c.timestamp.max(0), c.seq, 0)
}

fn decode(token: &str) -> Result<(bool, Cursor), ApiError> {
    let invalid = || ApiError::invalid("The specified nextToken is invalid.");
    let (forward, digits) = match token.split_at_checked(2) {
        Some(("f/", d)) => (true, d),
        Some(("b/", d)) => (false, d),
        _ => return Err(invalid()),
    };
    if digits.len() != 56 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let timestamp = digits[..20].parse::<i64>().map_err(|_| invalid())?;
    let seq = digits[20..40].parse::<u64>().map_err(|_| invalid())?;
    Ok((forward, Cursor { timestamp, seq }))
}

fn output_event(e: &LogEvent) -> Value {
    json!({ "timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time })
}

pub(super) async fn get(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    let group = group_name(input)?;
    let stream = input.str("logStreamName")?;
    let start = input.opt_timestamp("startTime")?;
    let end = input.opt_timestamp("endTime")?;
    let limit = input.limit(10_000, 10_000)?;
    let token = input.opt_str("nextToken")?;
    let (forward, position) = match token {
        Some(t) => {
            let (f, c) = decode(t)?;
            (f, Some(c))
        }
        None => (input.opt_bool("startFromHead")?.unwrap_or(false), None),
    };
    let events = store
        .read_stream(scope, group, stream, start, end, position, forward, limit)
        .await?;
    let (next_forward, next_backward) = match (events.first(), events.last()) {
        (Some(first), Some(last)) => (
            encode('f', Cursor::of(last)),
            encode('b', Cursor::of(first)),
        ),
        _ => match (token, position) {
            // Nothing more in this direction: echo the token (end of stream).
            (Some(t), Some(p)) if forward => (
                t.to_string(),
                encode(
                    'b',
                    Cursor {
                        seq: p.seq.saturating_add(1),
                        ..p
                    },
                ),
            ),
            (Some(t), Some(p)) => (
                encode(
                    'f',
                    Cursor {
                        seq: p.seq.saturating_sub(1),
                        ..p
                    },
                ),
                t.to_string(),
            ),
            _ => (
                encode(
                    'f',
                    Cursor {
                        timestamp: start.unwrap_or(0),
                        seq: 0,
                    },
                ),
                encode(
                    'b',
                    Cursor {
                        timestamp: end.unwrap_or(i64::MAX),
                        seq: 0,
                    },
                ),
            ),
        },
    };
    Ok(json!({
        "events": events.iter().map(output_event).collect::<Vec<_>>(),
        "nextForwardToken": next_forward,
        "nextBackwardToken": next_backward,
    }))
}

pub(super) async fn filter(store: &Store, scope: &Scope, input: &Input) -> ApiResult {
    let group = group_name(input)?;
    let names = input.opt_str_list("logStreamNames")?;
    let prefix = input.opt_str("logStreamNamePrefix")?;
    let selector = match (names, prefix) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.",
            ))
        }
        (Some(n), None) => {
            if n.is_empty() || n.len() > 100 {
                return Err(crate::wire::constraint(
                    &format!("{} names", n.len()),
                    "logStreamNames",
                    "Member must have length between 1 and 100",
                ));
            }
            StreamSelector::Names(n)
        }
        (None, Some(p)) => StreamSelector::Prefix(p.to_string()),
        (None, None) => StreamSelector::All,
    };
    let pattern = FilterPattern::parse(input.opt_str("filterPattern")?.unwrap_or(""))?;
    let limit = input.limit(10_000, 10_000)?;
    let after = match input.opt_str("nextToken")? {
        None => None,
        Some(t) => Some(decode_filter_token(t)?),
    };
    let page = store
        .filter_events(
            scope,
            group,
            &selector,
            input.opt_timestamp("startTime")?,
            input.opt_timestamp("endTime")?,
            after,
            limit,
            MAX_SCANNED_PER_CALL,
            &|m| pattern.matches(m),
            &pattern.required_literals(),
        )
        .await?;
    let events: Vec<Value> = page
        .events
        .iter()
        .map(|e| {
            json!({
                "logStreamName": e.log_stream_name,
                "timestamp": e.timestamp,
                "message": e.message,
                "ingestionTime": e.ingestion_time,
                "eventId": e.event_id(),
            })
        })
        .collect();
    let mut out = Map::new();
    out.insert("events".into(), Value::Array(events));
    out.insert("searchedLogStreams".into(), json!([]));
    if let Some(next) = page.next {
        out.insert(
            "nextToken".into(),
            json!(format!("c/{:020}{:020}", next.timestamp.max(0), next.seq)),
        );
    }
    Ok(Value::Object(out))
}

fn decode_filter_token(token: &str) -> Result<Cursor, ApiError> {
    let invalid = || ApiError::invalid("The specified nextToken is invalid.");
    let digits = token.strip_prefix("c/").ok_or_else(invalid)?;
    if digits.len() != 40 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    Ok(Cursor {
        timestamp: digits[..20].parse().map_err(|_| invalid())?,
        seq: digits[20..].parse().map_err(|_| invalid())?,
    })
}
