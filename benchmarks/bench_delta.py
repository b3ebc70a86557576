"""What the Delta commit log costs: per flush, and per query.

A flush writes its segments, then commits them to the table's Delta log; a query takes
each table's snapshot, which is the cached one unless the log has a newer version (then
it is brought up to date). This measures, on a store in this process:

1. Commit overhead per flush: ``BENCH_DELTA_FLUSHES`` flushes (default 100) of one fixed
   batch of ``BENCH_DELTA_ROWS`` log rows (default 20,000, all in one hour: one segment
   per flush). The flush's two parts are timed by wrapping them: the Parquet write
   (``write_segments``, the baseline, same flush) and the whole ``LakeTable.commit``
   (the Delta transaction plus bringing the cached snapshot up to date); the Delta
   transaction alone is ``LakeTable.commit_seconds``. The log grows by one version per
   flush, so the first and last tenth are reported too.
2. Snapshot cost per query: ``LakeTable.snapshot()`` when nothing is new (the cached
   path: one ``stat`` of the next log file) and right after another writer's commit (the
   refresh: ``update_incremental`` and re-reading the add actions), over the table the
   flushes left.
3. A ``count(*)`` query's total time against its snapshot part, with the snapshot
   cached and after a foreign commit; and the same query ``as_of`` the newest version
   (time travel loads the log afresh: what an ``as_of`` adds).

Absolute times move with the machine's load; the ratios are the figures to compare.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tracelake.store as store_module
from tracelake.schema import LOGS
from tracelake.settings import Settings
from tracelake.store import Store
from tracelake.store.delta import LakeTable
from tracelake.store.ipc import to_ipc
from tracelake.store.segments import write_segments

FLUSHES = int(os.environ.get("BENCH_DELTA_FLUSHES", 100))
ROWS = int(os.environ.get("BENCH_DELTA_ROWS", 20_000))
CACHED_CALLS = 2000
REFRESHES = 30
QUERIES = 30


def log_batch(rows: int) -> pa.RecordBatch:
    """``rows`` log lines a few microseconds apart, inside the current hour."""
    hour_us = int(time.time()) // 3600 * 3_600_000_000
    start = datetime.fromtimestamp(hour_us / 1e6, UTC)
    step = max(1, 3_599_000_000 // rows)
    values: dict[str, pa.Array] = {
        "timestamp": pa.array([hour_us + i * step for i in range(rows)], pa.int64()).cast(
            LOGS.field("timestamp").type
        ),
        "level": pa.array(["INFO" if i % 10 else "ERROR" for i in range(rows)]),
        "service": pa.array([f"svc-{i % 8}" for i in range(rows)]),
        "host": pa.array([f"node-{i % 12:02d}" for i in range(rows)]),
        "message": pa.array(
            [
                f"GET /api/orders/{i} answered 200 in {i % 900} ms at {start:%H}h"
                for i in range(rows)
            ]
        ),
        "trace_id": pa.array([f"{i * 2654435761 % 2**64:032x}" for i in range(rows)]),
    }
    return pa.record_batch(
        [values.get(f.name, pa.nulls(rows, f.type)).cast(f.type) for f in LOGS], schema=LOGS
    )


class Timed:
    """A callable that adds each call's seconds to ``seconds``: how the benchmark times
    the parts of a flush without changing them."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1


def mean_ms(values: list[float]) -> float:
    return statistics.fmean(values) * 1000


def foreign_commit(other: LakeTable, lake: Path, data: pa.Table) -> None:
    """Another writer of the lake commits one segment to the table."""
    other.commit(write_segments(lake, "logs", data, "bench-other"), operation="bench")


def run() -> dict[str, float]:
    out: dict[str, float] = {}
    batch = log_batch(ROWS)
    ipc = to_ipc(batch)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Settings.load(env={}, overrides={"data_dir": str(Path(tmp) / "data")}))
        store.open()
        logs = store.tables["logs"]
        write = Timed(store_module.write_segments)
        store_module.write_segments = write
        commit = Timed(logs.commit)
        logs.commit = commit  # type: ignore[method-assign]

        # 1. commit overhead per flush
        flush_s, write_s, commit_s, txn_s = [], [], [], []
        for _ in range(FLUSHES):
            asyncio.run(store.append("logs", ipc))
            w, c, x = write.seconds, commit.seconds, logs.commit_seconds
            started = time.perf_counter()
            store.flush()
            flush_s.append(time.perf_counter() - started)
            write_s.append(write.seconds - w)
            commit_s.append(commit.seconds - c)
            txn_s.append(logs.commit_seconds - x)
        store_module.write_segments = write.fn
        tenth = max(1, FLUSHES // 10)
        out["flushes"] = FLUSHES
        out["rows_per_flush"] = ROWS
        out["flush_ms_mean"] = mean_ms(flush_s)
        out["parquet_write_ms_mean"] = mean_ms(write_s)
        out["commit_ms_mean"] = mean_ms(commit_s)
        out["commit_txn_ms_mean (commit_seconds)"] = mean_ms(txn_s)
        out["commit_to_write_ratio"] = sum(commit_s) / sum(write_s)
        out["commit_share_of_flush"] = sum(commit_s) / sum(flush_s)
        out["commit_ms_first_tenth"] = mean_ms(commit_s[:tenth])
        out["commit_ms_last_tenth"] = mean_ms(commit_s[-tenth:])
        out["commit_to_write_ratio_last_tenth"] = sum(commit_s[-tenth:]) / sum(write_s[-tenth:])

        # 2. snapshot: cached, and refreshed after another writer's commit
        out["table_version"] = logs.snapshot().version
        out["files_in_snapshot"] = len(logs.snapshot().segments)
        started = time.perf_counter()
        for _ in range(CACHED_CALLS):
            logs.snapshot()
        out["snapshot_cached_us"] = (time.perf_counter() - started) / CACHED_CALLS * 1e6
        other = LakeTable(store.lake, "logs")
        other.open(create=False)
        small = pa.Table.from_batches([log_batch(100)])
        refresh_s = []
        for _ in range(REFRESHES):
            foreign_commit(other, store.lake, small)
            started = time.perf_counter()
            logs.snapshot()
            refresh_s.append(time.perf_counter() - started)
        out["snapshot_refresh_us_median"] = statistics.median(refresh_s) * 1e6
        out["refresh_to_cached_ratio"] = (
            out["snapshot_refresh_us_median"] / out["snapshot_cached_us"]
        )
        out["files_after_refreshes"] = len(logs.snapshot().segments)

        # 3. a query against its snapshot part
        snapshot = Timed(logs.snapshot)
        logs.snapshot = snapshot  # type: ignore[method-assign]
        sql = "SELECT count(*) FROM logs"

        def timed_query(before: Callable[[], None] | None, **kwargs: Any) -> tuple[float, float]:
            totals, parts = [], []
            for _ in range(QUERIES):
                if before is not None:
                    before()
                s0 = snapshot.seconds
                started = time.perf_counter()
                store.query(sql, [], tables=["logs"], **kwargs)
                totals.append(time.perf_counter() - started)
                parts.append(snapshot.seconds - s0)
            return statistics.median(totals), statistics.median(parts)

        total, part = timed_query(None)
        out["query_ms_median (snapshot cached)"] = total * 1000
        out["snapshot_part_us (cached)"] = part * 1e6
        out["snapshot_share_of_query (cached)"] = part / total
        total, part = timed_query(lambda: foreign_commit(other, store.lake, small))
        out["query_ms_median (after a foreign commit)"] = total * 1000
        out["snapshot_part_us (refresh)"] = part * 1e6
        out["snapshot_share_of_query (refresh)"] = part / total
        plain = out["query_ms_median (snapshot cached)"]
        version = logs.snapshot().version
        total, _ = timed_query(None, as_of=version)
        out["query_ms_median (as_of the newest version)"] = total * 1000
        out["as_of_to_plain_ratio"] = total * 1000 / plain
        store.close()
    return out


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:46} {value:>14,.3f}")
