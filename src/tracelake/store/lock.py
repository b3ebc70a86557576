"""Locks: one process writes a data directory at a time (``DataDirLock``, a ``flock``
on ``<data_dir>/.lock``), and one writer of a lake maintains it at a time (``exclusive``).

Two servers on one directory would each replay, flush and delete the other's WAL files
and commit each other's batches, so acknowledged rows vanish or double. The holder keeps
an exclusive ``flock`` on ``<data_dir>/.lock`` (which holds its pid, for the message the
next one prints) for as long as it runs. The kernel drops the lock with the process,
``kill -9`` included, so a crash never leaves a stale lock to clean up by hand.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from tracelake.errors import DataDirInUse

LOCK_NAME = ".lock"


class DataDirLock:
    """An exclusive lock on a data directory, held until ``release`` or the process ends."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self, what_to_do: str = "stop it or pass another --data-dir") -> None:
        """Take the lock, or raise DataDirInUse naming the holder's pid and ``what_to_do``.

        Call it before anything in the directory is opened or changed.
        """
        if self._fd is not None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"tracelake pid {holder}" if holder else "another tracelake process"
            raise DataDirInUse(
                f"data directory {self.data_dir} is in use by {who}: {what_to_do}"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Let the next process in; the pid file stays (its content is only a hint)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> DataDirLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    """The pid the holder wrote, or None while it has not written it yet."""
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[bool]:
    """Try an exclusive ``flock`` on ``path`` without waiting; yield whether it is held.

    The lake's maintenance lock: writers on one lake each compact, drop expired
    partitions and vacuum, but one at a time, since two compactions of the same files
    would both commit their merged copy (delta-rs merges concurrent removes of one file
    without a conflict). A holder that dies drops it with the process.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
