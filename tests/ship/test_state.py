"""Offsets are saved atomically after acknowledgement and read back by the next run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracelake.ship.state import OffsetStore
from tracelake.ship.tailer import Fingerprint, Mark


def mark(key: str, offset: int) -> Mark:
    return Mark(key, f"/logs/{key}.log", offset, Fingerprint.of(b"head"))


def test_committed_marks_are_read_back_by_a_new_store(tmp_path: Path) -> None:
    store = OffsetStore(tmp_path / "state.json")
    assert store.load() == {}
    store.commit({"1:2": mark("1:2", 10)})
    store.commit({"1:2": mark("1:2", 30), "1:3": mark("1:3", 5)})
    assert store.offset("1:2") == 30
    again = OffsetStore(tmp_path / "state.json").load()
    assert again == {"1:2": mark("1:2", 30), "1:3": mark("1:3", 5)}


def test_the_file_is_replaced_whole_leaving_no_temp_file(tmp_path: Path) -> None:
    store = OffsetStore(tmp_path / "state.json")
    store.commit({"1:2": mark("1:2", 10)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_nothing_is_written_before_anything_was_acknowledged(tmp_path: Path) -> None:
    OffsetStore(tmp_path / "state.json").commit({})
    assert not (tmp_path / "state.json").exists()


def test_old_entries_of_files_no_longer_followed_are_forgotten(tmp_path: Path) -> None:
    now = [1000.0]
    store = OffsetStore(tmp_path / "state.json", forget_after=100.0, clock=lambda: now[0])
    store.commit({"1:1": mark("1:1", 1), "1:2": mark("1:2", 2)})
    store.set_live(["1:1"])
    now[0] = 1200.0
    store.commit({"1:3": mark("1:3", 3)})
    assert set(OffsetStore(tmp_path / "state.json").load()) == {"1:1", "1:3"}


def test_a_state_file_that_is_not_json_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{oops")
    with pytest.raises(ValueError, match="fix or delete it"):
        OffsetStore(tmp_path / "state.json").load()
