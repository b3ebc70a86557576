"""The store: replay, flush to Parquet segments committed to Delta tables, compaction,
retention, vacuum, orphans, pruning."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import tracelake.store as store_module
from tests.conftest import sample
from tests.store.conftest import T0, append, ipc_of, messages, settings_for
from tracelake.store import Store


def pq_bytes(ipc: bytes) -> bytes:
    """A real Parquet file of the rows of an IPC batch."""
    import io

    import pyarrow as pa

    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_batches([pa.ipc.open_stream(ipc).read_next_batch()]), buffer)
    return buffer.getvalue()


MakeStore = Callable[..., Store]


def test_appended_rows_are_searchable_at_once_from_the_memtable(make_store: MakeStore) -> None:
    store = make_store()
    append(store, ipc_of("a", "b"))
    assert messages(store) == ["a", "b"]


def test_rows_survive_a_restart_through_wal_replay(make_store: MakeStore) -> None:
    store = make_store()
    append(store, ipc_of("a", "b"))
    store.wal.close()  # type: ignore[union-attr]  # a crash: no flush
    store.wal = None
    again = make_store()
    assert again.replay.frames == 1
    assert messages(again) == ["a", "b"]


def test_flush_writes_hourly_hive_partitions_and_empties_the_wal(make_store: MakeStore) -> None:
    store = make_store()
    append(store, ipc_of("late", ts_us=T0 + 3_600_000_000))
    append(store, ipc_of("early2", "early3", ts_us=T0 + 1_000))
    append(store, ipc_of("early1", ts_us=T0))
    assert store.flush() == 4
    paths = sorted(s.path for s in store.segments())
    assert [p.rsplit("/", 1)[0] for p in paths] == [
        "logs/date=2026-01-01/hour=00",
        "logs/date=2026-01-01/hour=01",
    ]
    first = pq.read_table(store.lake / paths[0])
    assert sorted(first.column("message").to_pylist()) == ["early1", "early2", "early3"]
    assert (
        pq.ParquetFile(store.lake / paths[0]).metadata.row_group(0).column(0).compression == "ZSTD"
    )
    assert store.memtable.rows == 0
    assert messages(store) == ["early1", "early2", "early3", "late"]
    assert all(p.stat().st_size == 0 for _, p in store.wal.files())  # type: ignore[union-attr]


def test_restart_after_flush_replays_nothing_twice(make_store: MakeStore) -> None:
    store = make_store()
    append(store, ipc_of("a"))
    store.flush()
    append(store, ipc_of("b", ts_us=T0 + 5_000_000))
    store.wal.close()  # type: ignore[union-attr]
    store.wal = None
    again = make_store()
    assert messages(again) == ["a", "b"]


def test_compaction_merges_small_segments_of_a_partition_into_one(make_store: MakeStore) -> None:
    store = make_store(compaction_min_segments=3)
    for i in (3, 1, 0, 2):
        append(store, ipc_of(f"m{i}", ts_us=T0 + i * 1_000_000))
        store.flush()
    assert len(store.segments()) == 4
    assert store.compact() == 1
    segments = store.segments()
    assert len(segments) == 1 and segments[0].rows == 4 and segments[0].compacted
    assert messages(store) == ["m0", "m1", "m2", "m3"]
    merged = pq.read_table(store.lake / segments[0].path)
    assert merged.column("message").to_pylist() == ["m0", "m1", "m2", "m3"], "sorted by time"


def test_a_segment_file_no_commit_names_is_never_read_and_vacuum_deletes_it(
    make_store: MakeStore,
) -> None:
    """A .parquet a flush renamed but never committed (a crash between the two) is in no
    version: no query or outside reader counts it, and vacuum deletes it once it is
    older than the grace period; this writer's own temp files go at the next open."""
    store = make_store()
    append(store, ipc_of("a"))
    store.flush()
    hour = store.lake / "logs" / "date=2026-01-01" / "hour=00"
    orphan = hour / f"f-{store.writer}-0000000000000000.parquet"
    orphan.write_bytes(pq_bytes(ipc_of("ghost")))
    tmp = hour / f"f-{store.writer}-0000000000000001.parquet.tmp"
    tmp.write_bytes(b"never renamed")
    store.wal.close()  # type: ignore[union-attr]
    store.wal = None
    again = make_store()
    assert not tmp.exists()
    assert messages(again) == ["a"]
    assert again.vacuum(retention_hours=1) == 0 and orphan.exists(), "within the grace period"
    assert again.vacuum(retention_hours=0) == 1 and not orphan.exists()
    assert messages(again) == ["a"]


def test_retention_drops_whole_partitions_older_than_the_table_limit(make_store: MakeStore) -> None:
    store = make_store(retention_days=1)
    append(store, ipc_of("old", ts_us=T0))
    append(store, ipc_of("new", ts_us=T0 + 3 * 86_400_000_000))
    store.flush()
    assert store.apply_retention(now_us=T0 + 3 * 86_400_000_000 + 10) == 1
    assert messages(store) == ["new"]


def test_segments_written_and_expired_are_published_as_counters(make_store: MakeStore) -> None:
    store = make_store(retention_days=1)
    append(store, ipc_of("old", ts_us=T0))
    append(store, ipc_of("new", ts_us=T0 + 3 * 86_400_000_000))
    store.flush()
    store.apply_retention(now_us=T0 + 3 * 86_400_000_000 + 10)
    assert sample(store, "tracelake_segments_written_total") == 2
    assert sample(store, "tracelake_segments_expired_total") == 1
    assert sample(store, "tracelake_segments") == 1


def test_sources_prune_segments_outside_the_time_range(make_store: MakeStore) -> None:
    store = make_store()
    append(store, ipc_of("h0", ts_us=T0))
    append(store, ipc_of("h5", ts_us=T0 + 5 * 3_600_000_000))
    store.flush()
    files = store.sources(["logs"], T0 + 4 * 3_600_000_000, None)["logs"].files
    assert len(files) == 1 and "hour=05" in files[0]


def test_overload_answers_instead_of_queueing_without_bound(make_store: MakeStore) -> None:
    import pytest

    from tracelake.errors import Overloaded

    store = make_store(ingest_max_pending_bytes=10)
    with pytest.raises(Overloaded) as info:
        append(store, ipc_of("too big for the queue"))
    assert info.value.retry_after >= 1


def test_a_closed_hour_is_compacted_even_with_one_segment_and_an_open_one_waits(
    make_store: MakeStore,
) -> None:
    store = make_store(compaction_min_segments=4)
    append(store, ipc_of("closed", ts_us=T0))
    append(store, ipc_of("open", ts_us=T0 + 5 * 3_600_000_000))
    store.flush()
    assert store.compact(now_us=T0 + 5 * 3_600_000_000 + 60_000_000) == 1
    compacted = {s.partition: s.compacted for s in store.segments()}
    assert compacted == {"date=2026-01-01/hour=00": True, "date=2026-01-01/hour=05": False}


def test_compacted_segments_carry_a_trace_id_bloom_filter(make_store: MakeStore) -> None:
    store = make_store()
    append(store, ipc_of("a"))
    store.flush()
    store.compact()
    (segment,) = store.segments()
    meta = pq.ParquetFile(store.lake / segment.path).metadata
    trace_col = meta.schema.names.index("trace_id")
    assert segment.compacted
    assert (meta.row_group(0).column(trace_col).bloom_filter_length or 0) > 0


def test_compaction_of_a_large_partition_merges_in_bounded_groups() -> None:
    from tracelake.store.compaction import MAX_MERGE_ROWS, plan_compactions
    from tracelake.store.delta import Segment

    segments = [
        Segment(
            "logs", f"logs/p/{i}.parquet", T0, T0, MAX_MERGE_ROWS // 2, 1, "date=2026-01-01/hour=00"
        )
        for i in range(5)
    ]
    plans = plan_compactions(segments, min_segments=2, now_us=T0)
    assert [len(p) for p in plans] == [2, 2, 1]


def test_batches_a_failed_flush_left_sealed_are_flushed_with_nothing_new_arriving(
    make_store: MakeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk fails a flush after the WAL was sealed: the rows wait in a frozen
    generation, and ingest may refuse new ones until they are written, so the next
    maintenance round must retry them on its own."""
    store = make_store(memtable_max_rows=1_000_000, flush_interval_s=3600)
    append(store, ipc_of("a", "b"))
    real = store_module.write_segments

    def disk_full(*args: object, **kwargs: object) -> object:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module, "write_segments", disk_full)
    with pytest.raises(OSError):
        store.flush()
    assert store.memtable.active_rows == 0 and store.memtable.rows == 2
    monkeypatch.setattr(store_module, "write_segments", real)
    store.maintain()  # nothing new, no interval passed: only the frozen batches
    assert store.memtable.rows == 0 and store.segment_count() == 1
    assert messages(store) == ["a", "b"]


def test_rows_acknowledged_after_a_clean_restart_survive_a_crash(tmp_path: Path) -> None:
    """A clean stop commits every WAL file and deletes it; the next WAL file must be
    numbered past the committed positions, or a replay after a crash skips its frames
    as committed and loses acknowledged rows."""
    store = Store(settings_for(tmp_path / "data"))
    store.open()
    asyncio.run(store.append("logs", ipc_of("before the clean stop")))
    store.close()
    store = Store(settings_for(tmp_path / "data"))
    store.open()
    asyncio.run(store.append("logs", ipc_of("acknowledged, then a crash")))
    assert store.wal is not None
    store.wal.close()  # the process dies: no flush
    store = Store(settings_for(tmp_path / "data"))
    store.open()
    rows = store.query("SELECT message FROM logs ORDER BY message", []).rows
    assert rows == [("acknowledged, then a crash",), ("before the clean stop",)]
    store.close()
