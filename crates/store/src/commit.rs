//! Group commit: every durable write goes through one committer thread that
//! gathers whatever requests are waiting, writes them as one atomic batch to
//! the engine's journal, fsyncs once, and then acknowledges them all. Many
//! concurrent writers thus share one fsync, and nothing is acknowledged before
//! it is on disk.

use std::sync::mpsc;
use std::thread;

use fjall::{Database, Keyspace, PersistMode};
use tokio::sync::oneshot;

use crate::error::{StoreError, StoreResult};

/// Which keyspace a write goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    /// Metadata.
    Meta,
    /// Events.
    Events,
}

/// One write.
#[derive(Debug)]
pub enum Write {
    /// Insert or replace. The value is the engine's own byte type, so a
    /// value built for it (an event block) goes into the memtable without
    /// another copy.
    Put(Space, Vec<u8>, fjall::Slice),
    /// Delete.
    Delete(Space, Vec<u8>),
}

struct Request {
    writes: Vec<Write>,
    ack: oneshot::Sender<StoreResult<()>>,
}

/// Handle to the committer thread.
#[derive(Clone)]
pub struct Committer {
    tx: mpsc::Sender<Request>,
}

/// Most bytes gathered into one batch before it is committed.
const MAX_BATCH_BYTES: usize = 64 * 1024 * 1024;

impl Committer {
    /// Starts the committer thread. `counters` are the keys of monotonic
    /// counters (next id, next seq): a write to one of them never lowers
    /// the stored value, whatever order concurrent allocators enqueue in.
    pub fn start(
        db: Database,
        meta: Keyspace,
        events: Keyspace,
        counters: Vec<(Vec<u8>, u64)>,
    ) -> Committer {
        let (tx, rx) = mpsc::channel::<Request>();
        thread::Builder::new()
            .name("gatewatch-store-commit".into())
            .spawn(move || run(db, meta, events, rx, counters))
            .expect("spawn the committer thread");
        Committer { tx }
    }

    /// Queues writes; the returned receiver resolves once they are durable.
    /// Callers enqueue while holding the catalog lock so that commit order
    /// equals the order in which the catalog changed.
    pub fn enqueue(&self, writes: Vec<Write>) -> oneshot::Receiver<StoreResult<()>> {
        let (ack, done) = oneshot::channel();
        if let Err(mpsc::SendError(req)) = self.tx.send(Request { writes, ack }) {
            let _ = req.ack.send(Err(StoreError::ServiceUnavailable(
                "The log store is shutting down.".into(),
            )));
        }
        done
    }
}

/// Waits for a queued commit.
pub async fn durable(done: oneshot::Receiver<StoreResult<()>>) -> StoreResult<()> {
    done.await.unwrap_or_else(|_| {
        Err(StoreError::ServiceUnavailable(
            "The log store stopped before the write was durable.".into(),
        ))
    })
}

fn run(
    db: Database,
    meta: Keyspace,
    events: Keyspace,
    rx: mpsc::Receiver<Request>,
    mut counters: Vec<(Vec<u8>, u64)>,
) {
    let mut failed: Option<String> = None;
    while let Ok(first) = rx.recv() {
        let mut pending = vec![first];
        let mut bytes = size(&pending[0].writes);
        while bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(req) => {
                    bytes += size(&req.writes);
                    pending.push(req);
                }
                Err(_) => break,
            }
        }
        let result = match &failed {
            // After an I/O failure the engine may be poisoned: refuse
            // everything rather than acknowledge writes that may not be durable.
            Some(reason) => Err(StoreError::ServiceUnavailable(reason.clone())),
            None => commit(&db, &meta, &events, &mut pending, &mut counters),
        };
        if let Err(StoreError::ServiceUnavailable(reason)) = &result {
            if failed.is_none() {
                tracing::error!(%reason, "log store commit failed; refusing further writes");
                failed = Some(reason.clone());
            }
        }
        for req in pending {
            let _ = req.ack.send(result.clone());
        }
    }
}

fn size(writes: &[Write]) -> usize {
    writes
        .iter()
        .map(|w| match w {
            Write::Put(_, k, v) => k.len() + v.len(),
            Write::Delete(_, k) => k.len(),
        })
        .sum()
}

fn commit(
    db: &Database,
    meta: &Keyspace,
    events: &Keyspace,
    pending: &mut [Request],
    counters: &mut [(Vec<u8>, u64)],
) -> StoreResult<()> {
    // Durability is part of the commit: the journal is fsynced before the
    // batch becomes visible to readers, so nothing is readable that a crash
    // could take back.
    let mut batch = db.batch().durability(Some(PersistMode::SyncData));
    for req in pending.iter_mut() {
        for w in req.writes.iter_mut() {
            if let Write::Put(Space::Meta, k, v) = w {
                if let Some((_, highest)) = counters.iter_mut().find(|(key, _)| key == k) {
                    let proposed = <[u8; 8]>::try_from(&v[..])
                        .map(u64::from_be_bytes)
                        .unwrap_or(0);
                    *highest = (*highest).max(proposed);
                    *v = fjall::Slice::new(&highest.to_be_bytes());
                }
            }
        }
        for w in &req.writes {
            match w {
                Write::Put(space, k, v) => {
                    let ks = if *space == Space::Meta { meta } else { events };
                    batch.insert(ks, k.as_slice(), v.clone());
                }
                Write::Delete(space, k) => {
                    let ks = if *space == Space::Meta { meta } else { events };
                    batch.remove(ks, k.as_slice());
                }
            }
        }
    }
    batch.commit()?;
    Ok(())
}
