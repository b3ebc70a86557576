"""PromQL over a day of metrics: ``sum by (service) (rate(http_requests_total[5m]))``.

The lake: 200 scrape targets (20 services x 10 instances), each exposing
``http_requests_total`` for 5 (method, code) pairs — 1,000 series — scraped every
15 s for one day: 5.76 million samples, written through the store (WAL, then one
Parquet segment per hour). Each target scrapes at its own phase of the interval, and
a few instances restart (counter resets) during the day.

Measured, median of ``RUNS``:

1. the instant query at the end of the day (reads 5 minutes of samples);
2. the range query over the whole day at a 60 s step (1,441 steps; Grafana's step for
   a day-wide panel is 60-120 s);
3. the same range query over HTTP on the real server process (JSON included).

Target: each under 1 s. Baseline: DuckDB scanning the same day's samples of the
metric in the same store (``count(*)``, ``sum(value)``) — the floor of any evaluation
that must look at every sample; the ratio says what PromQL evaluation costs on top.

Scale down for a quick run: ``BENCH_PROMQL_TARGETS=20``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import orjson
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import ServerProcess

from tracelake.query.promql import PromQLEngine
from tracelake.schema import METRICS
from tracelake.settings import Settings
from tracelake.store import Store
from tracelake.store.ipc import to_ipc

TARGETS = int(os.environ.get("BENCH_PROMQL_TARGETS", 200))
INSTANCES_PER_SERVICE = 10
PAIRS = [("GET", "200"), ("GET", "404"), ("GET", "500"), ("POST", "200"), ("POST", "500")]
INTERVAL_S = 15
DAY_S = 86_400
DAY0 = 1_767_225_600  # 2026-01-01T00:00:00Z
RUNS = 5
QUERY = "sum by (service) (rate(http_requests_total[5m]))"
STEP_S = 60


def series_labels() -> list[dict[str, str]]:
    out = []
    for target in range(TARGETS):
        service = f"svc-{target // INSTANCES_PER_SERVICE:02d}"
        instance = f"10.0.{target // 250}.{target % 250}:8000"
        for method, code in PAIRS:
            out.append(
                {
                    "job": service,
                    "service": service,
                    "instance": instance,
                    "method": method,
                    "code": code,
                }
            )
    return out


def write_day(data_dir: Path) -> int:
    """One hour per append + flush: hourly Parquet segments, as a day of scrapes gives."""
    settings = Settings.load(
        env={}, overrides={"data_dir": str(data_dir), "wal_fsync": False, "retention_days": 100_000}
    )
    store = Store(settings)
    store.open()
    labels = series_labels()
    n = len(labels)
    texts = pa.array([orjson.dumps(lb, option=orjson.OPT_SORT_KEYS).decode() for lb in labels])
    services = pa.array([lb["service"] for lb in labels])
    rng = np.random.default_rng(7)
    rates = rng.uniform(0.2, 20.0, n)  # requests per second per series
    phase_ms = (np.arange(n) // len(PAIRS)) * (INTERVAL_S * 1000 // TARGETS)
    scrapes_per_day = DAY_S // INTERVAL_S
    all_scrapes = np.arange(scrapes_per_day)
    increments = rng.poisson(rates * INTERVAL_S, (scrapes_per_day, n)).astype(np.float64)
    day = rng.uniform(0, 1e5, n)[None, :] + np.cumsum(increments, axis=0)
    # 5 % of the series restart once: their counter starts again from zero.
    restart_at = rng.integers(1, scrapes_per_day, n)
    restarts = rng.random(n) < 0.05
    before = day[restart_at - 1, np.arange(n)]
    day = np.where(
        restarts[None, :] & (all_scrapes[:, None] >= restart_at[None, :]), day - before, day
    )
    per_hour = 3600 // INTERVAL_S
    total = 0
    for hour in range(24):
        scrapes = all_scrapes[hour * per_hour : (hour + 1) * per_hour]
        times_ms = (DAY0 * 1000 + scrapes[:, None] * INTERVAL_S * 1000 + phase_ms[None, :]).ravel()
        values = day[scrapes]
        index = np.tile(np.arange(n), len(scrapes))
        batch = pa.record_batch(
            [
                pa.array(times_ms * 1000, pa.timestamp("us", tz="UTC")),
                pa.array(["http_requests_total"] * len(index), pa.string()),
                texts.take(pa.array(index)),
                pa.array(values.ravel(), pa.float64()),
                services.take(pa.array(index)),
            ],
            schema=METRICS,
        )
        asyncio.run(store.append("metrics", to_ipc(batch)))
        store.flush()
        total += batch.num_rows
    store.close()
    return total


CPU: dict[str, float] = {}


def median_s(fn: object, runs: int = RUNS, name: str = "") -> float:
    """Median wall time; the median CPU time of this process goes to ``CPU[name]`` (on a
    shared machine wall time includes waiting for a core, CPU time does not)."""
    times, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    CPU[name] = statistics.median(cpu)
    return statistics.median(times)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        started = time.perf_counter()
        samples = write_day(data)
        print(
            f"lake: {TARGETS} targets, {TARGETS * len(PAIRS)} series, {samples:,} samples "
            f"in hourly segments (written in {time.perf_counter() - started:.0f} s)"
        )
        settings = Settings.load(
            env={}, overrides={"data_dir": str(data), "retention_days": 100_000}
        )
        store = Store(settings)
        store.open()
        engine = PromQLEngine(store, settings)
        end = DAY0 + DAY_S
        day = [datetime.fromtimestamp(DAY0, UTC), datetime.fromtimestamp(end, UTC)]

        def scan() -> None:
            store.query(
                "SELECT count(*), sum(value) FROM metrics WHERE name = ? AND timestamp BETWEEN ? AND ?",
                ["http_requests_total", *day],
                tables=["metrics"],
                timeout_s=60,
                max_rows=10,
            )

        baseline = median_s(scan, name="scan")
        instant = median_s(lambda: engine.instant(QUERY, end), name="instant")
        ranged = median_s(lambda: engine.range(QUERY, DAY0, end, STEP_S), name="range")
        groups = engine.instant(QUERY, end).value
        store.close()

        server = ServerProcess(data).start()
        try:
            params = {"query": QUERY, "start": DAY0, "end": end, "step": STEP_S}
            url = f"{server.url}/prometheus/api/v1/query_range"
            body = httpx.post(url, data=params, timeout=120).json()
            assert body["status"] == "success", body
            http = median_s(lambda: httpx.post(url, data=params, timeout=120).raise_for_status())
        finally:
            server.stop()

    steps = DAY_S // STEP_S + 1
    print(
        f"baseline: DuckDB scan of the day's samples of the metric: {baseline * 1000:.0f} ms "
        f"(cpu {CPU['scan'] * 1000:.0f} ms)"
    )
    print(f"{QUERY}")
    print(
        f"  instant at end of day: {instant * 1000:.0f} ms (cpu {CPU['instant'] * 1000:.0f} ms, "
        f"{len(groups.series)} services)"
    )  # type: ignore[union-attr]
    print(
        f"  range, day at {STEP_S} s step ({steps} steps): {ranged * 1000:.0f} ms "
        f"(cpu {CPU['range'] * 1000:.0f} ms) = {ranged / baseline:.1f}x the scan"
    )
    print(f"  range over HTTP (real server, JSON): {http * 1000:.0f} ms")
    slow = [
        name for name, t in (("instant", instant), ("range", ranged), ("http", http)) if t >= 1.0
    ]
    if slow:
        print(f"over the 1 s target: {', '.join(slow)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
