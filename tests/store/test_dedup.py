"""The store's memory of record ids (``store/dedup.py``) and the ``logs._id`` column a lake
made before it gains."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from tests.store.conftest import settings_for
from tracelake.errors import Overloaded
from tracelake.ingest.tables.logs import logs_batch
from tracelake.model import IngestResult
from tracelake.schema import LOGS, TIMESTAMP
from tracelake.store import Store
from tracelake.store.dedup import RecentIds
from tracelake.store.ipc import to_ipc


def named(*pairs: tuple[str | None, str], now_us: int | None = None) -> bytes:
    """A logs batch of (id, message) rows, timestamped now."""
    now_us = now_us or int(datetime.now(UTC).timestamp() * 1e6)
    objects = [{"message": m, "timestamp": now_us * 1000} for _, m in pairs]
    ids = [i for i, _ in pairs]
    lines = list(range(1, len(objects) + 1))
    return to_ipc(logs_batch(objects, lines, IngestResult(), now_us, ids=ids))


def messages(store: Store) -> list[str]:
    return [r[0] for r in store.query("SELECT message FROM logs ORDER BY message", []).rows]


def test_rows_with_a_known_id_are_left_out_and_named_in_the_answer(
    make_store: Callable[..., Store],
) -> None:
    """A row whose id the table holds, or that repeats an id earlier in its batch, is
    not stored; rows without an id always are."""
    store = make_store()
    assert asyncio.run(store.append("logs", named(("a", "first"), (None, "anon")))) == []
    left_out = asyncio.run(
        store.append("logs", named(("a", "again"), ("b", "b1"), ("b", "b2"), (None, "anon")))
    )
    assert left_out == [0, 2]
    assert messages(store) == ["anon", "anon", "b1", "first"]


def test_two_appends_of_one_id_at_once_store_it_once(make_store: Callable[..., Store]) -> None:
    """The check and the claim are one step: of concurrent appends naming one record, one
    stores it and the others wait for its outcome and leave it out."""
    store = make_store()

    async def race() -> list[list[int]]:
        sends = [store.append("logs", named(("same", f"copy {i}"))) for i in range(10)]
        return list(await asyncio.gather(*sends))

    answers = asyncio.run(race())
    assert sorted(answers) == [[]] + [[0]] * 9
    assert len(messages(store)) == 1


def test_an_id_is_free_again_when_its_append_is_refused(make_store: Callable[..., Store]) -> None:
    """A refused append (the disk floor, overload) stores nothing: its ids are not taken,
    so the client's retry is stored."""
    store = make_store()
    store._pending_bytes = store.settings.ingest_max_pending_bytes  # the WAL is behind
    with pytest.raises(Overloaded):
        asyncio.run(store.append("logs", named(("x", "refused"))))
    store._pending_bytes = 0
    assert asyncio.run(store.append("logs", named(("x", "retried")))) == []
    assert messages(store) == ["retried"]


def test_ids_are_remembered_across_a_restart_from_the_wal_and_the_lake(tmp_path: Path) -> None:
    """At open the ids of the memtable (replayed WAL) and of the lake's recent rows are
    read back, so retries after a crash or a clean restart are recognised."""
    data = tmp_path / "data"
    store = Store(settings_for(data))
    store.open()
    asyncio.run(store.append("logs", named(("in-lake", "flushed"))))
    store.close()
    store = Store(settings_for(data))
    store.open()
    asyncio.run(store.append("logs", named(("in-wal", "replayed"))))
    assert store.wal is not None
    store.wal.close()  # a crash
    store = Store(settings_for(data))
    store.open()
    assert "in-lake" in store.recent["logs"] and "in-wal" in store.recent["logs"]
    left_out = asyncio.run(store.append("logs", named(("in-lake", "x"), ("in-wal", "y"))))
    assert left_out == [0, 1]
    store.close()


def test_the_memory_forgets_past_its_window_and_its_cap() -> None:
    """Ids older than the window are forgotten, and past ``max_ids`` the oldest go first."""
    now = [1_000_000.0]
    recent = RecentIds(window_s=3600, max_ids=25_000, clock=lambda: now[0])
    recent.remember([f"old-{i}" for i in range(10)], now[0])
    now[0] += 7200
    recent.remember([f"new-{i}" for i in range(30_000)], now[0])
    recent.claim([])  # forgetting happens as batches are claimed
    assert "old-0" not in recent and "new-29999" in recent
    assert len(recent) <= 25_000 and "new-0" not in recent


def test_a_lake_made_before_the_id_column_gains_it_and_reads_old_files(tmp_path: Path) -> None:
    """A ``logs`` table created without ``_id`` is evolved on open (one Delta commit adding
    the column); its old Parquet files read ``_id`` as null beside new rows, in the memtable
    and after a flush, and the compactor reads them too."""
    data = tmp_path / "data"
    old_schema = pa.schema([f for f in LOGS if f.name != "_id"])
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    old = pa.table(
        {
            **{f.name: pa.nulls(1, f.type) for f in old_schema},
            "timestamp": pa.array([hour], TIMESTAMP),
            "message": ["from an old version"],
            "date": pa.array([date(hour.year, hour.month, hour.day)], pa.date32()),
            "hour": pa.array([hour.hour], pa.int32()),
        }
    )
    lake_logs = data / "lake" / "logs"
    write_deltalake(str(lake_logs), old, partition_by=["date", "hour"])
    store = Store(settings_for(data))
    store.open()
    assert "_id" in [f.name for f in DeltaTable(str(lake_logs)).schema().fields]
    asyncio.run(store.append("logs", named(("n-1", "new"))))
    query = 'SELECT message, "_id" FROM logs ORDER BY message'
    assert store.query(query, []).rows == [("from an old version", None), ("new", "n-1")]
    store.flush()
    assert store.query(query, []).rows == [("from an old version", None), ("new", "n-1")]
    store.compact(min_segments=1)
    assert store.query(query, []).rows == [("from an old version", None), ("new", "n-1")]
    store.close()
