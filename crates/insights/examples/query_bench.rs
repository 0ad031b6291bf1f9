//! Logs Insights benchmark: generates N API Gateway access-log events into a
//! fresh store, compacts them into Parquet segments (as a running gatewatch
//! does after five minutes), exports the same events as NDJSON and as
//! flattened Parquet for the DuckDB comparison, then times each query.
//!
//! ```text
//! cargo run --release -p gatewatch-insights --example query_bench -- \
//!     --events 1000000 --dir /var/tmp/gw-insights-bench
//! ```
//!
//! Prints one JSON object per line: the setup figures, then per query
//! `{"engine":"gatewatch","query":..,"seconds":..,"rows":..,"bytes_scanned":..}`
//! (best of `--runs`). `bench/insights.sh` runs it next to DuckDB.

use std::io::Write;
use std::time::Instant;

use gatewatch_insights::export::{write_ndjson, ExportEvent, ParquetExport};
use gatewatch_insights::sample::requests;
use gatewatch_insights::{compile, run, QueryRequest};
use gatewatch_store::model::{InputLogEvent, Scope};
use gatewatch_store::{Store, StoreConfig};

/// The allocator the `gatewatch` binary runs with, so that queries allocate
/// as they do there.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The benchmark queries: (name, Logs Insights query).
pub const QUERIES: &[(&str, &str)] = &[
    ("count_by_status", "stats count(*) as n by status"),
    (
        "p95_latency_by_route_5m",
        "stats pct(responseLatency, 95) as p95 by resourcePath, bin(5m)",
    ),
    (
        "top10_ips",
        "stats count(*) as c by ip | sort c desc | limit 10",
    ),
    (
        "filter_parse",
        "filter status >= 500 | parse @message '\"resourcePath\":\"*\"' as path | stats count(*) as n by path",
    ),
    (
        "substring_filter",
        "filter @message like \"HTTP/2.0\" | stats count(*) as n",
    ),
];

const GROUP: &str = "/bench/access";
const STREAMS: usize = 4;
const DAY_MS: i64 = 86_400_000;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let events: usize = arg("--events")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let runs: usize = arg("--runs").and_then(|v| v.parse().ok()).unwrap_or(3);
    let dir = std::path::PathBuf::from(
        arg("--dir").unwrap_or_else(|| "/var/tmp/gw-insights-bench".into()),
    );
    // `--reuse` queries the data of an earlier run in the same folder.
    let reuse = std::env::args().any(|a| a == "--reuse") && dir.join("start").exists();
    if !reuse {
        let _ = std::fs::remove_dir_all(dir.join("store"));
    }
    std::fs::create_dir_all(&dir).expect("bench dir");
    let config = StoreConfig {
        max_event_age_ms: i64::MAX / 4,
        max_future_ms: i64::MAX / 4,
    };
    let store = Store::open(&dir.join("store"), config).expect("store");
    let scope = Scope::new("000000000000", "us-east-1");
    store.ensure_log_group(&scope, GROUP).await.expect("group");
    for s in 0..STREAMS {
        store
            .ensure_log_stream(&scope, GROUP, &format!("stream-{s}"))
            .await
            .expect("stream");
    }
    // One day of traffic ending an hour ago.
    let start = if reuse {
        std::fs::read_to_string(dir.join("start"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .expect("start of the earlier run")
    } else {
        gatewatch_store::now_ms() - DAY_MS - 3_600_000
    };
    let step = (DAY_MS / events as i64).max(1);
    if reuse {
        // What a running gatewatch's maintenance does after a restart.
        while store.compact(0).await.expect("compact") > 0 {}
    } else {
        ingest(&store, &scope, &dir, events, start, step).await;
        std::fs::write(dir.join("start"), start.to_string()).expect("start file");
    }
    // Queries are timed on a settled store, as on a gatewatch whose last
    // compaction was a while ago: right after moving the events into
    // segments, the storage engine is still merging and collecting the
    // hot tier's files in the background, on one of the cores the queries
    // (and DuckDB, timed later) would use.
    let settled = settle();
    println!(
        "{}",
        serde_json::json!({ "settled": { "seconds": settled } })
    );
    let end = gatewatch_store::now_ms();
    // `--query TEXT` (repeatable) times those instead of the standard set.
    let args: Vec<String> = std::env::args().collect();
    let adhoc: Vec<(String, String)> = args
        .windows(2)
        .filter(|w| w[0] == "--query")
        .map(|w| (w[1].clone(), w[1].clone()))
        .collect();
    let queries: Vec<(String, String)> = if adhoc.is_empty() {
        QUERIES
            .iter()
            .map(|(n, q)| (n.to_string(), q.to_string()))
            .collect()
    } else {
        adhoc
    };
    for (name, text) in &queries {
        let q = compile(text).expect("query compiles");
        let text = text.as_str();
        let req = QueryRequest {
            query: text.to_string(),
            groups: vec![GROUP.to_string()],
            start_ms: start - 1,
            end_ms: end,
            limit: None,
        };
        let mut best = f64::MAX;
        let mut out = None;
        for _ in 0..runs {
            let t = Instant::now();
            let o = run(&store, &scope, &q, &req).await.expect("query runs");
            best = best.min(t.elapsed().as_secs_f64());
            out = Some(o);
        }
        let out = out.expect("at least one run");
        let first = out.rows.first().cloned().unwrap_or_default();
        println!(
            "{}",
            serde_json::json!({
                "engine": "gatewatch",
                "query": name,
                "insights": text,
                "seconds": best,
                "rows": out.rows.len(),
                "records_scanned": out.statistics.records_scanned,
                "bytes_scanned": out.statistics.bytes_scanned,
                "first_row": first,
            })
        );
    }
}

/// Waits until this process has used under 5 % of a core for a whole
/// second (at most two minutes); returns the seconds waited.
fn settle() -> f64 {
    // utime + stime of the whole process, in clock ticks (1/100 s).
    fn ticks() -> Option<u64> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
    }
    let t0 = Instant::now();
    while t0.elapsed().as_secs() < 120 {
        let Some(before) = ticks() else { break };
        std::thread::sleep(std::time::Duration::from_secs(1));
        let Some(after) = ticks() else { break };
        if after.saturating_sub(before) <= 5 {
            break;
        }
    }
    t0.elapsed().as_secs_f64()
}

/// Generates, stores, exports and compacts the events; prints the figures.
async fn ingest(
    store: &Store,
    scope: &Scope,
    dir: &std::path::Path,
    events: usize,
    start: i64,
    step: i64,
) {
    let t0 = Instant::now();
    let reqs = requests(events, 42, start, step);
    let gen_s = t0.elapsed().as_secs_f64();

    let nd_path = dir.join("access.ndjson");
    let pq_path = dir.join("access.parquet");
    let mut ndjson = std::io::BufWriter::new(std::fs::File::create(&nd_path).expect("ndjson"));
    let mut parquet = ParquetExport::new(std::fs::File::create(&pq_path).expect("parquet"));
    let t0 = Instant::now();
    let mut message_bytes = 0u64;
    let mut export_s = 0.0;
    for chunk in reqs.chunks(2_500 * STREAMS) {
        let mut per_stream: Vec<Vec<InputLogEvent>> = vec![Vec::new(); STREAMS];
        let mut exported = Vec::with_capacity(chunk.len());
        for (i, r) in chunk.iter().enumerate() {
            let line = r.json_line();
            message_bytes += line.len() as u64;
            exported.push(ExportEvent {
                timestamp: r.timestamp,
                ingestion_time: r.timestamp,
                log_stream: format!("stream-{}", i % STREAMS),
                message: line.clone(),
            });
            per_stream[i % STREAMS].push(InputLogEvent {
                timestamp: r.timestamp,
                message: line,
            });
        }
        for (s, batch) in per_stream.iter().enumerate() {
            if !batch.is_empty() {
                store
                    .put_log_events(scope, GROUP, &format!("stream-{s}"), batch)
                    .await
                    .expect("put");
            }
        }
        let te = Instant::now();
        write_ndjson(&mut ndjson, &exported).expect("ndjson write");
        parquet.write(&exported).expect("parquet write");
        export_s += te.elapsed().as_secs_f64();
    }
    ndjson.flush().expect("flush");
    parquet.finish().expect("parquet finish");
    let ingest_s = t0.elapsed().as_secs_f64() - export_s;
    let t0 = Instant::now();
    // A run moves at most a million events; a running gatewatch's
    // maintenance keeps calling it, as this loop does.
    let mut moved = 0;
    loop {
        let n = store.compact(0).await.expect("compact");
        moved += n;
        if n == 0 {
            break;
        }
    }
    let compact_s = t0.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "setup": {
                "events": events,
                "message_bytes": message_bytes,
                "generate_s": gen_s,
                "ingest_s": ingest_s,
                "export_s": export_s,
                "compact_s": compact_s,
                "compacted": moved,
                "ndjson": nd_path,
                "parquet": pq_path,
            }
        })
    );
}
