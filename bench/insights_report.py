"""Turns a Logs Insights benchmark run (JSON lines) into a Markdown table."""

import json
import platform
import sys


def main() -> None:
    lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    setup = next(l["setup"] for l in lines if "setup" in l)
    by = {}
    for l in lines:
        if "engine" in l:
            by.setdefault(l["query"], {})[l["engine"]] = l
    duck = next((l.get("duckdb") for l in lines if l.get("duckdb")), "?")
    settled = next((l["settled"]["seconds"] for l in lines if "settled" in l), None)
    events = setup["events"]
    mb = setup["message_bytes"] / 1e6
    print(f"### {events:,} access-log events ({mb:,.0f} MB of messages)\n")
    print(f"Machine: {platform.processor() or platform.machine()}, DuckDB {duck}. "
          f"Store ingest {events / setup['ingest_s']:,.0f} events/s, "
          f"compaction {setup['compact_s']:.1f} s"
          + (f", then {settled:.0f} s for the store's background work to settle" if settled else "")
          + ". Best of 3 runs, seconds.\n")
    print("| query | gatewatch | DuckDB on NDJSON | ratio (≥1 = gatewatch faster) "
          "| DuckDB on Parquet | ratio | gatewatch scan rate |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for q, e in by.items():
        g = e.get("gatewatch", {}).get("seconds")
        n = e.get("duckdb-ndjson", {}).get("seconds")
        p = e.get("duckdb-parquet", {}).get("seconds")
        rate = setup["message_bytes"] / g / 1e9 if g else 0
        fmt = lambda x: f"{x:.3f}" if x else "–"
        ratio = lambda d: f"{d / g:.2f}×" if d and g else "–"
        print(f"| {q} | {fmt(g)} | {fmt(n)} | {ratio(n)} | {fmt(p)} | {ratio(p)} "
              f"| {rate:.2f} GB/s |")


if __name__ == "__main__":
    main()
