"""The runner over a real store: windows committed once, and recovery after a crash at
each step of a commit (a "crash" closes the WAL without a flush, as kill -9 leaves it)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from tracelake.schema import EVENTS
from tracelake.settings import Settings
from tracelake.store import Store
from tracelake.store.ipc import to_ipc
from tracelake.streams.checkpoint import CheckpointFile
from tracelake.streams.config import parse_continuous_queries
from tracelake.streams.output import Value, derived_batch
from tracelake.streams.runner import StreamRunner
from tracelake.streams.windows import Window

S = 1_000_000
T0 = 1_767_225_600 * S  # 2026-01-01T00:00:00Z, a window boundary
QUERY = {
    "name": "orders",
    "source": "events",
    "filter": "type:order_placed",
    "window": "10s",
    "lateness": "2s",
    "group_by": ["payload.status"],
    "aggregates": ["count() as orders"],
}


class Lake:
    """A store in ``path`` that can be crashed and reopened, and a runner on it."""

    def __init__(self, path: Path) -> None:
        self.settings = Settings.load(
            env={}, overrides={"data_dir": str(path), "retention_days": 100_000, "wal_fsync": False}
        )
        [self.query] = parse_continuous_queries([QUERY], 0.0)
        self.now = T0 + 1 * S
        self.open()

    def open(self) -> None:
        self.store = Store(self.settings)
        self.store.open()
        self.runner = StreamRunner(
            self.store, self.settings, [self.query], clock=lambda: self.now / S
        )

    def crash(self) -> None:
        assert self.store.wal is not None
        self.store.wal.close()  # frames stay in the WAL; nothing is flushed

    def restart(self) -> None:
        self.crash()
        self.open()
        asyncio.run(self.runner.recover())

    def publish(self, *rows: tuple[int, str]) -> None:
        n = len(rows)
        batch = pa.record_batch(
            [
                pa.array([r[0] for r in rows], EVENTS.field("timestamp").type),
                pa.array(["order_placed"] * n),
                pa.array([None] * n, pa.string()),
                pa.array(["shop"] * n),
                pa.array([None] * n, pa.string()),
                pa.array([None] * n, pa.string()),
                pa.array([orjson.dumps({"status": r[1]}).decode() for r in rows]),
            ],
            schema=EVENTS,
        )
        asyncio.run(self.store.append("events", to_ipc(batch)))

    def sql(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return self.store.query(sql, params, timeout_s=10, max_rows=10_000).rows

    def derived(self) -> list[tuple[Any, ...]]:
        return self.sql(
            "SELECT epoch_us(timestamp) - ?, labels, value FROM derived ORDER BY 1, 2", T0
        )

    def metrics(self) -> list[tuple[Any, ...]]:
        return self.sql(
            "SELECT epoch_us(timestamp) - ?, name, labels, value FROM metrics ORDER BY 1, 2, 3", T0
        )


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[Lake]:
    lake = Lake(tmp_path / "data")
    asyncio.run(lake.runner.recover())
    yield lake
    if lake.store.wal is not None:
        lake.store.wal.close()


def window(i: int) -> Window:
    return Window(T0 + i * 10 * S, T0 + (i + 1) * 10 * S)


def test_first_start_resumes_at_the_window_holding_the_start(lake: Lake) -> None:
    assert lake.runner.committed_end_us["orders"] == T0
    assert lake.runner.checkpoints.get("orders") == T0


def test_a_commit_writes_derived_rows_metrics_and_the_checkpoint(lake: Lake) -> None:
    lake.publish(
        (T0 + S, "paid"), (T0 + 2 * S, "paid"), (T0 + 3 * S, "failed"), (T0 + 11 * S, "paid")
    )
    asyncio.run(lake.runner.commit(lake.query, [window(0), window(1)]))
    assert lake.derived() == [
        (0, '{"status":"failed"}', 1.0),
        (0, '{"status":"paid"}', 2.0),
        (10 * S, '{"status":"paid"}', 1.0),
    ]
    assert lake.metrics() == [
        (10 * S, "tracelake_cq_orders_orders", '{"status":"failed"}', 1.0),
        (10 * S, "tracelake_cq_orders_orders", '{"status":"paid"}', 2.0),
        (20 * S, "tracelake_cq_orders_orders", '{"status":"paid"}', 1.0),
    ]
    assert lake.runner.checkpoints.get("orders") == T0 + 20 * S


def test_the_loop_commits_a_window_once_its_end_plus_lateness_has_passed(lake: Lake) -> None:
    lake.publish((T0 + S, "paid"))

    async def run_until(now_us: int) -> None:
        lake.now = now_us
        task = asyncio.create_task(lake.runner.run())
        await asyncio.sleep(0.5)
        task.cancel()

    asyncio.run(run_until(T0 + 11 * S))  # 10 s end + 2 s lateness not yet reached
    assert lake.derived() == []
    asyncio.run(run_until(T0 + 12 * S))
    assert lake.derived() == [(0, '{"status":"paid"}', 1.0)]
    assert lake.runner.stats.windows == 1


def test_crash_after_the_derived_batch_restores_its_metrics_once_and_skips_the_window(
    lake: Lake,
) -> None:
    lake.publish((T0 + S, "paid"))
    values = [Value(T0, T0 + 10 * S, '{"status":"paid"}', "orders", 1.0)]
    asyncio.run(lake.store.append("derived", to_ipc(derived_batch("orders", values, T0))))
    lake.publish((T0 + 2 * S, "paid"))  # arrived after the window was computed: too late
    lake.restart()
    assert lake.runner.committed_end_us["orders"] == T0 + 10 * S
    assert lake.runner.checkpoints.get("orders") == T0 + 10 * S
    assert lake.metrics() == [(10 * S, "tracelake_cq_orders_orders", '{"status":"paid"}', 1.0)]
    lake.restart()  # and a second start adds nothing
    assert lake.metrics() == [(10 * S, "tracelake_cq_orders_orders", '{"status":"paid"}', 1.0)]
    assert lake.derived() == [(0, '{"status":"paid"}', 1.0)]


def test_crash_after_both_batches_but_before_the_checkpoint_writes_nothing_twice(
    lake: Lake,
) -> None:
    lake.publish((T0 + S, "paid"))
    asyncio.run(lake.runner.commit(lake.query, [window(0)]))
    lake.runner.checkpoints.save("orders", T0)  # the checkpoint write "never happened"
    lake.restart()
    assert lake.runner.committed_end_us["orders"] == T0 + 10 * S
    assert lake.derived() == [(0, '{"status":"paid"}', 1.0)]
    assert lake.metrics() == [(10 * S, "tracelake_cq_orders_orders", '{"status":"paid"}', 1.0)]


def test_crash_before_the_derived_batch_computes_the_window_again_once(lake: Lake) -> None:
    lake.publish((T0 + S, "paid"), (T0 + 2 * S, "failed"))
    lake.restart()  # nothing of the window was committed
    assert lake.runner.committed_end_us["orders"] == T0
    lake.now = T0 + 13 * S
    asyncio.run(lake.runner.commit(lake.query, [window(0)]))
    assert lake.derived() == [(0, '{"status":"failed"}', 1.0), (0, '{"status":"paid"}', 1.0)]


def test_downtime_before_the_first_window_is_not_skipped(lake: Lake) -> None:
    lake.publish((T0 + S, "paid"))
    lake.now = T0 + 300 * S  # restarted five minutes later
    lake.restart()
    assert lake.runner.committed_end_us["orders"] == T0
    due = list(lake.query.windows.due(T0, lake.now, lake.query.lateness_us))
    assert due[0] == window(0) and len(due) == 29


def test_an_empty_window_commits_no_rows_but_moves_the_checkpoint(lake: Lake) -> None:
    asyncio.run(lake.runner.commit(lake.query, [window(0)]))
    assert lake.derived() == []
    assert lake.runner.checkpoints.get("orders") == T0 + 10 * S


def test_a_commit_that_fails_after_its_derived_batch_is_not_written_twice_on_retry(
    lake: Lake,
) -> None:
    """The checkpoint write fails (its temp name is a directory) after both batches went
    in; the retry must find the window committed in ``derived`` instead of computing it
    again."""
    lake.publish((T0 + S, "paid"))
    blocker = lake.runner.checkpoints.path.with_name("checkpoints.json.tmp")
    blocker.mkdir()

    async def run() -> None:
        lake.now = T0 + 12 * S
        task = asyncio.create_task(lake.runner.run())
        while lake.runner.stats.failures == 0:
            await asyncio.sleep(0.05)
        blocker.rmdir()
        while lake.runner.committed_end_us["orders"] != T0 + 10 * S:
            await asyncio.sleep(0.05)
        task.cancel()

    asyncio.run(asyncio.wait_for(run(), 20))
    assert lake.derived() == [(0, '{"status":"paid"}', 1.0)]
    assert lake.metrics() == [(10 * S, "tracelake_cq_orders_orders", '{"status":"paid"}', 1.0)]
    assert CheckpointFile(lake.runner.checkpoints.path).load() == {"orders": T0 + 10 * S}
