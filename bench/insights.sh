#!/usr/bin/env bash
# Logs Insights against DuckDB on the same events, in the same run.
#
#   bash bench/insights.sh                 # 1,000,000 events
#   bash bench/insights.sh 1000000 10000000
#
# Installs DuckDB (PyPI) in a venv, builds the release benchmark, and for
# each size writes bench/results/insights-N.jsonl (raw) and .md (table).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/gatewatch-target}"
VENV="${BENCH_VENV:-/var/tmp/gatewatch-bench-venv}"
if ! "$VENV/bin/python" -c 'import duckdb' 2>/dev/null; then
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$VENV"
  fi
  "$VENV/bin/pip" install --quiet duckdb
fi
# bench/run.sh builds this example together with everything else (one set of
# features, so DataFusion is compiled once) and says so with BENCH_BUILT=1.
if [ "${BENCH_BUILT:-0}" != "1" ]; then
  cargo build --release -p gatewatch-insights --example query_bench
fi
mkdir -p bench/results
for n in "${@:-1000000}"; do
  dir="/var/tmp/gw-insights-bench-$n"
  "$CARGO_TARGET_DIR/release/examples/query_bench" --events "$n" --dir "$dir" > "bench/results/insights-$n.jsonl"
  "$VENV/bin/python" bench/duckdb_queries.py "$dir/access.ndjson" "$dir/access.parquet" 3 >> "bench/results/insights-$n.jsonl"
  "$VENV/bin/python" bench/insights_report.py "bench/results/insights-$n.jsonl" > "bench/results/insights-$n.md"
  cat "bench/results/insights-$n.md"
  rm -rf "$dir"
done
