//! Response bodies that report when they are done.
//!
//! The access log needs the final status, the number of body bytes sent and
//! the latency to the last byte, so the [`RequestRecord`] is handed to the
//! sink only when the response body has finished (or was dropped because the
//! client went away).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::context::{ExecutionEvent, ExecutionEventKind, RequestContext, RequestRecord};
use crate::sink::RecordSink;
use tokio::sync::mpsc::OwnedPermit;

/// Boxed error type of response bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Finishes a request's record when its body is done.
pub struct Finisher {
    /// The request's context (status already set).
    pub context: Box<RequestContext>,
    /// Its execution events.
    pub events: Vec<ExecutionEvent>,
    /// When the request arrived.
    pub started: Instant,
    /// Where the record goes.
    pub sink: Arc<dyn RecordSink>,
    /// Room reserved in the sink when the request was admitted
    /// (backpressure); `None` submits without waiting.
    pub permit: Option<OwnedPermit<RequestRecord>>,
}

impl Finisher {
    /// Gives the streamed body to the last endpoint response and method
    /// response events that have none (an HTTP proxy's, whose body passed
    /// through after they were recorded).
    fn fill_streamed_body(&mut self, body: Bytes) {
        let mut endpoint = false;
        let mut method = false;
        for event in self.events.iter_mut().rev() {
            match &mut event.kind {
                ExecutionEventKind::EndpointResponse { body: slot, .. } if !endpoint => {
                    endpoint = true;
                    slot.get_or_insert_with(|| body.clone());
                }
                ExecutionEventKind::MethodResponse { body: slot, .. } if !method => {
                    method = true;
                    slot.get_or_insert_with(|| body.clone());
                }
                _ => {}
            }
            if endpoint && method {
                break;
            }
        }
    }

    fn finish(mut self, sent: u64) {
        self.context.response_length = Some(sent);
        self.context.response_latency_ms = Some(self.started.elapsed().as_millis() as u64);
        let record = RequestRecord {
            context: self.context,
            events: self.events,
        };
        match self.permit {
            Some(permit) => {
                permit.send(record);
            }
            None => self.sink.submit(record),
        }
    }
}

/// A body that counts the bytes it yields and finishes the request record at
/// the end of the stream or when dropped.
pub struct CompletionBody<B> {
    inner: B,
    sent: u64,
    finisher: Option<Finisher>,
    capture: Option<Box<Capture>>,
}

/// The first bytes of a streamed body, copied for the data trace as the
/// frames pass (at most `limit` bytes; a copy rather than a reference to
/// the frames, which would keep each frame's whole read buffer alive).
struct Capture {
    kept: bytes::BytesMut,
    limit: usize,
}

impl Capture {
    fn keep(&mut self, data: &Bytes) {
        let room = self.limit - self.kept.len();
        if room > 0 && !data.is_empty() {
            self.kept.extend_from_slice(&data[..data.len().min(room)]);
        }
    }

    /// What was kept; a cut at the limit that split a UTF-8 character is
    /// moved back to before it, so a text body still reads as text.
    fn into_bytes(self) -> Bytes {
        let mut kept = self.kept;
        if kept.len() == self.limit {
            if let Err(e) = std::str::from_utf8(&kept) {
                if e.error_len().is_none() {
                    kept.truncate(e.valid_up_to());
                }
            }
        }
        kept.freeze()
    }
}

impl<B> CompletionBody<B> {
    /// Wraps `inner`; `finisher` runs once. `None`: a request with no
    /// record to finish (nothing logs it).
    pub fn new(inner: B, finisher: impl Into<Option<Finisher>>) -> Self {
        CompletionBody {
            inner,
            sent: 0,
            finisher: finisher.into(),
            capture: None,
        }
    }

    /// Keeps the first `limit` bytes of the body and, when it is done,
    /// gives them to the record's endpoint and method response events
    /// (see [`Finisher`]): the data trace of a streamed body.
    pub fn capturing(mut self, limit: usize) -> Self {
        if self.finisher.is_some() {
            self.capture = Some(Box::new(Capture {
                kept: bytes::BytesMut::with_capacity(limit.min(16 * 1024)),
                limit,
            }));
        }
        self
    }

    fn done(&mut self) {
        if let Some(mut f) = self.finisher.take() {
            if let Some(capture) = self.capture.take() {
                f.fill_streamed_body(capture.into_bytes());
            }
            f.finish(self.sent);
        }
    }
}

impl<B> Body for CompletionBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.sent += data.len() as u64;
                    if let Some(capture) = &mut this.capture {
                        capture.keep(data);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.done();
                Poll::Ready(Some(Err(e.into())))
            }
            Poll::Ready(None) => {
                this.done();
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for CompletionBody<B> {
    fn drop(&mut self) {
        self.done();
    }
}

/// A streamed backend body that must finish by a deadline (the integration
/// timeout, counted from when the request was sent). A backend that trickles
/// its body past the deadline has the stream cut with an error.
///
/// The timer is armed only when the body first has to wait: a small body
/// that arrived with the response head (most of them) never registers one,
/// which saves an allocation and the timer wheel's insert and remove.
pub struct DeadlineBody<B> {
    inner: B,
    deadline: tokio::time::Instant,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> DeadlineBody<B> {
    /// Wraps `inner`, failing it at `deadline`.
    pub fn new(inner: B, deadline: tokio::time::Instant) -> Self {
        DeadlineBody {
            inner,
            deadline,
            timer: None,
        }
    }
}

impl<B> std::fmt::Debug for DeadlineBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadlineBody")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

/// The error a [`DeadlineBody`] yields when time is up.
#[derive(Debug, thiserror::Error)]
#[error("integration response body not complete before the integration timeout")]
pub struct BodyDeadlineExceeded;

impl<B> Body for DeadlineBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => match this
                .timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(this.deadline)))
                .as_mut()
                .poll(cx)
            {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyDeadlineExceeded)))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};
    use std::time::Duration;

    /// A body whose data never comes.
    struct Stalled;

    impl Body for Stalled {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Pending
        }
    }

    #[tokio::test]
    async fn a_body_at_hand_is_read_without_arming_the_timer() {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut body = DeadlineBody::new(Full::new(Bytes::from_static(b"ok")), deadline);
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "ok");
        assert!(body.frame().await.is_none());
        assert!(body.timer.is_none());
    }

    #[tokio::test]
    async fn a_stalled_body_is_cut_at_the_deadline() {
        let started = tokio::time::Instant::now();
        let mut body = DeadlineBody::new(Stalled, started + Duration::from_millis(50));
        let outcome = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("the deadline ends the wait");
        let error = outcome.unwrap().unwrap_err();
        assert!(error.is::<BodyDeadlineExceeded>(), "{error}");
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    /// A body of the given data frames, each its own frame.
    struct Frames(std::collections::VecDeque<Bytes>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(self.0.pop_front().map(|data| Ok(Frame::data(data))))
        }
    }

    /// Keeps the records it is given.
    #[derive(Default)]
    struct Kept(std::sync::Mutex<Vec<RequestRecord>>);

    impl RecordSink for Kept {
        fn submit(&self, record: RequestRecord) {
            self.0.lock().unwrap().push(record);
        }
    }

    fn streamed_body_of(record: &RequestRecord) -> (Option<Bytes>, Option<Bytes>) {
        let mut found = (None, None);
        for event in &record.events {
            match &event.kind {
                ExecutionEventKind::EndpointResponse { body, .. } => found.0 = body.clone(),
                ExecutionEventKind::MethodResponse { body, .. } => found.1 = body.clone(),
                _ => {}
            }
        }
        found
    }

    async fn stream_through(frames: &[&'static str], limit: Option<usize>) -> RequestRecord {
        let sink = Arc::new(Kept::default());
        let event = |kind| ExecutionEvent {
            at: std::time::SystemTime::now(),
            kind,
        };
        let finisher = Finisher {
            context: Box::default(),
            events: vec![
                event(ExecutionEventKind::EndpointResponse {
                    status: 200,
                    latency_ms: 1,
                    headers: Default::default(),
                    body: None,
                }),
                event(ExecutionEventKind::MethodResponse {
                    status: 200,
                    headers: Default::default(),
                    body: None,
                }),
                event(ExecutionEventKind::Completed { status: 200 }),
            ],
            started: Instant::now(),
            sink: sink.clone() as Arc<dyn RecordSink>,
            permit: None,
        };
        let inner = Frames(
            frames
                .iter()
                .map(|f| Bytes::from_static(f.as_bytes()))
                .collect(),
        );
        let mut body = CompletionBody::new(inner, finisher);
        if let Some(limit) = limit {
            body = body.capturing(limit);
        }
        let sent = body.collect().await.unwrap().to_bytes();
        assert_eq!(sent, frames.concat(), "the client gets every byte");
        let mut kept = sink.0.lock().unwrap();
        assert_eq!(kept.len(), 1);
        kept.pop().unwrap()
    }

    #[tokio::test]
    async fn a_captured_stream_gives_its_first_bytes_to_the_trace() {
        let record = stream_through(&["{\"a\":", "", "1,\"b\":", "2}"], Some(9)).await;
        let (endpoint, method) = streamed_body_of(&record);
        assert_eq!(endpoint.as_deref(), Some(&b"{\"a\":1,\"b"[..]));
        assert_eq!(method, endpoint);
        assert_eq!(record.context.response_length, Some(13));

        let whole = stream_through(&["one frame"], Some(100)).await;
        assert_eq!(
            streamed_body_of(&whole).0.as_deref(),
            Some(&b"one frame"[..])
        );

        let empty = stream_through(&[], Some(100)).await;
        assert_eq!(streamed_body_of(&empty).0.as_deref(), Some(&b""[..]));
    }

    #[tokio::test]
    async fn a_cut_inside_a_character_moves_back_before_it() {
        // "é" is two bytes: a limit of 4 falls inside the second one.
        let record = stream_through(&["aé", "é"], Some(4)).await;
        assert_eq!(
            streamed_body_of(&record).0.as_deref(),
            Some("aé".as_bytes())
        );
        // Bytes that are not text are kept as they came.
        let binary = Capture {
            kept: bytes::BytesMut::from(&b"\xff\xfe\xfd"[..]),
            limit: 3,
        };
        assert_eq!(&binary.into_bytes()[..], b"\xff\xfe\xfd");
    }

    #[tokio::test]
    async fn an_uncaptured_stream_leaves_the_trace_without_a_body() {
        let record = stream_through(&["abc", "def"], None).await;
        assert_eq!(streamed_body_of(&record), (None, None));
    }
}
