"""User-space instructions per request, counted with valgrind's callgrind
(run by bench/instructions.sh; not a test).

Wall-clock figures on two shared cores move by ±10 % between runs; the
number of instructions a server executes per request does not, so this is
the figure an optimisation is judged by before the suite confirms it in
req/s. Kernel time (the socket calls) is not counted; it is about the same
for every server here (see BENCHMARKS.md).

Each server runs under callgrind on a loopback port. After a warm-up load
the counters are zeroed, a bounded wrk load runs, and the counters are
dumped: instructions in the dump over the requests wrk completed. The dump
covers every thread of the process, so Gatewatch's log writer and store
commit thread are counted against the requests whose logs they wrote.
nginx runs as one process (no master) so that one process is the whole
server. Writes bench/results/instructions.{json,md}.

Environment: CARGO_TARGET_DIR (release binaries), BENCH_INSTR_SECONDS
(measured wrk run, default 5).
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import suite

SECONDS = int(os.environ.get("BENCH_INSTR_SECONDS", "5"))
WARMUP_SECONDS = 2
CONNECTIONS = 8


def load(url: str, seconds: int) -> int:
    """Requests wrk completed against `url` in `seconds`."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "20s", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in out.splitlines():
        if "requests in" in line:
            return int(line.split()[0])
    raise RuntimeError(f"no request count in wrk output: {out}")


def dumped_instructions(dump: Path) -> int:
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith("summary:") or line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {dump}")


def measure(work: Path, name: str, cmd: list, ready_url: str, url: str) -> dict:
    out_file = work / f"callgrind.{name}"
    server = suite.Server(name, ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}"] + cmd)
    try:
        suite.wait_http(ready_url, timeout=120)
        load(url, WARMUP_SECONDS)
        pid = str(server.proc.pid)
        subprocess.run(["callgrind_control", "-z", pid], capture_output=True, check=True)
        requests = load(url, SECONDS)
        # Let the log writer finish the batch of the last requests.
        time.sleep(1.5)
        before = set(work.glob(f"callgrind.{name}.*"))
        subprocess.run(["callgrind_control", "-d", pid], capture_output=True, check=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            new = set(work.glob(f"callgrind.{name}.*")) - before
            if new:
                break
            time.sleep(0.2)
        dump = max(new, key=lambda p: p.stat().st_mtime)
        time.sleep(0.5)
        total = dumped_instructions(dump)
    finally:
        server.stop()
    result = {"name": name, "requests": requests, "instructions": total, "per_request": total / max(requests, 1)}
    suite.log(f"{name}: {result['per_request']:,.0f} instructions/request over {requests} requests")
    return result


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="gw-instr-"))
    results = {"machine": suite.machine(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    rows = []
    try:
        # The upstream runs natively: only the server being counted is slowed.
        upstream = suite.free_port()
        suite.start_hello(upstream)
        hello = suite.free_port()
        rows.append(
            measure(
                work,
                "hello",
                [str(suite.RELEASE / "examples" / "hello"), str(hello)],
                f"http://127.0.0.1:{hello}/",
                f"http://127.0.0.1:{hello}/",
            )
        )
        on, off = suite.free_port(), suite.free_port()
        conf = suite.write_nginx_config(work, upstream, on, off, single=True)
        for label, port in (("nginx-access-off", off), ("nginx-access-on", on)):
            rows.append(
                measure(
                    work,
                    label,
                    ["nginx", "-c", str(conf), "-p", str(work)],
                    f"http://127.0.0.1:{port}/",
                    f"http://127.0.0.1:{port}/",
                )
            )
        runs = [
            ("gatewatch-mock", "/off/pets/1"),
            ("gatewatch-mock-access", "/access/pets/1"),
            ("gatewatch-mock-info", "/info/pets/1"),
            ("gatewatch-mock-data", "/data/pets/1"),
            ("gatewatch-proxy", "/off/up"),
            ("gatewatch-proxy-access", "/access/up"),
        ]
        for label, path in runs:
            # fjall's background workers can spin (worker 0 hands a
            # compaction request back to the queue until another worker is
            # free). Natively that costs a little CPU now and then; under
            # callgrind, which runs one thread at a time, a spin can hold up
            # the data plane for the whole run. A run that served nothing is
            # repeated on a fresh store.
            for attempt in range(1, 4):
                gw = work / f"{label}-{attempt}"
                gw.mkdir()
                config, port, admin = suite.write_gatewatch_config(gw, upstream)
                row = measure(
                    work,
                    f"{label}-{attempt}",
                    [str(suite.RELEASE / "gatewatch"), "serve", "-q", "--config", str(config)],
                    f"http://127.0.0.1:{admin}/health",
                    f"http://127.0.0.1:{port}{path}",
                )
                row["name"], row["attempts"] = label, attempt
                if row["requests"] > 0:
                    break
            rows.append(row)
    finally:
        suite.Server.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    results["rows"] = rows
    results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out = suite.ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "instructions.json").write_text(json.dumps(results, indent=2) + "\n")
    by = {r["name"]: r["per_request"] for r in rows}
    lines = [
        "| server / route | instructions per request | against its reference |",
        "|---|---:|---:|",
    ]
    refs = {
        "gatewatch-mock": "hello",
        "gatewatch-mock-access": "gatewatch-mock",
        "gatewatch-mock-info": "gatewatch-mock",
        "gatewatch-mock-data": "gatewatch-mock",
        "gatewatch-proxy": "nginx-access-off",
        "gatewatch-proxy-access": "nginx-access-on",
        "nginx-access-on": "nginx-access-off",
    }
    for r in rows:
        ref = refs.get(r["name"])
        vs = f"{r['per_request'] / by[ref]:.2f}× {ref}" if ref in by else ""
        lines.append(f"| {r['name']} | {r['per_request']:,.0f} | {vs} |")
    (out / "instructions.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    try:
        main()
    finally:
        suite.Server.stop_all()
