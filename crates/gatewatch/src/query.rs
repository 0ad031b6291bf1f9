//! `gatewatch query` and `gatewatch export`, through a running gatewatch's
//! CloudWatch Logs API (StartQuery / GetQueryResults, FilterLogEvents), so
//! the answers are exactly what `aws logs start-query` gets.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use gatewatch_insights::export::{write_ndjson, ExportEvent, ParquetExport};
use serde_json::{json, Value};

use crate::cli::{ExportArgs, ExportFormat, QueryArgs, QueryFormat};
use crate::tools::{finish, runtime, Admin};

/// Longest wait for a query.
const QUERY_WAIT: Duration = Duration::from_secs(3600);

/// `gatewatch query`.
pub fn query(args: &QueryArgs) -> ExitCode {
    let result = runtime().block_on(async {
        let admin = Admin::new(&args.endpoint.endpoint);
        let (start, end) = match (args.start, args.end) {
            (Some(s), Some(e)) => (s, e),
            _ => {
                let now = gatewatch_store::now_ms() / 1000;
                (now - args.since / 1000, now)
            }
        };
        let mut input = json!({
            "queryString": args.query,
            "startTime": start,
            "endTime": end,
        });
        if !args.groups.is_empty() {
            input["logGroupNames"] = json!(args.groups);
        }
        if let Some(l) = args.limit {
            input["limit"] = json!(l);
        }
        let began = Instant::now();
        let started = admin.logs("StartQuery", input).await?;
        let id = started["queryId"].as_str().unwrap_or_default().to_string();
        let mut delay = Duration::from_millis(20);
        let result = loop {
            let r = admin
                .logs("GetQueryResults", json!({ "queryId": id }))
                .await?;
            match r["status"].as_str().unwrap_or("") {
                "Complete" => break r,
                "Failed" | "Cancelled" | "Timeout" => {
                    return Err(format!(
                        "query {}",
                        r["status"].as_str().unwrap_or("failed")
                    ))
                }
                _ => {}
            }
            if began.elapsed() > QUERY_WAIT {
                let _ = admin.logs("StopQuery", json!({ "queryId": id })).await;
                return Err("query did not finish within an hour; stopped".into());
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(500));
        };
        let elapsed = began.elapsed();
        let mut out = std::io::stdout().lock();
        print_results(&mut out, &result, args.format).map_err(|e| e.to_string())?;
        if args.format == QueryFormat::Table {
            let s = &result["statistics"];
            let rows = result["results"].as_array().map_or(0, Vec::len);
            let _ = writeln!(
                out,
                "\n{rows} rows in {:.3} s · {} records matched · {} scanned · {} bytes scanned",
                elapsed.as_secs_f64(),
                s["recordsMatched"].as_f64().unwrap_or(0.0),
                s["recordsScanned"].as_f64().unwrap_or(0.0),
                s["bytesScanned"].as_f64().unwrap_or(0.0),
            );
        }
        Ok(())
    });
    finish(result)
}

/// Columns in first-appearance order, `@ptr` last and hidden from tables.
fn columns(rows: &[Value], with_ptr: bool) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    for row in rows {
        for f in row.as_array().into_iter().flatten() {
            let name = f["field"].as_str().unwrap_or("").to_string();
            if (with_ptr || name != "@ptr") && !cols.contains(&name) {
                cols.push(name);
            }
        }
    }
    cols
}

fn cell<'a>(row: &'a Value, col: &str) -> Option<&'a str> {
    row.as_array()?
        .iter()
        .find(|f| f["field"].as_str() == Some(col))
        .and_then(|f| f["value"].as_str())
}

fn csv_quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn print_results(out: &mut impl Write, result: &Value, format: QueryFormat) -> std::io::Result<()> {
    let rows = result["results"].as_array().cloned().unwrap_or_default();
    match format {
        QueryFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, result)?;
            writeln!(out)
        }
        QueryFormat::Csv => {
            let cols = columns(&rows, true);
            writeln!(
                out,
                "{}",
                cols.iter()
                    .map(|c| csv_quote(c))
                    .collect::<Vec<_>>()
                    .join(",")
            )?;
            for row in &rows {
                let cells: Vec<String> = cols
                    .iter()
                    .map(|c| csv_quote(cell(row, c).unwrap_or("")))
                    .collect();
                writeln!(out, "{}", cells.join(","))?;
            }
            Ok(())
        }
        QueryFormat::Table => {
            let cols = columns(&rows, false);
            if cols.is_empty() {
                return writeln!(out, "(no rows)");
            }
            const MAX_WIDTH: usize = 80;
            let shown = |s: &str| -> String {
                let s = s.replace(['\n', '\t'], " ");
                if s.chars().count() > MAX_WIDTH {
                    let mut t: String = s.chars().take(MAX_WIDTH - 1).collect();
                    t.push('…');
                    t
                } else {
                    s
                }
            };
            let mut widths: Vec<usize> = cols.iter().map(|c| c.chars().count()).collect();
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    cols.iter()
                        .map(|c| shown(cell(r, c).unwrap_or("")))
                        .collect()
                })
                .collect();
            for r in &table {
                for (w, v) in widths.iter_mut().zip(r) {
                    *w = (*w).max(v.chars().count());
                }
            }
            let line = |vals: &[String]| -> String {
                vals.iter()
                    .zip(&widths)
                    .map(|(v, w)| format!("{v:<w$}"))
                    .collect::<Vec<_>>()
                    .join(" │ ")
                    .trim_end()
                    .to_string()
            };
            writeln!(out, "{}", line(&cols))?;
            writeln!(
                out,
                "{}",
                widths
                    .iter()
                    .map(|w| "─".repeat(*w))
                    .collect::<Vec<_>>()
                    .join("─┼─")
            )?;
            for r in &table {
                writeln!(out, "{}", line(r))?;
            }
            Ok(())
        }
    }
}

/// `gatewatch export`.
pub fn export(args: &ExportArgs) -> ExitCode {
    let result =
        runtime().block_on(async {
            let admin = Admin::new(&args.endpoint.endpoint);
            let file = std::fs::File::create(&args.out)
                .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
            let mut ndjson = std::io::BufWriter::new(file.try_clone().map_err(|e| e.to_string())?);
            let mut parquet = match args.format {
                ExportFormat::Parquet => Some(ParquetExport::new(file)),
                ExportFormat::Ndjson => None,
            };
            let mut token: Option<String> = None;
            let mut total = 0usize;
            loop {
                let mut input = json!({ "logGroupName": args.group, "limit": 10000 });
                if let Some(s) = args.since {
                    input["startTime"] = json!(gatewatch_store::now_ms() - s);
                }
                if let Some(t) = &token {
                    input["nextToken"] = json!(t);
                }
                let page = admin.logs("FilterLogEvents", input).await?;
                let events: Vec<ExportEvent> = page["events"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| ExportEvent {
                        timestamp: e["timestamp"].as_i64().unwrap_or(0),
                        ingestion_time: e["ingestionTime"].as_i64().unwrap_or(0),
                        log_stream: e["logStreamName"].as_str().unwrap_or("").to_string(),
                        message: e["message"].as_str().unwrap_or("").to_string(),
                    })
                    .collect();
                total += events.len();
                if !events.is_empty() {
                    match &mut parquet {
                        Some(p) => p.write(&events)?,
                        None => write_ndjson(&mut ndjson, &events).map_err(|e| e.to_string())?,
                    }
                }
                match page["nextToken"].as_str() {
                    Some(t) => token = Some(t.to_string()),
                    None => break,
                }
            }
            match parquet {
                Some(p) => {
                    if !p.dropped_fields.is_empty() {
                        eprintln!(
                        "gatewatch: {} field(s) first seen after the first page were left out: {}",
                        p.dropped_fields.len(),
                        p.dropped_fields.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
                    );
                    }
                    p.finish()?
                }
                None => ndjson.flush().map_err(|e| e.to_string())?,
            }
            eprintln!(
                "gatewatch: exported {total} events to {}",
                args.out.display()
            );
            Ok(())
        });
    finish(result)
}
