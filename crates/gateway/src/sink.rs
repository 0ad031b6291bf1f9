//! Where finished requests go: the boundary between the data plane and the
//! logging stage. Submitting never blocks the request path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use std::future::Future;
use std::pin::Pin;

use tokio::sync::mpsc::{self, OwnedPermit};

use crate::context::RequestRecord;

/// Room for one record, taken before a request runs.
pub enum Reservation {
    /// Taken at once (the usual case: the queue has room), or `None` when
    /// the queue is closed.
    Ready(Option<OwnedPermit<RequestRecord>>),
    /// The queue is full: room arrives when the writer frees some.
    Wait(Pin<Box<dyn Future<Output = Option<OwnedPermit<RequestRecord>>> + Send>>),
}

impl Reservation {
    /// The permit, once there is room (`None`: the queue is closed).
    pub async fn taken(self) -> Option<OwnedPermit<RequestRecord>> {
        match self {
            Reservation::Ready(permit) => permit,
            Reservation::Wait(wait) => wait.await,
        }
    }
}

/// Receives one [`RequestRecord`] per finished request. Implementations must
/// not block: the call happens on the request's task.
pub trait RecordSink: Send + Sync + 'static {
    /// Takes a finished request (never waits; may drop and count).
    fn submit(&self, record: RequestRecord);

    /// For backpressure: room for one record, taken at once when the queue
    /// has some, else waited for; a request is admitted once it has room, so
    /// a writer that falls behind slows clients down instead of losing
    /// logs. `None`: no backpressure, [`RecordSink::submit`] is used.
    fn reserve(&self) -> Option<Reservation> {
        None
    }

    /// False when a reservation would have to wait (the queue is full).
    fn has_room(&self) -> bool {
        true
    }
}

/// Drops every record (no logging configured).
#[derive(Debug, Default, Clone, Copy)]
pub struct DiscardSink;

impl RecordSink for DiscardSink {
    fn submit(&self, _record: RequestRecord) {}
}

/// Hands records to a bounded channel. By default a full channel applies
/// backpressure: a response's body completes only once its record has room
/// (see [`RecordSink::reserve`]). With [`QueuePolicy::Drop`], or when the
/// client is already gone, a record that finds the channel full is dropped
/// and counted instead.
#[derive(Debug, Clone)]
pub struct ChannelSink {
    tx: mpsc::Sender<RequestRecord>,
    dropped: Arc<AtomicU64>,
    policy: QueuePolicy,
}

/// What a full log queue does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueuePolicy {
    /// Wait for room: clients are slowed, no record is lost.
    #[default]
    Backpressure,
    /// Drop the record and count it (`/metrics`).
    Drop,
}

impl ChannelSink {
    /// A sink and the receiver to drain it; `capacity` records may wait.
    pub fn new(capacity: usize) -> (ChannelSink, mpsc::Receiver<RequestRecord>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (
            ChannelSink {
                tx,
                dropped: Arc::new(AtomicU64::new(0)),
                policy: QueuePolicy::default(),
            },
            rx,
        )
    }

    /// The same sink with another full-queue policy.
    pub fn with_policy(mut self, policy: QueuePolicy) -> ChannelSink {
        self.policy = policy;
        self
    }

    /// Records dropped because the channel was full or closed.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Records waiting in the channel.
    pub fn depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

impl RecordSink for ChannelSink {
    fn submit(&self, record: RequestRecord) {
        if self.tx.try_send(record).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn has_room(&self) -> bool {
        self.policy == QueuePolicy::Drop || self.tx.capacity() > 0
    }

    fn reserve(&self) -> Option<Reservation> {
        if self.policy == QueuePolicy::Drop {
            return None;
        }
        // Without a boxed future when there is room (almost always).
        Some(match self.tx.clone().try_reserve_owned() {
            Ok(permit) => Reservation::Ready(Some(permit)),
            Err(mpsc::error::TrySendError::Full(tx)) => {
                Reservation::Wait(Box::pin(async move { tx.reserve_owned().await.ok() }))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Reservation::Ready(None),
        })
    }
}

/// One bounded queue per data-plane thread, each drained by a log writer
/// running on that same thread, plus a shared queue for records finished
/// anywhere else.
///
/// A record is then built, rendered and freed by one thread: the writer
/// reads a context still in that core's cache, its strings go back to the
/// allocator's thread-local free lists, and no record crosses cores. The
/// writer is a task beside the thread's connections, so it never runs
/// before a response is sent; it yields between chunks of a batch so a
/// large batch does not hold up the thread's requests.
#[derive(Debug)]
pub struct ThreadSinks {
    /// Tells this set's queues apart from another gateway's in the same
    /// process (tests run several).
    id: u64,
    capacity: usize,
    policy: QueuePolicy,
    shared: ChannelSink,
    /// Every thread's queue, for the `/metrics` totals.
    threads: std::sync::Mutex<Vec<ChannelSink>>,
}

thread_local! {
    /// The calling thread's queue and the id of the set it belongs to
    /// (an `Rc`, so a lookup copies a pointer, not the queue's sender).
    static LOCAL: std::cell::RefCell<Option<(u64, std::rc::Rc<ChannelSink>)>> =
        const { std::cell::RefCell::new(None) };
}

impl ThreadSinks {
    /// A set whose queues hold `capacity` records each, full-queue
    /// `policy`, and the receiver of the shared queue.
    pub fn new(
        capacity: usize,
        policy: QueuePolicy,
    ) -> (Arc<ThreadSinks>, mpsc::Receiver<RequestRecord>) {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let (shared, rx) = ChannelSink::new(capacity);
        let sinks = ThreadSinks {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            capacity,
            policy,
            shared: shared.with_policy(policy),
            threads: std::sync::Mutex::new(Vec::new()),
        };
        (Arc::new(sinks), rx)
    }

    /// Gives the calling thread a queue of its own; records finished on
    /// this thread from now on go to the returned receiver, which a writer
    /// on this thread should drain.
    pub fn install_here(&self) -> mpsc::Receiver<RequestRecord> {
        let (sink, rx) = ChannelSink::new(self.capacity);
        let sink = sink.with_policy(self.policy);
        self.threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(sink.clone());
        LOCAL.with(|local| *local.borrow_mut() = Some((self.id, std::rc::Rc::new(sink))));
        rx
    }

    /// Records dropped because a queue was full or closed, over all queues.
    pub fn dropped(&self) -> u64 {
        self.fold(self.shared.dropped(), |sum, s| sum + s.dropped())
    }

    /// Records waiting for a writer, over all queues.
    pub fn depth(&self) -> usize {
        self.fold(self.shared.depth(), |sum, s| sum + s.depth())
    }

    fn fold<T>(&self, init: T, f: impl FnMut(T, &ChannelSink) -> T) -> T {
        self.threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .fold(init, f)
    }

    /// Runs `f` on the calling thread's queue of this set, else on the
    /// shared queue.
    fn with_queue<R>(&self, f: impl FnOnce(&ChannelSink) -> R) -> R {
        let local = LOCAL
            .try_with(|local| match &*local.borrow() {
                Some((id, sink)) if *id == self.id => Some(std::rc::Rc::clone(sink)),
                _ => None,
            })
            // A thread whose locals are being torn down uses the shared queue.
            .ok()
            .flatten();
        f(local.as_deref().unwrap_or(&self.shared))
    }
}

impl RecordSink for ThreadSinks {
    fn submit(&self, record: RequestRecord) {
        self.with_queue(|q| q.submit(record))
    }

    fn has_room(&self) -> bool {
        self.with_queue(|q| q.has_room())
    }

    fn reserve(&self) -> Option<Reservation> {
        self.with_queue(|q| q.reserve())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> RequestRecord {
        RequestRecord {
            context: Box::new(crate::context::RequestContext {
                request_id: id.to_string(),
                ..Default::default()
            }),
            events: Vec::new(),
        }
    }

    #[test]
    fn each_thread_fills_its_own_queue_and_others_share_one() {
        let (sinks, mut shared) = ThreadSinks::new(8, QueuePolicy::Backpressure);
        let (other, mut other_shared) = ThreadSinks::new(8, QueuePolicy::Backpressure);
        let worker = {
            let sinks = Arc::clone(&sinks);
            let other = Arc::clone(&other);
            std::thread::spawn(move || {
                let mut mine = sinks.install_here();
                sinks.submit(record("on-worker"));
                // Another set's records on this thread go to that set's
                // shared queue, never into this thread's queue of the first.
                other.submit(record("other-set"));
                let got = mine.try_recv().map(|r| r.context.request_id);
                (got, mine.try_recv().is_err())
            })
        };
        let (got, then_empty) = worker.join().unwrap();
        assert_eq!(got.as_deref(), Ok("on-worker"));
        assert!(then_empty);
        sinks.submit(record("on-main"));
        assert_eq!(shared.try_recv().unwrap().context.request_id, "on-main");
        assert_eq!(
            other_shared.try_recv().unwrap().context.request_id,
            "other-set"
        );
        assert!(shared.try_recv().is_err());
    }

    #[tokio::test]
    async fn room_is_taken_at_once_waited_for_when_full_and_none_once_closed() {
        let (sink, mut rx) = ChannelSink::new(1);
        let first = match sink.reserve() {
            Some(Reservation::Ready(Some(permit))) => permit,
            _ => panic!("an empty queue has room at once"),
        };
        let waiting = match sink.reserve() {
            Some(Reservation::Wait(wait)) => wait,
            _ => panic!("a full queue makes the reservation wait"),
        };
        first.send(record("first"));
        let waiter = tokio::spawn(async move { waiting.await.map(|p| p.send(record("second"))) });
        assert_eq!(rx.recv().await.unwrap().context.request_id, "first");
        // Receiving made room: the waiting reservation gets it.
        assert!(waiter.await.unwrap().is_some());
        assert_eq!(rx.recv().await.unwrap().context.request_id, "second");
        drop(rx);
        assert!(matches!(sink.reserve(), Some(Reservation::Ready(None))));
        let dropping = sink.clone().with_policy(QueuePolicy::Drop);
        assert!(dropping.reserve().is_none(), "the drop policy never waits");
    }

    #[test]
    fn totals_cover_every_queue() {
        let (sinks, _shared) = ThreadSinks::new(1, QueuePolicy::Drop);
        let worker = {
            let sinks = Arc::clone(&sinks);
            std::thread::spawn(move || {
                let rx = sinks.install_here();
                sinks.submit(record("kept"));
                sinks.submit(record("dropped"));
                rx
            })
        };
        let _rx = worker.join().unwrap();
        sinks.submit(record("kept too"));
        sinks.submit(record("dropped too"));
        assert_eq!(sinks.depth(), 2);
        assert_eq!(sinks.dropped(), 2);
    }
}
