//! Execution events: what happened to one request, in order, with the data
//! the execution-log lines need. The logging stage turns each event into zero
//! or more lines depending on the level (ERROR/INFO) and data tracing.

use std::time::SystemTime;

use bytes::Bytes;
use gatewatch_model::GatewayResponseType;

/// Header or parameter pairs in the order they were seen; repeated names
/// appear once per value.
///
/// Captured for data trace on the request path, so kept compact: every name
/// and value in one text buffer with the pairs' end offsets beside it (two
/// allocations for the whole list, not two per pair). An empty list
/// allocates nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderList {
    text: String,
    /// Per pair: where its name ends and where its value ends in `text`;
    /// its name starts where the previous value ended.
    ends: Vec<(u32, u32)>,
}

impl HeaderList {
    /// No pairs.
    pub fn new() -> HeaderList {
        HeaderList::default()
    }

    /// No pairs, with room for `pairs` pairs of `bytes` bytes of text.
    pub fn with_capacity(pairs: usize, bytes: usize) -> HeaderList {
        HeaderList {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(pairs),
        }
    }

    /// Appends a pair.
    pub fn push(&mut self, name: &str, value: &str) {
        self.text.push_str(name);
        let name_end = self.text.len() as u32;
        self.text.push_str(value);
        self.ends.push((name_end, self.text.len() as u32));
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + Clone + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// The pair at `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<(&str, &str)> {
        let &(name_end, value_end) = self.ends.get(index)?;
        let start = match index {
            0 => 0,
            _ => self.ends[index - 1].1 as usize,
        };
        let (name_end, value_end) = (name_end as usize, value_end as usize);
        Some((&self.text[start..name_end], &self.text[name_end..value_end]))
    }
}

impl<'a> FromIterator<(&'a str, &'a str)> for HeaderList {
    fn from_iter<I: IntoIterator<Item = (&'a str, &'a str)>>(pairs: I) -> HeaderList {
        let mut list = HeaderList::new();
        for (name, value) in pairs {
            list.push(name, value);
        }
        list
    }
}

/// One step of a request's execution.
#[derive(Debug, Clone)]
pub struct ExecutionEvent {
    /// When it happened.
    pub at: SystemTime,
    /// What happened.
    pub kind: ExecutionEventKind,
}

/// Why an execution failed; each maps to one of AWS's error lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// `Execution failed due to a timeout error`.
    Timeout,
    /// `Execution failed due to configuration error: {detail}`.
    Configuration,
    /// `Execution failed: {detail}` (network errors talking to the backend).
    Network,
    /// A Lambda line written as it is (`Lambda execution failed with status
    /// 200 due to customer function error: ...`).
    Lambda,
}

/// The kinds of execution event. Data fields (`headers`, `body`, …) are only
/// filled when the stage's method setting has data tracing on; otherwise they
/// are empty so the hot path allocates nothing for them.
#[derive(Debug, Clone)]
pub enum ExecutionEventKind {
    /// The method request was matched (`Starting execution`, `HTTP Method: …,
    /// Resource Path: …`, and with data trace the `Method request …` lines).
    MethodRequest {
        /// Path parameters after URL-decoding.
        path_parameters: HeaderList,
        /// Query string parameters.
        query: HeaderList,
        /// Request headers.
        headers: HeaderList,
        /// Request body (empty when not traced).
        body: Bytes,
    },
    /// A request is about to be sent to the backend (`Endpoint request …`,
    /// `Sending request to …`).
    EndpointRequest {
        /// The final backend URI.
        uri: String,
        /// Headers sent to the backend.
        headers: HeaderList,
        /// Body sent to the backend (empty when not traced).
        body: Bytes,
    },
    /// The backend answered (`Received response. Status: …, Integration
    /// latency: … ms`, `Endpoint response headers/body`).
    EndpointResponse {
        /// Backend status.
        status: u16,
        /// Milliseconds from sending to the response head.
        latency_ms: u64,
        /// Backend response headers.
        headers: HeaderList,
        /// Backend body, when traced and not streamed.
        body: Option<Bytes>,
    },
    /// The method response was built (`Method response body after
    /// transformations`, `Method response headers`).
    MethodResponse {
        /// Status sent to the client.
        status: u16,
        /// Headers sent to the client.
        headers: HeaderList,
        /// Body after transformations, when traced and not streamed.
        body: Option<Bytes>,
    },
    /// Execution failed (`Execution failed due to …`).
    Failure {
        /// Which family of failure.
        kind: FailureKind,
        /// Detail after the family's prefix (may be empty).
        detail: String,
    },
    /// API Gateway answered with a gateway response.
    GatewayResponse {
        /// The response type.
        response_type: GatewayResponseType,
        /// Status sent.
        status: u16,
        /// Body sent.
        body: Bytes,
        /// Headers sent.
        headers: HeaderList,
    },
    /// The function's own log lines (START, output, END, REPORT), for
    /// `/aws/lambda/{name}`.
    LambdaLogs {
        /// `/aws/lambda/{name}`.
        group: String,
        /// The function's log stream.
        stream: String,
        /// The lines.
        lines: Vec<String>,
    },
    /// The request finished successfully (`Successfully completed execution`).
    Succeeded,
    /// The method completed (`Method completed with status: {status}`).
    Completed {
        /// Final status.
        status: u16,
    },
}

impl ExecutionEventKind {
    /// True for the kinds whose execution lines are all INFO or data lines,
    /// so that below INFO they write nothing. The function's log lines are
    /// not execution lines: they are written at every level and are not
    /// counted here.
    pub fn writes_only_info_lines(&self) -> bool {
        matches!(
            self,
            ExecutionEventKind::MethodRequest { .. }
                | ExecutionEventKind::EndpointRequest { .. }
                | ExecutionEventKind::EndpointResponse { .. }
                | ExecutionEventKind::MethodResponse { .. }
                | ExecutionEventKind::Succeeded
        )
    }
}

/// The most characters of an execution-log line after its `({requestId}) `
/// prefix in AWS's standard logging; longer lines are cut there and marked.
pub const STANDARD_LINE_CHARS: usize = 1024;

/// The most bytes of a streamed response body a data trace keeps, however
/// long the stage lets its lines be (API Gateway's payload limit).
pub const MAX_STREAMED_BODY_TRACE: usize = 10 * 1024 * 1024;

/// The ordered events of one request, plus whether data is captured.
#[derive(Debug, Clone, Default)]
pub struct ExecutionTrace {
    /// Events so far, in order.
    pub events: Vec<ExecutionEvent>,
    /// Capture headers and bodies (the method's `dataTraceEnabled`).
    pub data: bool,
    /// Nothing will render this request's execution lines (its method logs
    /// at OFF and the stage has no errors-only tracing): only the
    /// function's own log lines are kept.
    pub lines_off: bool,
    /// Only error lines will be rendered (the method logs at ERROR, without
    /// errors-only tracing): events whose lines are all INFO or data lines
    /// are not kept (see [`ExecutionEventKind::writes_only_info_lines`]).
    pub error_lines_only: bool,
    /// Errors-only tracing: a healthy request's data is never written, so
    /// it is not copied. The method request's data (headers, parameters,
    /// body) is copied into its `MethodRequest` event at the end, and only
    /// if the request failed (by the gateway, which still holds the
    /// request then); a method response with a status below 400 keeps none.
    pub errors_only: bool,
    /// How many bytes of a streamed (HTTP proxy) response body the data
    /// trace keeps: enough for the longest line the stage writes.
    pub streamed_body_limit: usize,
    /// The time of the last [`ExecutionTrace::push`], while
    /// [`ExecutionTrace::push_same_instant`] events follow it.
    instant: Option<SystemTime>,
}

impl ExecutionTrace {
    /// Whether events that write only INFO or data lines are kept: a caller
    /// can skip building one (copying a URI, say) when they are not.
    pub fn keeps_info_lines(&self) -> bool {
        !self.lines_off && !self.error_lines_only
    }

    /// Appends an event stamped now.
    pub fn push(&mut self, kind: ExecutionEventKind) {
        self.instant = None;
        if self.keeps(&kind) {
            let at = SystemTime::now();
            self.instant = Some(at);
            self.events.push(ExecutionEvent { at, kind });
        }
    }

    /// Appends an event that happens in the same instant as the one pushed
    /// just before it: the caller pushes it right after that one, with
    /// nothing awaited in between (the proxy's method response after its
    /// endpoint response, the gateway's `Succeeded` and `Completed` after
    /// the integration's reply). It takes that event's time rather than
    /// reading the clock again; the readings would differ by microseconds,
    /// below the lines' millisecond resolution. When the event before was
    /// not kept at the trace's level, the clock is read once and shared
    /// with the events that follow in the same instant.
    pub fn push_same_instant(&mut self, kind: ExecutionEventKind) {
        if self.keeps(&kind) {
            let at = *self.instant.get_or_insert_with(SystemTime::now);
            self.events.push(ExecutionEvent { at, kind });
        }
    }

    /// Whether an event of this kind is kept at the trace's level.
    fn keeps(&self, kind: &ExecutionEventKind) -> bool {
        if self.lines_off && !matches!(kind, ExecutionEventKind::LambdaLogs { .. }) {
            return false;
        }
        !(self.error_lines_only && kind.writes_only_info_lines())
    }

    /// `pairs` when data is captured, else an empty list (no allocation).
    pub fn data_pairs<'a, I>(&self, pairs: I) -> HeaderList
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        if !self.data {
            return HeaderList::new();
        }
        pairs.into_iter().collect()
    }

    /// Header pairs of a map (or any list of headers, in its order) when
    /// data is captured.
    pub fn data_headers<'a, H>(&self, headers: &'a H) -> HeaderList
    where
        &'a H: IntoIterator<Item = (&'a http::HeaderName, &'a http::HeaderValue)>,
    {
        if !self.data {
            return HeaderList::new();
        }
        let (count, bytes) = headers
            .into_iter()
            .fold((0, 0), |(count, bytes), (name, value)| {
                (count + 1, bytes + name.as_str().len() + value.len())
            });
        let mut list = HeaderList::with_capacity(count, bytes);
        for (name, value) in headers {
            // Values are almost always ASCII: checked in one pass, and only
            // anything else is converted with replacement characters.
            match std::str::from_utf8(value.as_bytes()) {
                Ok(text) => list.push(name.as_str(), text),
                Err(_) => list.push(name.as_str(), &String::from_utf8_lossy(value.as_bytes())),
            }
        }
        list
    }

    /// A body when data is captured, else empty.
    pub fn data_body(&self, body: &Bytes) -> Bytes {
        if self.data {
            body.clone()
        } else {
            Bytes::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{ExecutionEventKind, ExecutionTrace, HeaderList};

    fn method_response() -> ExecutionEventKind {
        ExecutionEventKind::MethodResponse {
            status: 200,
            headers: HeaderList::new(),
            body: None,
        }
    }

    #[test]
    fn events_of_one_instant_share_the_time_of_the_event_before() {
        let mut trace = ExecutionTrace::default();
        trace.push(method_response());
        std::thread::sleep(Duration::from_millis(3));
        trace.push_same_instant(ExecutionEventKind::Succeeded);
        trace.push_same_instant(ExecutionEventKind::Completed { status: 200 });
        let times: Vec<_> = trace.events.iter().map(|e| e.at).collect();
        assert_eq!(times, vec![times[0]; 3]);

        // A later push reads the clock again.
        std::thread::sleep(Duration::from_millis(3));
        trace.push(ExecutionEventKind::Succeeded);
        assert!(trace.events[3].at > times[0]);
    }

    #[test]
    fn an_instant_is_not_carried_over_an_event_the_level_drops() {
        // At ERROR the method response is not kept, so the closing event
        // cannot take its time, nor that of the kept event before it.
        let mut trace = ExecutionTrace {
            error_lines_only: true,
            ..ExecutionTrace::default()
        };
        trace.push(ExecutionEventKind::Completed { status: 502 });
        std::thread::sleep(Duration::from_millis(3));
        trace.push(method_response());
        trace.push_same_instant(ExecutionEventKind::Succeeded);
        trace.push_same_instant(ExecutionEventKind::Completed { status: 200 });
        assert_eq!(trace.events.len(), 2);
        assert!(trace.events[1].at > trace.events[0].at);

        // Nothing is kept with the lines off, and no time is taken for it.
        let mut off = ExecutionTrace {
            lines_off: true,
            ..ExecutionTrace::default()
        };
        off.push_same_instant(ExecutionEventKind::Completed { status: 200 });
        assert!(off.events.is_empty());
        assert!(off.instant.is_none());
    }

    #[test]
    fn header_lists_keep_pairs_in_order_with_repeats_and_empty_parts() {
        let list: HeaderList = [("Accept", "*/*"), ("x", ""), ("", "v"), ("x", "2")]
            .into_iter()
            .collect();
        assert_eq!(list.len(), 4);
        assert_eq!(
            list.iter().collect::<Vec<_>>(),
            vec![("Accept", "*/*"), ("x", ""), ("", "v"), ("x", "2")]
        );
        assert_eq!(list.get(2), Some(("", "v")));
        assert_eq!(list.get(4), None);
        assert!(HeaderList::new().is_empty());
        assert_eq!(HeaderList::new().iter().count(), 0);
    }
}
