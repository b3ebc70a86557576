"""Rebuilding a lost commit log from the segment files: every row back exactly once, even
where a crash left rows both in a segment and in the WAL, or both in a compacted segment
and in the segments it merged; nothing deleted; refused while the directory is held."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.store.conftest import T0, append, ipc_of, messages
from tracelake.errors import DataDirInUse, LakeNeedsRepair
from tracelake.store import Store
from tracelake.store.lock import DataDirLock
from tracelake.store.repair import repair_lake

MakeStore = Callable[..., Store]
HOUR_US = 3_600_000_000


def _crash(store: Store) -> None:
    """Stop the WAL writer without a flush: what kill -9 leaves on disk."""
    assert store.wal is not None
    store.wal.close()
    store.wal = None


def _lose_log(store: Store) -> None:
    shutil.rmtree(store.lake / "logs" / "_delta_log")


def test_a_lost_commit_log_is_rebuilt_as_it_was_and_compaction_leftovers_are_set_aside(
    make_store: MakeStore,
) -> None:
    """Table, partition, rows, time range, bytes and compacted flag come from the files;
    the flushed segments a compaction merged (still on disk in their grace period) are
    moved to _orphans/, so their rows are not counted twice."""
    store = make_store()
    append(store, ipc_of("a", "b"))
    store.flush()
    append(store, ipc_of("c", ts_us=T0 + 10_000_000))
    store.flush()
    append(store, ipc_of("d", ts_us=T0 + HOUR_US))
    store.flush()
    merged = store.compact(now_us=T0 + 10 * HOUR_US, min_segments=1)
    assert merged == 2
    before = sorted(store.segments(), key=lambda s: s.path)
    _crash(store)
    _lose_log(store)
    with pytest.raises(LakeNeedsRepair):
        make_store()

    report = repair_lake(store.root)
    assert report.tables == ["logs"] and report.segments == 2 and report.rows == 4
    assert len([why for _, why in report.set_aside if "compacted" in why]) == 3
    assert all((store.root / path).exists() for path, _ in report.set_aside), "moved, kept"
    again = make_store()
    assert sorted(again.segments(), key=lambda s: s.path) == before
    assert messages(again) == ["a", "b", "c", "d"]


def test_a_flush_cut_short_before_its_wal_was_cleared_counts_its_rows_once(
    make_store: MakeStore,
) -> None:
    """A segment whose WAL file is still there: the WAL replays its rows, so the segment
    is set aside rather than listed."""
    store = make_store()
    append(store, ipc_of("a"))
    wal = {p: p.read_bytes() for p in (store.root / "wal").glob("*.wal")}
    store.flush()
    for path, content in wal.items():  # the crash came before the WAL files were removed
        path.write_bytes(content)
    _crash(store)
    _lose_log(store)

    report = repair_lake(store.root)
    assert report.segments == 0 and report.wal_checkpoint == 0
    assert any("not committed" in why for _, why in report.set_aside)
    assert messages(make_store()) == ["a"]


def test_a_wal_file_left_by_a_committed_flush_is_set_aside_not_replayed(
    make_store: MakeStore,
) -> None:
    """The WAL deletes a flushed generation's files oldest first: when the first is
    gone the flush was committed, and a later one still there holds rows already in
    segments. Replaying it would count them twice."""
    store = make_store()
    append(store, ipc_of("a"))
    _crash(store)
    store = make_store()  # replays file 1, appends go to file 2
    append(store, ipc_of("b", ts_us=T0 + 1_000_000))
    last = max((store.root / "wal").glob("*.wal"))
    content = last.read_bytes()
    store.flush()  # one generation: WAL files 1 and 2
    last.write_bytes(content)  # the crash came between deleting file 1 and file 2
    _crash(store)
    _lose_log(store)

    report = repair_lake(store.root)
    assert report.wal_checkpoint == int(last.stem)
    assert (store.root / "wal" / "superseded" / last.name).read_bytes() == content
    assert messages(make_store()) == ["a", "b"]


def test_repair_keeps_an_unreadable_commit_log_aside(make_store: MakeStore) -> None:
    store = make_store()
    append(store, ipc_of("a"))
    store.flush()
    _crash(store)
    newest = max((store.lake / "logs" / "_delta_log").glob("*.json"))
    broken = newest.read_bytes()[:40]
    newest.write_bytes(broken)
    report = repair_lake(store.root)
    (old,) = report.old_logs
    assert (old / newest.name).read_bytes() == broken, "kept aside as it was"
    assert messages(make_store()) == ["a"]


def test_repair_refuses_while_the_data_directory_is_held(tmp_path: Path) -> None:
    """A running server holds the lock: rebuilding under it would race its writes."""
    (tmp_path / "data" / "lake").mkdir(parents=True)
    with DataDirLock(tmp_path / "data"), pytest.raises(DataDirInUse) as refused:
        repair_lake(tmp_path / "data")
    assert "stop it" in refused.value.message
    assert not list((tmp_path / "data" / "lake").rglob("_delta_log"))
