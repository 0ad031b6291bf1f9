//! Where finished requests go: the boundary between the data plane and the
//! logging stage. Submitting never blocks the request path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use std::future::Future;
use std::pin::Pin;

use tokio::sync::mpsc::{self, OwnedPermit};

use crate::context::RequestRecord;

/// Room for one record, waited for before a response's body completes.
pub type Reservation = Pin<Box<dyn Future<Output = Option<OwnedPermit<RequestRecord>>> + Send>>;

/// Receives one [`RequestRecord`] per finished request. Implementations must
/// not block: the call happens on the request's task.
pub trait RecordSink: Send + Sync + 'static {
    /// Takes a finished request (never waits; may drop and count).
    fn submit(&self, record: RequestRecord);

    /// For backpressure: a future resolving to room for one record. The
    /// response body does not complete until it resolves, so a writer that
    /// falls behind slows clients down instead of losing logs. `None`: no
    /// backpressure, [`RecordSink::submit`] is used.
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
        let tx = self.tx.clone();
        Some(Box::pin(async move { tx.reserve_owned().await.ok() }))
    }
}
