"""The lake on Delta tables: the commit, not the file write, is the point of durability;
a crash between two tables' commits repeats nothing; old manifests migrate once; queries
read one snapshot (refreshed when another writer commits); time travel; outside readers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from deltalake import DeltaTable

import tracelake.store.migrate as migrate_module
from tests.store.conftest import T0, append, ipc_of, messages, settings_for
from tracelake.errors import BadRequest, NotFound
from tracelake.schema import EVENTS, schema_of
from tracelake.store import Store
from tracelake.store.delta import LakeTable
from tracelake.store.ipc import to_ipc
from tracelake.store.segments import write_segments
from tracelake.store.wal import WAL

MakeStore = Callable[..., Store]


def _crash(store: Store) -> None:
    """Stop the WAL writer without a flush: what kill -9 leaves on disk."""
    assert store.wal is not None
    store.wal.close()
    store.wal = None


def _ids(store: Store, table: str = "logs") -> int:
    return store.query(f"SELECT count(*) FROM {table}", [], tables=[table]).rows[0][0]


def test_a_flush_is_one_commit_per_table_holding_its_wal_position(make_store: MakeStore) -> None:
    store = make_store()
    append(store, ipc_of("a", "b"))
    store.flush()
    logs = DeltaTable(str(store.lake / "logs"))
    assert logs.version() == 1, "version 0 creates the table, version 1 is the flush"
    assert logs.transaction_version(store.app_id) is not None
    operation = logs.history(1)[0]
    assert operation["tracelake.operation"] == "flush"
    assert DeltaTable(str(store.lake / "spans")).version() == 0, "no rows, no commit"


def test_the_wal_stays_until_the_commit_succeeds(
    make_store: MakeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit that fails (the log unwritable, a conflict) leaves the batches in the WAL
    and the memtable, and the files it wrote are deleted: no reader ever saw them."""
    store = make_store()
    append(store, ipc_of("a"))

    def refuse(*args: object, **kwargs: object) -> int:
        raise OSError(5, "commit log unwritable")

    monkeypatch.setattr(LakeTable, "commit", refuse)
    with pytest.raises(OSError):
        store.flush()
    assert store.memtable.rows == 1
    assert any(path.stat().st_size for _, path in store.wal.files())  # type: ignore[union-attr]
    assert not list((store.lake / "logs").rglob("*.parquet")), "the uncommitted file went"
    monkeypatch.undo()
    _crash(store)
    assert messages(make_store()) == ["a"], "the WAL replays it"


def test_a_crash_between_two_tables_commits_repeats_no_row(
    make_store: MakeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One generation holds logs and events: logs commit, then the process dies before
    events do. The restart replays the WAL but skips the logs frames, whose table's
    commit holds that WAL position, and replays the events frames."""
    store = make_store()
    append(store, ipc_of("once"))
    event = {"timestamp": T0, "type": "order_placed", "payload": "{}"}
    batch = pa.RecordBatch.from_pylist([event], schema=EVENTS)
    asyncio.run(store.append("events", to_ipc(batch)))
    real = LakeTable.commit

    def die_on_events(self: LakeTable, *args: object, **kwargs: object) -> int:
        if self.table == "events":
            raise SystemExit("killed")
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(LakeTable, "commit", die_on_events)
    with pytest.raises(SystemExit):
        store.flush()
    monkeypatch.undo()
    _crash(store)
    again = make_store()
    assert messages(again) == ["once"]
    assert _ids(again, "events") == 1
    again.flush()
    assert messages(again) == ["once"] and _ids(again, "events") == 1
    assert again.memtable.rows == 0


def test_queries_see_another_writers_commits_on_a_shared_lake(tmp_path: Path) -> None:
    """Two writers (their own data directories and WALs) on one lake: each flush is a
    commit the other's next query sees, without a restart."""
    lake = tmp_path / "lake"
    one = Store(settings_for(tmp_path / "one", lake_dir=str(lake)))
    two = Store(settings_for(tmp_path / "two", lake_dir=str(lake)))
    one.open()
    two.open()
    try:
        assert one.writer != two.writer
        append(one, ipc_of("from one"))
        append(two, ipc_of("from two", ts_us=T0 + 5_000_000))
        one.flush()
        two.flush()
        assert messages(one) == ["from one", "from two"]
        assert messages(two) == ["from one", "from two"]
        assert one.tables["logs"].refreshes >= 1
    finally:
        one.close()
        two.close()


def test_time_travel_reads_a_table_as_of_a_version_or_a_time(make_store: MakeStore) -> None:
    store = make_store()
    append(store, ipc_of("first"))
    store.flush()
    version = store.tables["logs"].snapshot().version
    between = datetime.now(UTC)
    time.sleep(0.01)
    append(store, ipc_of("second", ts_us=T0 + 5_000_000))
    store.flush()
    store.compact(min_segments=1)

    def at(as_of: int | datetime) -> list[str]:
        sql = "SELECT message FROM logs ORDER BY 1"
        rows = store.query(sql, [], tables=["logs"], as_of=as_of).rows
        return [r[0] for r in rows]

    assert at(version) == ["first"]
    assert at(between) == ["first"]
    assert at(0) == []
    assert messages(store) == ["first", "second"]
    with pytest.raises(NotFound) as refused:
        at(datetime(2000, 1, 1, tzinfo=UTC))
    assert "no version as of 2000-01-01T00:00:00Z" in refused.value.message
    with pytest.raises(BadRequest):  # versions are per table
        store.query("SELECT 1", [], as_of=version)
    everything = store.query("SELECT count(*) FROM logs", [], as_of=between).rows
    assert everything == [(1,)], "a time applies to every table"


def test_outside_readers_see_the_rows_the_store_does_after_compaction(
    make_store: MakeStore,
) -> None:
    """deltalake's own reader sees each row once while flushed files and their merged
    copy both lie on disk until vacuum."""
    store = make_store()
    for i in range(4):
        append(store, ipc_of(f"m{i}", ts_us=T0 + i * 1_000_000))
        store.flush()
    assert store.compact(min_segments=1) == 1
    assert len(list((store.lake / "logs").rglob("*.parquet"))) == 5, "the originals stay"
    outside = DeltaTable(str(store.lake / "logs")).to_pyarrow_dataset().to_table()
    assert sorted(outside.column("message").to_pylist()) == messages(store)
    assert store.vacuum(retention_hours=0) == 4
    assert DeltaTable(str(store.lake / "logs")).to_pyarrow_dataset().count_rows() == 4


def _old_lake(data: Path) -> list[str]:
    """A lake as the manifest version wrote it: segments named by number, the manifest
    listing them with the WAL checkpoint, a WAL file the checkpoint covers and one past it."""
    lake = data / "lake"
    rows = pa.Table.from_batches(
        [pa.ipc.open_stream(ipc_of("in a segment")).read_next_batch()], schema=schema_of("logs")
    )
    segments = write_segments(lake, "logs", rows, "old", compacted=True)
    old = lake / "logs" / "date=2026-01-01" / "hour=00" / "000000000001.parquet"
    (lake / segments[0].path).rename(old)
    entry = {
        "table": "logs",
        "path": old.relative_to(lake).as_posix(),
        "min_ts": T0,
        "max_ts": T0,
        "rows": 1,
        "bytes": old.stat().st_size,
        "partition": "date=2026-01-01/hour=00",
        "compacted": True,
    }
    manifest = {"version": 1, "wal_checkpoint": 1, "next_segment": 2, "segments": [entry]}
    (lake / "_manifest.json").write_bytes(orjson.dumps(manifest))
    wal_dir = data / "wal"
    wal_dir.mkdir(parents=True)
    for seq, message in ((1, "in a segment"), (2, "only in the wal")):
        wal = WAL(wal_dir, fsync=False, apply=lambda t, b: None, on_seal=lambda s: None)
        assert wal.seq == seq
        wal.append("logs", ipc_of(message, ts_us=T0 + seq)).result()
        wal.close()
    return ["in a segment", "only in the wal"]


def test_an_old_manifest_is_migrated_once_keeping_every_row_once(tmp_path: Path) -> None:
    expected = _old_lake(tmp_path / "data")
    store = Store(settings_for(tmp_path / "data"))
    store.open()
    try:
        assert messages(store) == expected
        lake = tmp_path / "data" / "lake"
        assert not (lake / "_manifest.json").exists()
        assert (lake / "_manifest.json.migrated").exists()
        assert DeltaTable(str(lake / "logs")).history(1)[0]["tracelake.operation"] == "migrate"
    finally:
        store.close()
    again = Store(settings_for(tmp_path / "data"))
    again.open()
    try:
        assert messages(again) == expected
    finally:
        again.close()


def test_a_migration_cut_short_finishes_at_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each table's log is created in one commit and the manifest is renamed last, so a
    crash part way leaves logs whole or absent, and the next start makes the rest."""
    expected = _old_lake(tmp_path / "data")
    real = migrate_module.create_with_segments
    made: list[str] = []

    def die_after_two(lake: Path, table: str, *args: object, **kwargs: object) -> None:
        if len(made) == 2:
            raise SystemExit("killed")
        made.append(table)
        real(lake, table, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(migrate_module, "create_with_segments", die_after_two)
    with pytest.raises(SystemExit):
        Store(settings_for(tmp_path / "data")).open()
    monkeypatch.undo()
    assert (tmp_path / "data" / "lake" / "_manifest.json").exists()
    store = Store(settings_for(tmp_path / "data"))
    store.open()
    try:
        assert messages(store) == expected
    finally:
        store.close()
