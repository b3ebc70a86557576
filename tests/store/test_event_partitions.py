"""The ``events`` table's extra partition level: one directory per type, kept by
flush, compaction and pruning, and no way for a type to name a path outside the lake."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pyarrow as pa
import pytest

from tests.store.conftest import T0
from tracelake.errors import StoreError
from tracelake.schema import EVENTS
from tracelake.store import Store
from tracelake.store.ipc import to_ipc
from tracelake.store.segments import write_segments


def events_ipc(*types: str, ts_us: int = T0) -> bytes:
    n = len(types)
    batch = pa.record_batch(
        [
            pa.array([ts_us + i for i in range(n)], pa.int64()).cast(EVENTS.field(0).type),
            pa.array(types, pa.string()),
            pa.array([None] * n, pa.string()),
            pa.array([None] * n, pa.string()),
            pa.array([None] * n, pa.string()),
            pa.array([None] * n, pa.string()),
            pa.array(['{"amount": 1}'] * n, pa.string()),
        ],
        schema=EVENTS,
    )
    return to_ipc(batch)


def count_by_type(store: Store) -> list[tuple[str, int]]:
    results = store.query(
        "SELECT type, count(*) FROM events GROUP BY type ORDER BY type",
        [],
        tables=["events"],
        timeout_s=10,
        max_rows=100,
    )
    return [(r[0], r[1]) for r in results.rows]


def test_a_flush_writes_one_directory_per_type_before_the_date(make_store) -> None:
    store = make_store()
    asyncio.run(store.append("events", events_ipc("order_placed", "refund", "order_placed")))
    store.flush()
    partitions = sorted(s.partition for s in store.tables["events"].snapshot().segments)
    assert partitions == [
        "type=order_placed/date=2026-01-01/hour=00",
        "type=refund/date=2026-01-01/hour=00",
    ]
    for segment in store.tables["events"].snapshot().segments:
        assert (store.lake / segment.path).is_file()
        assert segment.path.startswith(f"events/{segment.partition}/")
    assert count_by_type(store) == [("order_placed", 2), ("refund", 1)]


def test_compaction_merges_within_a_type_and_never_across_types(make_store) -> None:
    store = make_store(compaction_min_segments=2)
    for _ in range(2):
        asyncio.run(store.append("events", events_ipc("order_placed", "refund")))
        store.flush()
    assert store.compact() == 2
    segments = store.tables["events"].snapshot().segments
    assert sorted((s.partition.split("/")[0], s.rows, s.compacted) for s in segments) == [
        ("type=order_placed", 2, True),
        ("type=refund", 2, True),
    ]
    assert count_by_type(store) == [("order_placed", 2), ("refund", 2)]


def test_compaction_on_demand_rewrites_a_lone_flushed_segment(make_store) -> None:
    store = make_store(compaction_min_segments=10)
    asyncio.run(store.append("events", events_ipc("order_placed")))
    store.flush()
    assert store.compact(now_us=T0) == 0
    assert store.compact(now_us=T0, min_segments=1) == 1
    assert [s.compacted for s in store.tables["events"].snapshot().segments] == [True]


@pytest.mark.parametrize("bad", ["../escape", "a/b", "..", "", "x=y"])
def test_the_store_refuses_a_type_that_is_not_a_safe_directory_name(
    tmp_path: Path, bad: str
) -> None:
    data = pa.Table.from_batches([pa.ipc.open_stream(events_ipc(bad)).read_next_batch()])
    with pytest.raises(StoreError, match="cannot name a partition directory"):
        write_segments(tmp_path, "events", data, lambda: 1)
    assert list(tmp_path.iterdir()) == []
