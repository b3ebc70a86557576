"""Continuous queries keeping up with ingest, against the real server process.

Clients post log lines through ``POST /api/v1/logs`` at a target rate (100,000
records/s by default; BENCH_STREAM_RATE, BENCH_STREAM_SECONDS to change) while a
continuous query computes, per 10 s tumbling window, the count, p95 latency and error
ratio per service. Lines carry no timestamp, so the server stamps each at ingest:
windows fill at the rate the server actually takes them.

Window delay, as docs/streams.md defines it: ``tl_committed_at - (window_end +
lateness)`` — how long after the window may first be computed its rows are in the
``derived`` table. The target is under 2 s at 100,000 records/s. Windows that end
inside the load period are measured, the first and last (partly loaded) are not; each
measured window's count is also checked against the raw rows. Baseline from the same
run: the same window's statement timed alone through ``POST /api/v1/sql``.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import ServerProcess

RATE = int(os.environ.get("BENCH_STREAM_RATE", 100_000))
SECONDS = float(os.environ.get("BENCH_STREAM_SECONDS", 60))
WINDOW_S = 10
LATENESS_S = 2
BATCH = 5000
CLIENTS = 4
SERVICES = ("gateway", "orders", "payments", "inventory", "users", "search", "auth", "billing")
CONFIG = f"""
[[continuous_queries]]
name = "service_health"
source = "logs"
window = "{WINDOW_S}s"
lateness = "{LATENESS_S}s"
group_by = ["service"]
aggregates = ["count() as requests", "p95(latency_ms)"]
ratios = {{ error_ratio = "level:error" }}
"""


def bodies(n: int = 16) -> list[bytes]:
    """NDJSON bodies of BATCH lines without timestamps (the server stamps them)."""
    out = []
    for b in range(n):
        lines = []
        for i in range(BATCH):
            k = b * BATCH + i
            lines.append(
                orjson.dumps(
                    {
                        "service": SERVICES[k % len(SERVICES)],
                        "level": "error" if k % 17 == 0 else "info",
                        "message": f"GET /api/orders/{k} answered 200",
                        "latency_ms": (k * 7919) % 900 + 1,
                    }
                )
            )
        out.append(b"\n".join(lines))
    return out


class Load:
    """CLIENTS threads posting bodies, paced together to RATE records/s."""

    def __init__(self, url: str, payloads: list[bytes]) -> None:
        self.url = url
        self.payloads = payloads
        self.sent = 0
        self.refused = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def client(self, index: int) -> None:
        per_client = RATE / CLIENTS
        started = time.perf_counter()
        done = 0
        with httpx.Client(base_url=self.url, timeout=60) as http:
            while not self.stop.is_set():
                ahead = done / per_client - (time.perf_counter() - started)
                if ahead > 0:
                    time.sleep(ahead)
                body = self.payloads[(index + done // BATCH) % len(self.payloads)]
                response = http.post("/api/v1/logs", content=body)
                with self.lock:
                    if response.status_code == 200:
                        self.sent += BATCH
                    else:
                        self.refused += 1
                done += BATCH

    def run(self, seconds: float) -> float:
        threads = [threading.Thread(target=self.client, args=(i,)) for i in range(CLIENTS)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        time.sleep(seconds)
        self.stop.set()
        for t in threads:
            t.join()
        return time.perf_counter() - started


def sql(url: str, statement: str, *params: object) -> dict:
    response = httpx.post(
        f"{url}/api/v1/sql", json={"sql": statement, "params": list(params)}, timeout=120
    )
    response.raise_for_status()
    return response.json()


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "tracelake.toml").write_text(CONFIG)
        server = ServerProcess(
            root / "data",
            extra_args=["--config", str(root / "tracelake.toml")],
            env={"TRACELAKE_WAL_FSYNC": "true"},
        ).start()
        try:
            payloads = bodies()
            load = Load(server.url, payloads)
            t0 = time.time()
            elapsed = load.run(SECONDS)
            t1 = time.time()
            achieved = load.sent / elapsed
            print(
                f"target {RATE:,} records/s; achieved {achieved:,.0f} records/s over {elapsed:.0f} s"
            )
            print(f"refused requests (503): {load.refused}")
            # measured: windows that start after the first full second and end before t1
            first = (int(t0) // WINDOW_S + 1) * WINDOW_S
            last_end = int(t1) // WINDOW_S * WINDOW_S
            deadline = time.time() + LATENESS_S + 60
            while time.time() < deadline:
                done = sql(
                    server.url,
                    "SELECT count(*) FROM derived WHERE epoch(window_end) >= ?",
                    last_end,
                )["rows"][0][0]
                if done:
                    break
                time.sleep(0.5)
            rows = sql(
                server.url,
                "SELECT epoch(timestamp), epoch(window_end), "
                "epoch(tl_committed_at) - epoch(window_end) - ?, sum(value) "
                "FROM derived WHERE aggregate = 'requests' AND epoch(timestamp) >= ? "
                "AND epoch(window_end) <= ? GROUP BY ALL ORDER BY 1",
                LATENESS_S,
                first,
                last_end,
            )["rows"]
            raw = dict(
                (int(start), count)
                for start, count in sql(
                    server.url,
                    "SELECT epoch(time_bucket(INTERVAL 10 second, timestamp)), count(*) FROM logs "
                    "WHERE epoch(timestamp) >= ? AND epoch(timestamp) < ? GROUP BY 1",
                    first,
                    last_end,
                )["rows"]
            )
            delays = [r[2] for r in rows]
            mismatched = [r for r in rows if raw.get(int(r[0])) != int(r[3])]
            per_window = [int(r[3]) for r in rows]
            baseline = []
            if rows:
                start, end = rows[-1][0], rows[-1][1]
                for _ in range(3):
                    baseline.append(
                        sql(
                            server.url,
                            "SELECT service, count(*), quantile_cont(TRY_CAST("
                            "json_extract_string(attributes, '$.latency_ms') AS DOUBLE), 0.95), "
                            "avg(CASE WHEN level = 'ERROR' THEN 1.0 ELSE 0.0 END) FROM logs "
                            "WHERE epoch(timestamp) >= ? AND epoch(timestamp) < ? GROUP BY 1",
                            start,
                            end,
                        )["took_ms"]
                    )
            print(f"windows measured: {len(rows)} of {WINDOW_S} s, lateness {LATENESS_S} s")
            if rows:
                print(f"records per window: median {statistics.median(per_window):,.0f}")
                print(
                    f"window delay: median {statistics.median(delays):.3f} s, "
                    f"max {max(delays):.3f} s (target < 2 s)"
                )
                print(
                    f"baseline, one window's statement alone: {statistics.median(baseline):.0f} ms"
                )
            print(f"windows whose count differs from the raw rows: {len(mismatched)}")
            ok = bool(rows) and max(delays) < 2.0 and not mismatched
            print("PASS" if ok else "FAIL")
            return 0 if ok else 1
        finally:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
