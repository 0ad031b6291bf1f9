"""Gatewatch's benchmark suite driver (run by bench/run.sh; not a test).

Starts every server it measures on loopback ports it picks, drives them with
wrk for a bounded time, stops everything it started, and writes
bench/results/suite.json. Each comparison is made in the same run, on the
same machine, with the same load generator:

- mock:    Gatewatch's MOCK route against a minimal hyper server (the ceiling);
- proxy:   Gatewatch's HTTP_PROXY against nginx as a reverse proxy (access_log
           on and off) and against calling the upstream directly, at several
           concurrency levels, with req/s, p50/p99/p99.9, CPU and peak RSS;
- logging: a MOCK route with logging off, access log only, + execution ERROR,
           INFO, INFO + data trace, and errors-only tracing;
- lambda:  the AWS_PROXY route's warm latency and the function's cold start,
           against invoking the same handler over the Runtime API directly;
- ingest:  the durable store against raw append + fsync and SQLite (WAL,
           synchronous=FULL); PutLogEvents over HTTP against in process;
- startup: start-up time and idle RSS of `gatewatch serve`.

Environment: BENCH_SECONDS (per wrk run, default 5), BENCH_CONCURRENCY
(default "16,64,256"), BENCH_ROUNDS (interleaved rounds of the mock and
proxy comparisons, default 3), BENCH_LOGGING_ROUNDS (rounds of the logging
matrix, default 3), CARGO_TARGET_DIR (release binaries).
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", "/var/tmp/gatewatch-target"))
RELEASE = TARGET / "release"
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
# Rounds of the logging matrix; each stage reports its best round.
LOGGING_ROUNDS = int(os.environ.get("BENCH_LOGGING_ROUNDS", "3"))
# Interleaved rounds of the MOCK and HTTP_PROXY comparisons; each target
# reports its best round, as the logging matrix does.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONCURRENCY = [int(c) for c in os.environ.get("BENCH_CONCURRENCY", "16,64,256").split(",")]
WRK_SCRIPT = ROOT / "bench" / "wrk_report.lua"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The API Gateway console's JSON access-log format (common fields).
ACCESS_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
    '"caller":"$context.identity.caller","user":"$context.identity.user",'
    '"requestTime":"$context.requestTime","httpMethod":"$context.httpMethod",'
    '"resourcePath":"$context.resourcePath","status":"$context.status",'
    '"protocol":"$context.protocol","responseLength":"$context.responseLength"}'
)

API = """openapi: 3.0.1
info: {{ title: bench, version: "1" }}
paths:
  /pets/{{petId}}:
    get:
      responses: {{ "200": {{ description: ok }} }}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {{ application/json: '{{"statusCode": 200}}' }}
        responses:
          default:
            statusCode: "200"
            responseTemplates: {{ application/json: '{{"id": "$input.params(''petId'')", "type": "dog"}}' }}
  /up:
    get:
      responses: {{ "200": {{ description: ok }} }}
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://127.0.0.1:{upstream}/
  /hello/{{name}}:
    get:
      responses: {{ "200": {{ description: ok }} }}
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:hello/invocations
"""

# Stage name -> TOML lines of its logging settings.
STAGES = {
    "off": [],
    "access": ["accessLogSettings = { destinationArn = \"ARN\", format = 'FMT' }"],
    "error": [
        "accessLogSettings = { destinationArn = \"ARN\", format = 'FMT' }",
        'methodSettings."*/*" = { loggingLevel = "ERROR" }',
    ],
    "info": [
        "accessLogSettings = { destinationArn = \"ARN\", format = 'FMT' }",
        'methodSettings."*/*" = { loggingLevel = "INFO" }',
    ],
    "data": [
        "accessLogSettings = { destinationArn = \"ARN\", format = 'FMT' }",
        'methodSettings."*/*" = { loggingLevel = "INFO", dataTraceEnabled = true }',
    ],
    "errorsonly": [
        "accessLogSettings = { destinationArn = \"ARN\", format = 'FMT' }",
        'methodSettings."*/*" = { loggingLevel = "INFO", dataTraceEnabled = true }',
        "errorsOnlyTracing = true",
    ],
}

STAGE_LABELS = {
    "off": "off",
    "access": "access log (JSON)",
    "error": "+ execution ERROR",
    "info": "+ execution INFO",
    "data": "+ INFO + data trace",
    "errorsonly": "+ errors-only tracing (INFO + data trace)",
}


_T0 = time.monotonic()


def log(msg: str) -> None:
    """Progress on stderr, with the seconds since the suite started."""
    print(f"[bench +{time.monotonic() - _T0:.0f}s] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0) -> float:
    """Seconds until `url` answers (any status)."""
    start = time.perf_counter()
    deadline = start + timeout
    while time.perf_counter() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return time.perf_counter() - start
        except urllib.error.HTTPError:
            return time.perf_counter() - start
        except OSError:
            time.sleep(0.005)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


class Server:
    """A process this run started; stopped (with its children) on exit."""

    running = []

    def __init__(self, name, cmd, cwd=None, env=None):
        self.name = name
        self.proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        Server.running.append(self)

    def pids(self):
        """This process and its descendants (nginx workers)."""
        out = [self.proc.pid]
        frontier = [self.proc.pid]
        while frontier:
            parent = frontier.pop()
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == parent:
                    out.append(int(entry.name))
                    frontier.append(int(entry.name))
        return out

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except OSError:
                pass
        return total / CLK_TCK

    def rss_kb(self, field="VmHWM") -> int:
        total = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith(field + ":"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self in Server.running:
            Server.running.remove(self)

    @classmethod
    def stop_all(cls):
        for s in list(cls.running):
            s.stop()


def wrk(url: str, connections: int, seconds: int = SECONDS, server: Server = None) -> dict:
    threads = 1 if connections < 64 else 2
    cpu0 = server.cpu_seconds() if server else 0.0
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(WRK_SCRIPT), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = [l for l in out.splitlines() if l.startswith("{")][-1]
    r = json.loads(line)
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    for p in ("p50", "p99", "p999", "mean"):
        r[p + "_ms"] = r.pop(p) / 1000.0
    if server:
        r["cpu_s"] = server.cpu_seconds() - cpu0
        r["cpu_per_1k_req_ms"] = r["cpu_s"] / max(r["requests"], 1) * 1e6
        r["peak_rss_mb"] = server.rss_kb() / 1024.0
    r["connections"] = connections
    return r


def drain_seconds(admin: int, timeout: float = 120.0) -> float:
    """Seconds until the log queue is empty after a load run. Logs the
    writer has not caught up with still cost their CPU after wrk stops, so
    the logging matrix counts this time against the run."""
    started = time.time()
    while time.time() - started < timeout:
        body = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5).read().decode()
        depth = next((float(l.split()[1]) for l in body.splitlines() if l.startswith("gatewatch_log_queue_depth ")), 0.0)
        if depth == 0:
            return time.time() - started
        time.sleep(0.05)
    return time.time() - started


def start_hello(port: int) -> Server:
    s = Server("hello", [str(RELEASE / "examples" / "hello"), str(port)])
    wait_http(f"http://127.0.0.1:{port}/")
    return s


def write_nginx_config(work: Path, upstream: int, port_on: int, port_off: int, single: bool = False) -> Path:
    """nginx as a keep-alive reverse proxy to `upstream`, access_log on at
    `port_on` and off at `port_off`. `single`: one process (no master), for
    running it under a profiler."""
    conf = work / "nginx.conf"
    processes = "worker_processes 1;\nmaster_process off;" if single else "worker_processes auto;"
    conf.write_text(
        f"""
{processes}
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
daemon off;
events {{ worker_connections 4096; }}
http {{
    log_format main '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';
    client_body_temp_path {work}/nginx-body;
    proxy_temp_path {work}/nginx-proxy;
    fastcgi_temp_path {work}/nginx-fastcgi;
    uwsgi_temp_path {work}/nginx-uwsgi;
    scgi_temp_path {work}/nginx-scgi;
    upstream backend {{ server 127.0.0.1:{upstream}; keepalive 512; }}
    server {{
        listen 127.0.0.1:{port_on};
        access_log {work}/nginx-access.log main;
        location / {{ proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }}
    }}
    server {{
        listen 127.0.0.1:{port_off};
        access_log off;
        location / {{ proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }}
    }}
}}
"""
    )
    return conf


def start_nginx(work: Path, upstream: int, port_on: int, port_off: int) -> Server:
    conf = write_nginx_config(work, upstream, port_on, port_off)
    s = Server("nginx", ["nginx", "-c", str(conf), "-p", str(work)])
    wait_http(f"http://127.0.0.1:{port_on}/")
    return s


def write_gatewatch_config(work: Path, upstream: int) -> tuple:
    """The bench API, its function and one stage per logging configuration
    in `work`; returns (config path, data port, admin port)."""
    (work / "api.yaml").write_text(API.format(upstream=upstream))
    fn = work / "functions" / "hello"
    fn.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "crates" / "gatewatch" / "src" / "example-functions" / "hello.py", fn / "hello.py")
    port, admin = free_port(), free_port()
    lines = [
        f'dataDir = "{work}/data"',
        f'listen = "127.0.0.1:{port}"',
        f'adminListen = "127.0.0.1:{admin}"',
        "",
        "[[functions]]",
        'name = "hello"',
        'runtime = "python3.12"',
        'handler = "hello.handler"',
        'code = "functions/hello"',
        "",
        "[[apis]]",
        'file = "api.yaml"',
        'id = "benchapi01"',
    ]
    arn = "arn:aws:logs:us-east-1:000000000000:log-group:/bench/access"
    for name, settings in STAGES.items():
        lines += ["", "[[apis.stages]]", f'name = "{name}"']
        lines += [s.replace("ARN", arn).replace("FMT", ACCESS_FORMAT) for s in settings]
    (work / "gatewatch.toml").write_text("\n".join(lines) + "\n")
    return work / "gatewatch.toml", port, admin


def start_gatewatch(work: Path, upstream: int) -> tuple:
    config, port, admin = write_gatewatch_config(work, upstream)
    s = Server("gatewatch", [str(RELEASE / "gatewatch"), "serve", "-q", "--config", str(config)])
    wait_http(f"http://127.0.0.1:{admin}/health")
    return s, port, admin


def ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def keep_best(row: dict, name: str, result: dict, rate: str = "rps") -> None:
    """Keeps `result` as `row[name]` when its `rate` is the fastest of the
    rounds so far: this shared machine's noise only ever slows a run down."""
    if name not in row or result[rate] > row[name][rate]:
        row[name] = result


def scenario_mock_and_proxy(work: Path, results: dict) -> None:
    upstream = free_port()
    hello = start_hello(upstream)
    ceiling_port = free_port()
    ceiling = start_hello(ceiling_port)
    nginx_on, nginx_off = free_port(), free_port()
    nginx = start_nginx(work, upstream, nginx_on, nginx_off)
    started = []

    def fresh_gatewatch(tag: str):
        # Each measurement starts from an empty store, so one run's
        # background work (memtable flushes, journal) never lands on the next.
        d = work / tag
        d.mkdir()
        g, port, admin = start_gatewatch(d, upstream)
        started.append(g)
        g.admin = admin
        return g, f"http://127.0.0.1:{port}"

    try:
        log("lambda: warm latency through the gateway")
        gw, base = fresh_gatewatch("lambda")
        wrk(f"{base}/off/hello/ada", 1, 2)
        through = wrk(f"{base}/off/hello/ada", 1, server=gw)
        gw.stop()
        direct = json.loads(
            subprocess.run([str(RELEASE / "examples" / "invoke_bench"), "3000"], capture_output=True, text=True, check=True).stdout
        )
        results["lambda"] = {
            "direct": direct,
            "gateway": through,
            "overhead_p50_ms": through["p50_ms"] - direct["warm_p50_ms"],
            "overhead_p99_ms": through["p99_ms"] - direct["warm_p99_ms"],
        }

        gw, base = fresh_gatewatch("proxy")
        # Warm-up: processes, connection pools, page cache.
        for url in (f"{base}/off/pets/1", f"{base}/access/up", f"http://127.0.0.1:{nginx_on}/"):
            wrk(url, 16, 1)
        mock = []
        for c in CONCURRENCY:
            row = {"connections": c, "rounds": ROUNDS}
            for round_no in range(ROUNDS):
                log(f"mock vs hello-world, {c} connections (round {round_no + 1} of {ROUNDS})")
                keep_best(row, "hello", wrk(f"http://127.0.0.1:{ceiling_port}/", c, server=ceiling))
                keep_best(row, "gatewatch_mock", wrk(f"{base}/off/pets/1", c, server=gw))
            row["ratio"] = ratio(row["gatewatch_mock"]["rps"], row["hello"]["rps"])
            mock.append(row)
        results["mock"] = mock
        proxy = []
        targets = {
            "direct": (f"http://127.0.0.1:{upstream}/", hello),
            "nginx_access_on": (f"http://127.0.0.1:{nginx_on}/", nginx),
            "nginx_access_off": (f"http://127.0.0.1:{nginx_off}/", nginx),
            "gatewatch_access_on": (f"{base}/access/up", gw),
            "gatewatch_access_off": (f"{base}/off/up", gw),
        }
        for c in CONCURRENCY:
            row = {"connections": c, "rounds": ROUNDS}
            for round_no in range(ROUNDS):
                log(f"proxy, {c} connections (round {round_no + 1} of {ROUNDS})")
                for name, (url, server) in targets.items():
                    keep_best(row, name, wrk(url, c, server=server))
            row["ratio_access_on"] = ratio(row["gatewatch_access_on"]["rps"], row["nginx_access_on"]["rps"])
            row["ratio_access_off"] = ratio(row["gatewatch_access_off"]["rps"], row["nginx_access_off"]["rps"])
            proxy.append(row)
        results["proxy"] = proxy
        gw.stop()

        matrix = {}
        c = 64 if 64 in CONCURRENCY else CONCURRENCY[0]
        # Rounds over every stage, interleaved, keeping each stage's best
        # round: this shared machine's noise only ever slows a run down.
        for round_no in range(LOGGING_ROUNDS):
            for stage in STAGES:
                log(f"logging matrix: {stage} (round {round_no + 1} of {LOGGING_ROUNDS})")
                gw, base = fresh_gatewatch(f"logging-{stage}-{round_no}")
                wrk(f"{base}/{stage}/pets/1", c, 1)
                cpu0 = gw.cpu_seconds()
                r = wrk(f"{base}/{stage}/pets/1", c, server=gw)
                # Sustained rate: requests over the run plus the time the log
                # writer needed afterwards to write what was still queued.
                r["drain_s"] = drain_seconds(gw.admin)
                r["rps_sustained"] = r["requests"] / (r["duration_us"] / 1e6 + r["drain_s"])
                r["cpu_with_logs_us_per_req"] = (gw.cpu_seconds() - cpu0) / max(r["requests"], 1) * 1e6
                r["rounds"] = LOGGING_ROUNDS
                gw.stop()
                keep_best(matrix, stage, {"stage": stage, "label": STAGE_LABELS[stage], **r}, "rps_sustained")
        matrix = [matrix[s] for s in STAGES]
        off = matrix[0]["rps_sustained"]
        for m in matrix:
            m["vs_off"] = ratio(m["rps_sustained"], off)
        results["logging"] = {"connections": c, "rows": matrix}
    finally:
        for s in started + [nginx, ceiling, hello]:
            s.stop()


def scenario_ingest(results: dict) -> None:
    log("store ingest: store vs raw append + fsync")
    rows = []
    for writers in (1, 4):
        out = subprocess.run(
            [str(RELEASE / "examples" / "ingest"), str(writers), str(400 // writers), f"/var/tmp/gw-ingest-bench-{writers}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        store = float(re.search(r"= (\d+) events/s, [\d.]+ MB/s", out).group(1))
        raw = float(re.search(r"raw append \+ fsync per batch:\s+\d+ events in [\d.]+s = (\d+) events/s", out).group(1))
        rows.append({"writers": writers, "store_events_per_s": store, "raw_events_per_s": raw})
    log("store ingest: SQLite reference")
    py = sys.executable
    sqlite = json.loads(
        subprocess.run([py, str(ROOT / "bench" / "sqlite_ingest.py"), "200", "/var/tmp/gw-sqlite-bench"], capture_output=True, text=True, check=True).stdout
    )
    for r in rows:
        r["ratio_raw"] = ratio(r["store_events_per_s"], r["raw_events_per_s"])
        r["sqlite_events_per_s"] = sqlite["sqlite_events_per_s"]
        r["ratio_sqlite"] = ratio(r["store_events_per_s"], sqlite["sqlite_events_per_s"])
    log("PutLogEvents over HTTP vs in process")
    out = subprocess.run([str(RELEASE / "examples" / "ingest_http"), "4", "100"], capture_output=True, text=True, check=True).stdout
    local = float(re.search(r"in-process PutLogEvents: (\d+) events/s", out).group(1))
    http = float(re.search(r"HTTP PutLogEvents:\s+(\d+) events/s", out).group(1))
    results["ingest"] = {"rows": rows, "put_log_events": {"in_process": local, "http": http, "ratio": ratio(http, local)}}


def scenario_startup(work: Path, results: dict) -> None:
    log("start-up time and idle RSS")
    runs = []
    for i in range(3):
        data = work / f"startup-{i}"
        port, admin = free_port(), free_port()
        t = time.perf_counter()
        s = Server(
            "gatewatch-startup",
            [str(RELEASE / "gatewatch"), "serve", "-q", "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{admin}", "--data-dir", str(data)],
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/dev/pets")
            ready = time.perf_counter() - t
            time.sleep(2)
            runs.append({"ready_ms": ready * 1000, "idle_rss_mb": s.rss_kb("VmRSS") / 1024})
        finally:
            s.stop()
    results["startup"] = {
        "runs": runs,
        "ready_ms": sorted(r["ready_ms"] for r in runs)[len(runs) // 2],
        "idle_rss_mb": sorted(r["idle_rss_mb"] for r in runs)[len(runs) // 2],
    }


def timed_trace(admin: int, request_id: str) -> tuple:
    """Seconds one `gatewatch trace` took, and the lines it printed."""
    t = time.perf_counter()
    p = subprocess.run(
        [str(RELEASE / "gatewatch"), "trace", request_id, "--endpoint", f"http://127.0.0.1:{admin}"],
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - t, len(p.stdout.splitlines())


def scenario_trace(work: Path, results: dict) -> None:
    """`gatewatch trace` after a load with INFO + data trace: the lookup of
    one request in the middle of the run (which its id's arrival time
    narrows to a few seconds of history), and a search of the whole history
    for an id that carries no time and is nowhere (every event's block is
    looked at)."""
    log("trace lookup after a load with INFO + data trace")
    upstream = free_port()
    hello = start_hello(upstream)
    (work / "trace").mkdir(parents=True, exist_ok=True)
    s, port, admin = start_gatewatch(work / "trace", upstream)
    try:
        url = f"http://127.0.0.1:{port}/data/pets/42"
        box = {}
        load = threading.Thread(target=lambda: box.update(r=wrk(url, 32, SECONDS * 2)))
        load.start()
        time.sleep(SECONDS)
        with urllib.request.urlopen(url, timeout=10) as resp:
            request_id = resp.headers["x-amzn-RequestId"]
        load.join()
        drain_seconds(admin)
        time.sleep(1)
        found = [timed_trace(admin, request_id) for _ in range(3)]
        missing = [timed_trace(admin, "515f1e99-39db-11e9-9e96-01e5c04505b9") for _ in range(2)]
        results["trace"] = {
            "requests": box["r"]["requests"] + 1,
            "lookup_ms": sorted(t for t, _ in found)[1] * 1000,
            "lines": found[0][1],
            "whole_history_s": min(t for t, _ in missing),
            "store_mb": sum(f.stat().st_size for f in (work / "trace" / "data").rglob("*") if f.is_file()) / 2**20,
        }
    finally:
        s.stop()
        hello.stop()


def machine() -> dict:
    def version(cmd):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True)
            return (p.stdout + p.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "not found"

    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": os.uname().release,
        "wrk": version(["wrk", "--version"]),
        "nginx": version(["nginx", "-v"]),
        "rustc": version(["rustc", "--version"]),
        "sqlite": __import__("sqlite3").sqlite_version,
        "seconds_per_run": SECONDS,
    }


def main() -> None:
    out = ROOT / "bench" / "results" / "suite.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    results = {"machine": machine(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    work = Path(tempfile.mkdtemp(prefix="gw-bench-"))
    try:
        scenario_mock_and_proxy(work, results)
        scenario_ingest(results)
        scenario_startup(work, results)
        scenario_trace(work, results)
    finally:
        Server.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {out}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: (Server.stop_all(), sys.exit(1)))
    try:
        main()
    finally:
        Server.stop_all()
