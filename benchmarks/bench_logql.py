"""LogQL against the search language on the same lake, in the same run.

Builds a lake of N log lines (10 million by default; BENCH_LOGQL_LINES to change) spread
over the last 24 hours, written through the store as the server writes it (WAL,
memtable, Parquet segments), then times the metric query Grafana's panels send —
``sum by (service) (count_over_time({service=~".+"} |= "timeout" [5m]))`` over the day
at a 5 minute step — against its search-language equivalent
``timeout | stats count() by service, bin(5m)``, both through the same query engine
and sources (median of repeated runs). The figure is the ratio LogQL / search: the
target is at most 1.2. Both answers are checked to hold the same counts.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracelake.query import compile_query
from tracelake.query.logql import LogQLEngine
from tracelake.query.sql import Sql
from tracelake.schema import LOGS
from tracelake.settings import Settings
from tracelake.store import Store
from tracelake.store.duck import Results
from tracelake.store.ipc import to_ipc

LINES = int(os.environ.get("BENCH_LOGQL_LINES", 10_000_000))
CHUNK = 1_000_000
RUNS = int(os.environ.get("BENCH_RUNS", 7))
DAY_S = 86_400
STEP_S = 300
SERVICES = ("gateway", "orders", "payments", "inventory", "users", "search", "auth", "billing")
LEVELS = ("INFO",) * 14 + ("DEBUG", "DEBUG", "WARN", "ERROR")
TEMPLATES = (
    ("GET /api/orders/", " answered 200 in 12 ms"),
    ("POST /api/pay/", " answered 500 in 80 ms"),
    ("cache miss for user ", ", loading from db"),
    ("payment declined for order ", ": insufficient funds"),
    ("timeout calling bank for order ", " after 3000 ms"),
    ("inventory reserved ", " items"),
)
LOGQL = 'sum by (service) (count_over_time({service=~".+"} |= "timeout" [5m]))'
SEARCH = "timeout | stats count() by service, bin(5m)"


def chunk(rng: np.random.Generator, start_us: int, first: int, n: int) -> pa.RecordBatch:
    """Rows ``first`` .. ``first + n`` of the lake, timestamps evenly over the day."""
    step = DAY_S * 1e6 / LINES
    ts = (start_us + (np.arange(first, first + n) * step)).astype("int64")
    pick = rng.integers(0, len(TEMPLATES), n)
    heads = pa.array([t[0] for t in TEMPLATES]).take(pa.array(pick))
    tails = pa.array([t[1] for t in TEMPLATES]).take(pa.array(pick))
    numbers = pa.array(rng.integers(1, 99_999, n)).cast(pa.string())
    message = pc.binary_join_element_wise(heads, numbers, tails, "")
    columns = {
        "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "service": pa.array(SERVICES).take(pa.array(rng.integers(0, len(SERVICES), n))),
        "level": pa.array(LEVELS).take(pa.array(rng.integers(0, len(LEVELS), n))),
        "message": message,
        "host": pc.binary_join_element_wise(
            "node-", pa.array(rng.integers(1, 12, n)).cast(pa.string()), ""
        ),
    }
    return pa.record_batch([columns.get(f.name, pa.nulls(n, f.type)) for f in LOGS], schema=LOGS)


def build(store: Store, end_s: int) -> float:
    started = time.perf_counter()
    rng = np.random.default_rng(1)
    start_us = (end_s - DAY_S) * 1_000_000
    for first in range(0, LINES, CHUNK):
        batch = chunk(rng, start_us, first, min(CHUNK, LINES - first))
        asyncio.run(store.append("logs", to_ipc(batch)))
        store.flush()
    return time.perf_counter() - started


def median_s(fn: Callable[[], object]) -> float:
    fn()  # warm: Parquet metadata cached, as on a running server
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    end_s = int(time.time()) // STEP_S * STEP_S
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(
            env={},
            overrides={
                "data_dir": str(Path(tmp) / "data"),
                "memtable_max_rows": 10 * CHUNK,
                "ingest_max_pending_bytes": 1 << 31,
                "query_timeout_s": 600.0,
                "query_max_rows": 1_000_000,
            },
        )
        store = Store(settings)
        store.open()
        try:
            built = build(store, end_s)
            print(
                f"lake: {LINES:,} lines over 24 h in {built:.0f} s "
                f"({store.segment_count()} segments, {store.segment_bytes() / 1e6:.0f} MB)"
            )

            def run_sql(sql: str, params: list[object], arrow: bool = False) -> Results:
                return store.query(
                    sql,
                    params,
                    tables=["logs"],
                    timeout_s=600,
                    max_rows=5_000_000,
                    arrow=arrow,
                )

            async def runner(
                sql: Sql, *, start_ns: int | None, end_ns: int | None, max_rows: int, arrow: bool
            ) -> Results:
                return run_sql(sql.text, list(sql.params), arrow)

            engine = LogQLEngine(runner, max_rows=settings.query_max_rows)
            from datetime import UTC, datetime, timedelta

            # LogQL's windows are (t - 5m, t]: the first window opens just after the start
            start = datetime.fromtimestamp(end_s - DAY_S, UTC) + timedelta(microseconds=1)
            end = datetime.fromtimestamp(end_s + 1, UTC)
            compiled = compile_query(SEARCH, start=start, end=end, limit=1_000_000)

            def logql() -> dict[str, float]:
                answer = asyncio.run(
                    engine.query(
                        LOGQL,
                        start_ns=(end_s - DAY_S + STEP_S) * 10**9,
                        end_ns=end_s * 10**9,
                        step_ns=STEP_S * 10**9,
                        limit=100,
                        forward=False,
                    )
                )
                return {dict(k)["service"]: float(np.nansum(v)) for k, v in answer.series.items()}

            def search() -> dict[str, float]:
                results = run_sql(compiled.sql, compiled.params)
                service, count = results.columns.index("service"), results.columns.index("count()")
                totals: dict[str, float] = {}
                for row in results.rows:  # per service and 5-minute bin
                    totals[row[service]] = totals.get(row[service], 0.0) + row[count]
                return totals

            agreed = logql(), search()
            assert agreed[0] == agreed[1], f"the two languages disagree: {agreed[0]} {agreed[1]}"
            t_logql, t_search = median_s(logql), median_s(search)
        finally:
            store.close()
    print(f"LogQL  {LOGQL}\n  median {t_logql * 1000:.0f} ms")
    print(f"search {SEARCH}\n  median {t_search * 1000:.0f} ms")
    ratio = t_logql / t_search
    print(f"ratio LogQL / search: {ratio:.2f}x (target <= 1.2x)")
    return 0 if ratio <= 1.2 else 1


if __name__ == "__main__":
    sys.exit(main())
