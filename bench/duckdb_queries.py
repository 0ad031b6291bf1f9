"""DuckDB side of the Logs Insights benchmark.

Runs the SQL equivalent of each query of crates/insights/examples/query_bench.rs
over the NDJSON export and over the flattened Parquet export of the same
events, best of N runs, and prints one JSON object per line.

usage: duckdb_queries.py ACCESS.ndjson ACCESS.parquet RUNS
"""

import json
import sys
import time

import duckdb

QUERIES = {
    "count_by_status": "SELECT status, count(*) AS n FROM {src} GROUP BY status",
    "p95_latency_by_route_5m": (
        "SELECT resourcePath, time_bucket(INTERVAL '5 minutes', {ts}) AS b, "
        "quantile_disc(TRY_CAST(responseLatency AS DOUBLE), 0.95) AS p95 "
        "FROM {src} GROUP BY 1, 2"
    ),
    "top10_ips": "SELECT ip, count(*) AS c FROM {src} GROUP BY ip ORDER BY c DESC LIMIT 10",
    "filter_parse": (
        "SELECT regexp_extract(\"@message\", '\"resourcePath\":\"([^\"]*)\"', 1) AS path, "
        "count(*) AS n FROM {src} WHERE TRY_CAST(status AS INTEGER) >= 500 GROUP BY 1"
    ),
    "substring_filter": "SELECT count(*) AS n FROM {src} WHERE contains(\"@message\", 'HTTP/2.0')",
}


def main() -> None:
    ndjson, parquet, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sources = {
        "duckdb-ndjson": (f"read_ndjson('{ndjson}')", 'epoch_ms("@timestamp")'),
        "duckdb-parquet": (f"read_parquet('{parquet}')", '"@timestamp"'),
    }
    con = duckdb.connect()
    for engine, (src, ts) in sources.items():
        for name, template in QUERIES.items():
            sql = template.format(src=src, ts=ts)
            best = float("inf")
            rows = []
            for _ in range(runs):
                start = time.perf_counter()
                rows = con.execute(sql).fetchall()
                best = min(best, time.perf_counter() - start)
            print(json.dumps({
                "engine": engine,
                "query": name,
                "sql": sql,
                "seconds": best,
                "rows": len(rows),
                "duckdb": duckdb.__version__,
            }))


if __name__ == "__main__":
    main()
