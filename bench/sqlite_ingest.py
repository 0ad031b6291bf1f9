"""SQLite reference for the store ingest benchmark (not a test).

    python3 bench/sqlite_ingest.py BATCHES DIR

Inserts BATCHES batches of 1,000 events of ~200 bytes (the same messages as
crates/store/examples/ingest.rs) into SQLite in WAL mode with
synchronous=FULL, one transaction per batch, so each batch is durable when
its commit returns, the way LocalStack's newer logs provider keeps events.
Prints one JSON line: {"sqlite_events_per_s", "events", "seconds"}.
"""

import json
import os
import sqlite3
import sys
import time

EVENTS_PER_BATCH = 1000


def message(i: int) -> str:
    return (
        '{"requestId":"%08x-7f7e-4c55-9d47-1b1f5c0c7a11","ip":"203.0.113.%d",'
        '"requestTime":"25/Nov/2026:10:39:40 +0000","httpMethod":"GET",'
        '"resourcePath":"/pets/{petId}","status":"200","responseLength":"%d"}'
        % (i, i % 255, 100 + i % 900)
    )


def main() -> None:
    batches = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    directory = sys.argv[2] if len(sys.argv) > 2 else "/var/tmp/gw-sqlite-bench"
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "events.db")
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, log_group TEXT, log_stream TEXT,"
        " timestamp INTEGER, ingestion_time INTEGER, message TEXT)"
    )
    db.execute("CREATE INDEX events_by_stream ON events (log_group, log_stream, timestamp)")
    now = int(time.time() * 1000)
    rows = [("/bench/access", "s1", now + i, now, message(i)) for i in range(EVENTS_PER_BATCH)]
    started = time.perf_counter()
    for _ in range(batches):
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO events (log_group, log_stream, timestamp, ingestion_time, message)"
            " VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        db.execute("COMMIT")
    seconds = time.perf_counter() - started
    events = batches * EVENTS_PER_BATCH
    db.close()
    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass
    print(json.dumps({"sqlite_events_per_s": events / seconds, "events": events, "seconds": seconds}))


if __name__ == "__main__":
    main()
