//! Golden result tests: every `tests/golden/*.test` file holds cases of a
//! query and the table it must produce over a fixed generated data set of
//! API Gateway logs (JSON and CLF access lines, execution lines, Lambda
//! lines), half compacted into Parquet segments and half in the hot tier.
//!
//! A case:
//!
//! ```text
//! query access
//! stats count(*) as n by status | sort status
//! ----
//! status | n
//! 200 | 140
//! (11 rows, matched 200)
//! ```
//!
//! A time range may follow the groups: `query exec 2026-11-25T09:00:00Z
//! 2026-11-25T09:59:59Z`. `error GROUP` cases expect a MalformedQueryException message with its
//! character offsets. Absent values print as `NULL`. Run with
//! `GOLDEN_UPDATE=1` to rewrite the expectations from the actual output
//! (then review the diff).

use std::path::{Path, PathBuf};

use gatewatch_insights::sample::requests;
use gatewatch_insights::{compile, run, QueryRequest};
use gatewatch_store::model::{InputLogEvent, Scope};
use gatewatch_store::{Store, StoreConfig};

const ACCESS: &str = "/aws/apigateway/orders-api/prod-access";
const CLF: &str = "/aws/apigateway/orders-api/prod-clf";
const EXEC: &str = "API-Gateway-Execution-Logs_abc123/prod";
const LAMBDA: &str = "/aws/lambda/orders";

/// 2026-11-25T08:00:00Z.
const START: i64 = 1_795_593_600_000;
const REQUESTS: usize = 200;
const STEP: i64 = 37_000;

fn scope() -> Scope {
    Scope::new("123456789012", "us-east-1")
}

async fn put(store: &Store, group: &str, stream: &str, events: Vec<InputLogEvent>) {
    store.ensure_log_group(&scope(), group).await.unwrap();
    store
        .ensure_log_stream(&scope(), group, stream)
        .await
        .unwrap();
    for chunk in events.chunks(5000) {
        store
            .put_log_events(&scope(), group, stream, chunk)
            .await
            .unwrap();
    }
}

async fn load(store: &Store, reqs: &[gatewatch_insights::sample::Request]) {
    let ev = |t: i64, m: String| InputLogEvent {
        timestamp: t,
        message: m,
    };
    for (i, stream) in ["2026/11/25/[$LATEST]a", "2026/11/25/[$LATEST]b"]
        .iter()
        .enumerate()
    {
        let part: Vec<_> = reqs
            .iter()
            .filter(|r| r.timestamp / STEP % 2 == i as i64)
            .collect();
        put(
            store,
            ACCESS,
            stream,
            part.iter()
                .map(|r| ev(r.timestamp, r.json_line()))
                .collect(),
        )
        .await;
        put(
            store,
            CLF,
            stream,
            part.iter().map(|r| ev(r.timestamp, r.clf_line())).collect(),
        )
        .await;
        put(
            store,
            LAMBDA,
            stream,
            part.iter()
                .flat_map(|r| {
                    r.lambda_lines()
                        .into_iter()
                        .enumerate()
                        .map(move |(k, l)| ev(r.timestamp + k as i64, l))
                })
                .collect(),
        )
        .await;
    }
    put(
        store,
        EXEC,
        "8f14e45fceea167a5a36dedd4bea2543",
        reqs.iter()
            .flat_map(|r| {
                r.execution_lines()
                    .into_iter()
                    .enumerate()
                    .map(move |(k, l)| ev(r.timestamp + k as i64, l))
            })
            .collect(),
    )
    .await;
}

fn group_of(key: &str) -> &'static str {
    match key {
        "access" => ACCESS,
        "clf" => CLF,
        "exec" => EXEC,
        "lambda" => LAMBDA,
        other => panic!("unknown group key {other}"),
    }
}

struct Case {
    kind: String,
    groups: String,
    query: String,
    expected: String,
}

fn parse_cases(text: &str) -> (Vec<String>, Vec<Case>) {
    // Returns the leading text of each case (comments) and the cases.
    let mut preludes = Vec::new();
    let mut cases = Vec::new();
    let mut lines = text.lines().peekable();
    let mut prelude = String::new();
    while let Some(line) = lines.next() {
        if let Some(rest) = line
            .strip_prefix("query ")
            .or_else(|| line.strip_prefix("error "))
        {
            let kind = line.split(' ').next().unwrap().to_string();
            let mut query = Vec::new();
            for l in lines.by_ref() {
                if l == "----" {
                    break;
                }
                query.push(l);
            }
            let mut expected = Vec::new();
            while let Some(l) = lines.peek() {
                if l.is_empty() {
                    break;
                }
                expected.push(lines.next().unwrap());
            }
            preludes.push(std::mem::take(&mut prelude));
            cases.push(Case {
                kind,
                groups: rest.trim().to_string(),
                query: query.join("\n"),
                expected: expected.join("\n"),
            });
        } else {
            prelude.push_str(line);
            prelude.push('\n');
        }
    }
    preludes.push(prelude);
    (preludes, cases)
}

async fn actual(store: &Store, case: &Case) -> String {
    let q = match compile(&case.query) {
        Ok(q) => q,
        Err(e) => {
            return format!("{e} [{}, {})", e.span.start, e.span.end);
        }
    };
    // `GROUPS [START END]`, the times in RFC 3339 (default: the whole set).
    let mut words = case.groups.split_whitespace();
    let groups: Vec<String> = words
        .next()
        .unwrap_or("")
        .split(',')
        .map(|g| group_of(g.trim()).to_string())
        .collect();
    let time = |w: Option<&str>, default: i64| {
        w.map_or(default, |t| {
            (time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .expect("RFC 3339 time")
                .unix_timestamp_nanos()
                / 1_000_000) as i64
        })
    };
    let start_ms = time(words.next(), START - 3_600_000);
    let end_ms = time(words.next(), START + 86_400_000);
    let req = QueryRequest {
        query: case.query.clone(),
        groups,
        start_ms,
        end_ms,
        limit: None,
    };
    let out = match run(store, &scope(), &q, &req).await {
        Ok(o) => o,
        Err(gatewatch_insights::RunError::Malformed(e)) => {
            return format!("{e} [{}, {})", e.span.start, e.span.end)
        }
        Err(e) => return format!("{e}"),
    };
    let mut text = out.columns.join(" | ");
    for row in &out.rows {
        text.push('\n');
        let cells: Vec<String> = out
            .columns
            .iter()
            .map(|c| {
                row.iter()
                    .find(|(f, _)| f == c)
                    .map_or("NULL".to_string(), |(_, v)| v.replace('\n', "\\n"))
            })
            .collect();
        text.push_str(&cells.join(" | "));
    }
    text.push_str(&format!(
        "\n({} rows, matched {})",
        out.rows.len(),
        out.statistics.records_matched
    ));
    text
}

fn files() -> Vec<PathBuf> {
    // Cargo names the package directory at run time too; prefer that, so a
    // test binary reused from a build in another checkout reads this one's
    // files.
    let root = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let dir = Path::new(&root).join("tests/golden");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_queries() {
    let dir = std::env::temp_dir().join(format!("gw-insights-golden-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = StoreConfig {
        max_event_age_ms: i64::MAX / 4,
        max_future_ms: i64::MAX / 4,
    };
    let store = Store::open(&dir, config).unwrap();
    let reqs = requests(REQUESTS, 7, START, STEP);
    // First part into Parquet segments, the rest stays in the hot tier.
    let (cold, hot) = reqs.split_at(REQUESTS * 3 / 5);
    load(&store, cold).await;
    let moved = store.compact(0).await.unwrap();
    assert!(moved > 0, "compaction moved nothing");
    load(&store, hot).await;

    let update = std::env::var("GOLDEN_UPDATE").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    let mut total = 0;
    for file in files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let (preludes, cases) = parse_cases(&text);
        let mut rewritten = String::new();
        for (i, case) in cases.iter().enumerate() {
            total += 1;
            let got = actual(&store, case).await;
            let is_error = got.contains(" at line ") && !got.contains("rows, matched");
            if (case.kind == "error") != is_error {
                failures.push(format!(
                    "{}: case {}: expected {} but got:\n{got}",
                    file.display(),
                    i + 1,
                    if case.kind == "error" {
                        "an error"
                    } else {
                        "rows"
                    }
                ));
            } else if got != case.expected {
                failures.push(format!(
                    "{}: case {} `{}`\n--- expected\n{}\n--- actual\n{}",
                    file.display(),
                    i + 1,
                    case.query,
                    case.expected,
                    got
                ));
            }
            rewritten.push_str(&preludes[i]);
            rewritten.push_str(&format!(
                "{} {}\n{}\n----\n{}\n",
                case.kind, case.groups, case.query, got
            ));
        }
        rewritten.push_str(preludes.last().map(String::as_str).unwrap_or(""));
        if update {
            std::fs::write(&file, rewritten).unwrap();
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(total > 0, "no golden cases found");
    if !update {
        assert!(
            failures.is_empty(),
            "{} of {total} golden cases failed:\n\n{}",
            failures.len(),
            failures.join("\n\n")
        );
    }
}
