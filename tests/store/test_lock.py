"""The data directory's lock: one holder at a time, named in the refusal, and gone
with its holder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tracelake.errors import DataDirInUse
from tracelake.store.lock import DataDirLock


def test_a_second_holder_is_refused_naming_the_first_pid_and_what_to_do(tmp_path: Path) -> None:
    """The refusal is one line with the holder's pid; release lets the next one in."""
    first = DataDirLock(tmp_path / "data")
    first.acquire()
    with pytest.raises(DataDirInUse) as refused:
        DataDirLock(tmp_path / "data").acquire()
    message = refused.value.message
    assert f"in use by tracelake pid {os.getpid()}" in message and "--data-dir" in message
    assert "\n" not in message
    first.release()
    with DataDirLock(tmp_path / "data") as second:
        assert second.held


def test_the_lock_file_holds_the_pid_and_creates_a_missing_directory(tmp_path: Path) -> None:
    """A fresh data directory is made, and .lock says who holds it."""
    with DataDirLock(tmp_path / "new" / "data") as lock:
        assert lock.path.read_text().strip() == str(os.getpid())
