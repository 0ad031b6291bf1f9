//! Durable ingest benchmark for the log store (not a test).
//!
//! `cargo run --release -p gatewatch-store --example ingest -- [WRITERS] [BATCHES_PER_WRITER] [DIR]`
//!
//! Each writer puts batches of 1,000 events of ~200 bytes into its own
//! stream (the same batch each time, built before the clock starts, as the
//! reference's bytes are); every call returns only once its batch is fsynced. For reference
//! the same bytes are then appended to a plain file with one fsync per batch
//! (the raw limit of the disk for this batch size) by the same number of
//! writers sharing the file.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use gatewatch_store::{CreateLogGroup, InputLogEvent, Scope, Store, StoreConfig};

const EVENTS_PER_BATCH: usize = 1_000;

// The allocator the `gatewatch` binary runs the store with.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn message(i: usize) -> String {
    // ~200 bytes, like an access-log JSON line.
    format!(
        "{{\"requestId\":\"{:08x}-7f7e-4c55-9d47-1b1f5c0c7a11\",\"ip\":\"203.0.113.{}\",\"requestTime\":\"25/Nov/2026:10:39:40 +0000\",\"httpMethod\":\"GET\",\"resourcePath\":\"/pets/{{petId}}\",\"status\":\"200\",\"responseLength\":\"{}\"}}",
        i,
        i % 255,
        100 + i % 900
    )
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let writers: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(4);
    let batches: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100);
    let dir = args
        .get(3)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("gatewatch-ingest-{}", std::process::id()))
        });
    let _ = std::fs::remove_dir_all(&dir);

    let store = Store::open(&dir.join("store"), StoreConfig::default()).unwrap();
    let scope = Scope::new("000000000000", "us-east-1");
    store
        .create_log_group(&scope, "bench", CreateLogGroup::default())
        .await
        .unwrap();
    for w in 0..writers {
        store
            .create_log_stream(&scope, "bench", &format!("w{w}"))
            .await
            .unwrap();
    }
    let payload: Arc<Vec<String>> = Arc::new((0..EVENTS_PER_BATCH).map(message).collect());
    let bytes_per_batch: usize = payload.iter().map(String::len).sum();
    // The batch is built before the clock starts, as the raw reference's
    // bytes are: making the events is the client's cost, not the store's.
    let now = gatewatch_store::now_ms();
    let batch: Arc<Vec<InputLogEvent>> = Arc::new(
        payload
            .iter()
            .map(|m| InputLogEvent {
                timestamp: now,
                message: m.clone(),
            })
            .collect(),
    );

    settle();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        let scope = scope.clone();
        let batch = Arc::clone(&batch);
        tasks.push(tokio::spawn(async move {
            let stream = format!("w{w}");
            for _ in 0..batches {
                store
                    .put_log_events(&scope, "bench", &stream, &batch)
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let store_secs = started.elapsed().as_secs_f64();
    let events = writers * batches * EVENTS_PER_BATCH;
    // The store's engine stops before the reference runs, so its
    // background flush does not compete with the reference.
    drop(store);

    // Raw reference: the same bytes appended with one fsync per batch.
    let raw_path = dir.join("raw.log");
    let file = Arc::new(std::sync::Mutex::new(
        std::fs::File::create(&raw_path).unwrap(),
    ));
    let block: Arc<Vec<u8>> = Arc::new(
        payload
            .iter()
            .flat_map(|m| m.bytes().chain(std::iter::once(b'\n')))
            .collect(),
    );
    settle();
    let started = Instant::now();
    let handles: Vec<_> = (0..writers)
        .map(|_| {
            let file = Arc::clone(&file);
            let block = Arc::clone(&block);
            std::thread::spawn(move || {
                for _ in 0..batches {
                    let mut f = file.lock().unwrap();
                    f.write_all(&block).unwrap();
                    f.sync_data().unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let raw_secs = started.elapsed().as_secs_f64();

    let rate = events as f64 / store_secs;
    let raw_rate = events as f64 / raw_secs;
    println!(
        "writers={writers} batches/writer={batches} events/batch={EVENTS_PER_BATCH} bytes/event~{}",
        bytes_per_batch / EVENTS_PER_BATCH
    );
    println!("store (durable, group commit): {events} events in {store_secs:.2}s = {rate:.0} events/s, {:.1} MB/s", rate * (bytes_per_batch / EVENTS_PER_BATCH) as f64 / 1e6);
    println!(
        "raw append + fsync per batch:  {events} events in {raw_secs:.2}s = {raw_rate:.0} events/s"
    );
    println!("ratio store/raw: {:.2}", rate / raw_rate);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes back every dirty page of the machine (`sync`), so neither timed
/// part pays for the page cache the other (or an earlier run) left behind.
fn settle() {
    let _ = std::process::Command::new("sync").status();
}
