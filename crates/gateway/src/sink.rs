//! Where finished requests go: the boundary between the data plane and the
//! logging stage. Submitting never blocks the request path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::context::RequestRecord;

/// Receives one [`RequestRecord`] per finished request. Implementations must
/// not block: the call happens on the request's task.
pub trait RecordSink: Send + Sync + 'static {
    /// Takes a finished request.
    fn submit(&self, record: RequestRecord);
}

/// Drops every record (no logging configured).
#[derive(Debug, Default, Clone, Copy)]
pub struct DiscardSink;

impl RecordSink for DiscardSink {
    fn submit(&self, _record: RequestRecord) {}
}

/// Hands records to a bounded channel. When the consumer falls behind, new
/// records are dropped and counted rather than slowing the data plane.
#[derive(Debug, Clone)]
pub struct ChannelSink {
    tx: mpsc::Sender<RequestRecord>,
    dropped: Arc<AtomicU64>,
}

impl ChannelSink {
    /// A sink and the receiver to drain it; `capacity` records may wait.
    pub fn new(capacity: usize) -> (ChannelSink, mpsc::Receiver<RequestRecord>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (
            ChannelSink {
                tx,
                dropped: Arc::new(AtomicU64::new(0)),
            },
            rx,
        )
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
}
