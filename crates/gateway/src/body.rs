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

use crate::context::{ExecutionEvent, RequestContext, RequestRecord};
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
}

impl<B> CompletionBody<B> {
    /// Wraps `inner`; `finisher` runs once. `None`: a request with no
    /// record to finish (nothing logs it).
    pub fn new(inner: B, finisher: impl Into<Option<Finisher>>) -> Self {
        CompletionBody {
            inner,
            sent: 0,
            finisher: finisher.into(),
        }
    }

    fn done(&mut self) {
        if let Some(f) = self.finisher.take() {
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
}
