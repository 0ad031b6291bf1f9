#!/usr/bin/env bash
# Gatewatch's benchmark suite, one command:
#
#   bash bench/run.sh
#
# Installs what it needs on a fresh Debian machine (wrk and nginx from
# Debian, DuckDB and matplotlib from PyPI into a venv), builds the release
# binaries, runs every scenario on loopback with bounded loads, stops what it
# started, and writes bench/results/suite.json, suite.md, plots/*.png and
# insights-1000000.{jsonl,md}, and instructions per request counted with
# callgrind (instructions.{json,md}).
#
# Knobs: BENCH_SECONDS (per load run, default 5), BENCH_CONCURRENCY
# (default 16,64,256), BENCH_ROUNDS and BENCH_LOGGING_ROUNDS (interleaved
# rounds, each target keeping its best; default 3), BENCH_INSIGHTS_EVENTS (default 1000000; 0 skips the
# Insights comparison), BENCH_INSTRUCTIONS (default 1; 0 skips the callgrind
# counts), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/gatewatch-target}"
VENV="${BENCH_VENV:-/var/tmp/gatewatch-bench-venv}"
started=$(date +%s)

# The tools are installed while the release binaries build: installing is
# mostly waiting on the network and the disk, compiling keeps both cores
# busy, so on a fresh machine the two overlap instead of adding up.
install_tools() {
  need=()
  command -v wrk >/dev/null || need+=(wrk)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
  python3 -m venv --help >/dev/null 2>&1 || need+=(python3-venv)
  if [ "${BENCH_INSTRUCTIONS:-1}" != "0" ]; then
    command -v valgrind >/dev/null || need+=(valgrind)
  fi
  if [ ${#need[@]} -gt 0 ]; then
    echo "[bench] installing ${need[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  if ! "$VENV/bin/python" -c 'import duckdb, matplotlib' 2>/dev/null; then
    echo "[bench] installing duckdb and matplotlib into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet duckdb matplotlib
  fi
}
install_tools &
installing=$!

echo "[bench] building release binaries" >&2
# Target flags apply to every selected package, so the binary is named too.
if ! cargo build --release -q -p gatewatch --bin gatewatch \
  -p gatewatch-gateway --example hello --example serve_api \
  -p gatewatch-lambda --example invoke_bench \
  -p gatewatch-store --example ingest \
  -p gatewatch-aws-api --example ingest_http \
  -p gatewatch-insights --example query_bench; then
  wait "$installing" || true
  exit 1
fi
built=$(date +%s)
if ! wait "$installing"; then
  echo "[bench] installing the tools failed" >&2
  exit 1
fi
export PATH="$PATH:/usr/sbin"
installed=$(date +%s)

"$VENV/bin/python" bench/suite.py
events="${BENCH_INSIGHTS_EVENTS:-1000000}"
if [ "$events" != "0" ]; then
  BENCH_BUILT=1 BENCH_VENV="$VENV" bash bench/insights.sh "$events" >/dev/null
fi
if [ "${BENCH_INSTRUCTIONS:-1}" != "0" ]; then
  "$VENV/bin/python" bench/instructions.py >/dev/null
fi
"$VENV/bin/python" bench/report.py >/dev/null
done_at=$(date +%s)
echo "[bench] build $((built - started)) s, tools ready $((installed - built)) s after it, measurements $((done_at - installed)) s" >&2
echo "[bench] results: bench/results/suite.md, bench/results/plots/, bench/results/insights-$events.md, bench/results/instructions.md" >&2
