"""Turns bench/results/suite.json (and the Insights results) into Markdown
tables and PNG plots (not a test).

    python3 bench/report.py [bench/results]

Writes bench/results/suite.md and bench/results/plots/*.png. The plots need
matplotlib (bench/run.sh installs it in the bench venv); without it only the
Markdown is written.
"""

import json
import sys
from pathlib import Path


def fmt(n: float, digits: int = 0) -> str:
    return f"{n:,.{digits}f}"


def table(header, rows) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if i else "---" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def markdown(r: dict) -> str:
    m = r["machine"]
    parts = [
        f"Machine: {m['cpus']} cores ({m['cpu']}), {m['memory_gb']} GiB, Linux {m['kernel']}; "
        f"{m['wrk']}; {m['nginx']}; {m['rustc']}; SQLite {m['sqlite']}. "
        f"{m['seconds_per_run']} s per load run; load generator, servers and upstream share the cores. "
        f"Run {r['started']} – {r['finished']}.",
        "",
        "### MOCK route against a minimal hyper server (the ceiling)",
        "",
        table(
            ["connections", "hello-world req/s", "Gatewatch MOCK req/s", "ratio", "hello p99 ms", "MOCK p99 ms", "MOCK CPU µs/req"],
            [
                [
                    x["connections"],
                    fmt(x["hello"]["rps"]),
                    fmt(x["gatewatch_mock"]["rps"]),
                    f"{x['ratio']:.2f}×",
                    f"{x['hello']['p99_ms']:.2f}",
                    f"{x['gatewatch_mock']['p99_ms']:.2f}",
                    f"{x['gatewatch_mock']['cpu_per_1k_req_ms']:.1f}",
                ]
                for x in r["mock"]
            ],
        ),
        "",
        f"Best of {r['mock'][0].get('rounds', 1)} interleaved rounds per target and connection count.",
        "",
        "### HTTP_PROXY against nginx and a direct call",
        "",
    ]
    rows = []
    for p in r["proxy"]:
        for key, label in [
            ("direct", "upstream directly"),
            ("nginx_access_off", "nginx, access_log off"),
            ("nginx_access_on", "nginx, access_log on"),
            ("gatewatch_access_off", "Gatewatch, no logging"),
            ("gatewatch_access_on", "Gatewatch, access log on"),
        ]:
            v = p[key]
            rows.append(
                [
                    p["connections"],
                    label,
                    fmt(v["rps"]),
                    f"{v['p50_ms']:.2f}",
                    f"{v['p99_ms']:.2f}",
                    f"{v['p999_ms']:.2f}",
                    f"{v['cpu_per_1k_req_ms']:.1f}",
                    f"{v['peak_rss_mb']:.1f}",
                    v["non2xx"] + v["errors"],
                ]
            )
    parts.append(
        table(["conns", "target", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "CPU µs/req", "peak RSS MB", "errors"], rows)
    )
    parts += [
        "",
        table(
            ["connections", "Gatewatch / nginx, access log on", "Gatewatch / nginx, access log off"],
            [[p["connections"], f"{p['ratio_access_on']:.2f}×", f"{p['ratio_access_off']:.2f}×"] for p in r["proxy"]],
        ),
        "",
        f"Best of {r['proxy'][0].get('rounds', 1)} interleaved rounds per target and connection count "
        "(each target's row is its fastest round, with that round's latency, CPU and RSS).",
        "",
        f"### What logging costs (MOCK route, {r['logging']['connections']} connections)",
        "",
        table(
            ["logging", "req/s during the run", "log backlog written after, s", "sustained req/s", "vs off (sustained)", "p50 ms", "p99 ms", "CPU µs/req incl. logs"],
            [
                [
                    x["label"],
                    fmt(x["rps"]),
                    f"{x.get('drain_s', 0):.2f}",
                    fmt(x.get("rps_sustained", x["rps"])),
                    f"{x['vs_off']:.2f}×",
                    f"{x['p50_ms']:.2f}",
                    f"{x['p99_ms']:.2f}",
                    f"{x.get('cpu_with_logs_us_per_req', x['cpu_per_1k_req_ms']):.1f}",
                ]
                for x in r["logging"]["rows"]
            ],
        ),
        "",
        f"Best of {r['logging']['rows'][0].get('rounds', 1)} interleaved rounds per row. "
        "Sustained req/s counts the seconds the log writer still needed after the load stopped "
        "(the log queue holds up to 65,536 finished requests); CPU includes them.",
        "",
        "### Lambda (AWS_PROXY, Python handler, one connection)",
        "",
    ]
    lam = r["lambda"]
    parts.append(
        table(
            ["path", "p50 ms", "p99 ms"],
            [
                ["handler over the Runtime API directly", f"{lam['direct']['warm_p50_ms']:.3f}", f"{lam['direct']['warm_p99_ms']:.3f}"],
                ["through the gateway (AWS_PROXY route)", f"{lam['gateway']['p50_ms']:.3f}", f"{lam['gateway']['p99_ms']:.3f}"],
                ["gateway overhead", f"{lam['overhead_p50_ms']:.3f}", f"{lam['overhead_p99_ms']:.3f}"],
            ],
        )
    )
    parts += ["", f"Cold start (spawn, import, first `invocation/next`): {lam['direct']['cold_ms']:.0f} ms.", ""]
    ing = r["ingest"]
    parts += [
        "### Durable store ingest (1,000-event batches of ~200 bytes, fsync before ack)",
        "",
        table(
            ["writers", "store events/s", "raw append + fsync", "store / raw", "SQLite WAL FULL", "store / SQLite"],
            [
                [x["writers"], fmt(x["store_events_per_s"]), fmt(x["raw_events_per_s"]), f"{x['ratio_raw']:.2f}×", fmt(x["sqlite_events_per_s"]), f"{x['ratio_sqlite']:.1f}×"]
                for x in ing["rows"]
            ],
        ),
        "",
        f"PutLogEvents over HTTP: {fmt(ing['put_log_events']['http'])} events/s against {fmt(ing['put_log_events']['in_process'])} in process "
        f"({ing['put_log_events']['ratio']:.2f}×).",
        "",
        "### Start-up and idle memory of `gatewatch serve` (bundled example)",
        "",
        f"Ready (first data-plane answer) after {r['startup']['ready_ms']:.0f} ms; idle RSS {r['startup']['idle_rss_mb']:.1f} MB (median of 3).",
        "",
    ]
    if "trace" in r:
        t = r["trace"]
        parts += [
            "### `gatewatch trace` after a load with INFO + data trace",
            "",
            f"{fmt(t['requests'])} requests logged ({t['store_mb']:.0f} MB of store): one request from the middle of the run "
            f"traced in {t['lookup_ms']:.0f} ms ({t['lines']} lines printed, median of 3); a search of the whole history for an id "
            f"that carries no arrival time and is nowhere took {t['whole_history_s']:.2f} s (best of 2).",
            "",
        ]
    return "\n".join(parts)


def plots(r: dict, out: Path) -> list:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    out.mkdir(parents=True, exist_ok=True)
    made = []

    keys = [
        ("direct", "upstream direct"),
        ("nginx_access_off", "nginx, log off"),
        ("nginx_access_on", "nginx, log on"),
        ("gatewatch_access_off", "Gatewatch, log off"),
        ("gatewatch_access_on", "Gatewatch, log on"),
    ]
    conns = [p["connections"] for p in r["proxy"]]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.16
    for i, (k, label) in enumerate(keys):
        xs = [j + (i - 2) * width for j in range(len(conns))]
        axes[0].bar(xs, [p[k]["rps"] for p in r["proxy"]], width, label=label)
        axes[1].bar(xs, [p[k]["p99_ms"] for p in r["proxy"]], width, label=label)
    for ax, title in zip(axes, ["throughput (req/s)", "p99 latency (ms)"]):
        ax.set_xticks(range(len(conns)))
        ax.set_xticklabels([f"{c} conns" for c in conns])
        ax.set_title(title)
    axes[0].legend(fontsize=8)
    fig.suptitle("HTTP_PROXY: Gatewatch vs nginx vs direct")
    fig.tight_layout()
    fig.savefig(out / "proxy.png", dpi=110)
    plt.close(fig)
    made.append("proxy.png")

    fig, ax = plt.subplots(figsize=(8, 4.5))
    pcts = ["p50_ms", "p99_ms", "p999_ms"]
    for k, label in keys:
        mid = r["proxy"][len(r["proxy"]) // 2][k]
        ax.plot(["p50", "p99", "p99.9"], [mid[p] for p in pcts], marker="o", label=label)
    ax.set_yscale("log")
    ax.set_ylabel("ms (log)")
    ax.set_title(f"HTTP_PROXY latency percentiles, {r['proxy'][len(r['proxy']) // 2]['connections']} connections")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "proxy-latency.png", dpi=110)
    plt.close(fig)
    made.append("proxy-latency.png")

    rows = r["logging"]["rows"]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.barh([x["label"] for x in rows][::-1], [x.get("rps_sustained", x["rps"]) for x in rows][::-1], color="#4c72b0")
    for y, x in enumerate(rows[::-1]):
        ax.text(x.get("rps_sustained", x["rps"]), y, f" {x['vs_off']:.2f}×", va="center", fontsize=8)
    ax.set_xlabel("sustained req/s, logs written (MOCK route)")
    ax.set_title("What logging costs")
    fig.tight_layout()
    fig.savefig(out / "logging.png", dpi=110)
    plt.close(fig)
    made.append("logging.png")

    fig, ax = plt.subplots(figsize=(7, 4))
    mk = r["mock"]
    xs = range(len(mk))
    ax.bar([x - 0.2 for x in xs], [m["hello"]["rps"] for m in mk], 0.4, label="hyper hello-world")
    ax.bar([x + 0.2 for x in xs], [m["gatewatch_mock"]["rps"] for m in mk], 0.4, label="Gatewatch MOCK")
    ax.set_xticks(list(xs))
    ax.set_xticklabels([f"{m['connections']} conns" for m in mk])
    ax.set_ylabel("req/s")
    ax.set_title("MOCK route against the ceiling")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "mock.png", dpi=110)
    plt.close(fig)
    made.append("mock.png")

    ing = r["ingest"]["rows"]
    fig, ax = plt.subplots(figsize=(7, 4))
    labels = [f"{x['writers']} writer(s)" for x in ing]
    xs = range(len(ing))
    ax.bar([x - 0.27 for x in xs], [x["raw_events_per_s"] for x in ing], 0.27, label="raw append + fsync")
    ax.bar(list(xs), [x["store_events_per_s"] for x in ing], 0.27, label="Gatewatch store")
    ax.bar([x + 0.27 for x in xs], [x["sqlite_events_per_s"] for x in ing], 0.27, label="SQLite WAL, synchronous=FULL")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels)
    ax.set_ylabel("durable events/s")
    ax.set_title("Store ingest")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "ingest.png", dpi=110)
    plt.close(fig)
    made.append("ingest.png")
    return made


def main() -> None:
    results = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "results")
    r = json.loads((results / "suite.json").read_text())
    md = markdown(r)
    made = plots(r, results / "plots")
    if made:
        md += "\n" + "\n".join(f"![{name}](bench/results/plots/{name})" for name in made) + "\n"
    (results / "suite.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
