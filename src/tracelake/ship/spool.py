"""Batches nobody has acknowledged yet: in memory while the server answers, on disk when not.

While the server is down the agent keeps reading — files get rotated and deleted whatever
the server's health, and stdin cannot be paused for long — so closed batches go to
``spool/`` as one file each, written atomically, bounded by ``max_bytes`` (past it the oldest
are dropped, counted and warned about: a full disk would lose more). The spool is sent in
order, oldest first, before anything newer; after a restart it is sent first, and its marks
tell the reader where to resume so spooled lines are not read twice.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from tracelake.files import fsync_dir, write_atomic
from tracelake.ship.batcher import Batch
from tracelake.ship.state import mark_from_dict, mark_to_dict
from tracelake.ship.tailer import Mark

SUFFIX = ".batch"


@dataclass(frozen=True, slots=True, order=True)
class _Entry:
    seq: int
    size: int
    lines: int


def _encode(batch: Batch) -> bytes:
    header = {
        "lines": batch.lines,
        "raw_bytes": batch.raw_bytes,
        "marks": {key: mark_to_dict(m) for key, m in batch.marks.items()},
    }
    return orjson.dumps(header) + b"\n" + batch.payload


def _decode(seq: int, data: bytes) -> Batch:
    head, _, payload = data.partition(b"\n")
    header = orjson.loads(head)
    marks = {key: mark_from_dict(key, m) for key, m in header["marks"].items()}
    return Batch(payload, int(header["lines"]), int(header["raw_bytes"]), marks, seq)


class Spool:
    """A directory of batch files named by sequence number.

    Args:
        directory: where the batch files live (created if missing).
        max_bytes: bound of the files' total size; past it the oldest are dropped.
    """

    def __init__(self, directory: Path, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._entries: list[_Entry] = []
        self.bytes = 0
        for path in directory.iterdir():
            if path.name.endswith(".tmp"):
                path.unlink()  # a write that never got renamed: its batch was not spooled
            elif path.name.endswith(SUFFIX):
                header = path.open("rb").readline()
                lines = int(orjson.loads(header)["lines"]) if header.strip() else 0
                self._entries.append(_Entry(int(path.stem), path.stat().st_size, lines))
                self.bytes += path.stat().st_size
        self._entries.sort()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def last_seq(self) -> int:
        """The highest sequence number spooled (0: none)."""
        return self._entries[-1].seq if self._entries else 0

    def _path(self, seq: int) -> Path:
        return self.directory / f"{seq:016d}{SUFFIX}"

    def append(self, batch: Batch, *, protect: int | None = None) -> list[tuple[int, int]]:
        """Write ``batch`` durably; returns ``(seq, lines)`` of the batches dropped for room.

        ``protect`` is a batch being sent right now, never dropped under the sender's feet.
        """
        data = _encode(batch)
        write_atomic(self._path(batch.seq), data)
        bisect.insort(self._entries, _Entry(batch.seq, len(data), batch.lines))
        self.bytes += len(data)
        dropped: list[tuple[int, int]] = []
        for entry in list(self._entries):
            if self.bytes <= self.max_bytes:
                break
            if entry.seq in (protect, batch.seq):
                continue
            self._drop(entry)
            dropped.append((entry.seq, entry.lines))
        if dropped:
            fsync_dir(self.directory)
        return dropped

    def _drop(self, entry: _Entry) -> None:
        self._entries.remove(entry)
        self.bytes -= entry.size
        self._path(entry.seq).unlink(missing_ok=True)

    def oldest(self) -> Batch | None:
        """The oldest spooled batch (it stays spooled until ``remove``)."""
        if not self._entries:
            return None
        seq = self._entries[0].seq
        return _decode(seq, self._path(seq).read_bytes())

    def remove(self, seq: int) -> None:
        """Forget a batch the server acknowledged."""
        for entry in self._entries:
            if entry.seq == seq:
                self._drop(entry)
                return

    def marks(self) -> Iterator[dict[str, Mark]]:
        """The marks of every spooled batch, oldest first (where to resume reading)."""
        for entry in list(self._entries):
            with self._path(entry.seq).open("rb") as f:
                header = orjson.loads(f.readline())
            yield {key: mark_from_dict(key, m) for key, m in header["marks"].items()}


class Outbox:
    """The FIFO between the reader and the sender: memory first, the spool when needed.

    A batch goes to memory while the server is healthy, nothing is spooled and fewer than
    ``memory_batches`` wait; otherwise to the spool. Batches in memory are therefore always
    older than spooled ones, and ``take`` hands them out strictly in order.

    Args:
        spool: the on-disk part.
        memory_batches: batches kept in memory before spooling even a healthy server's backlog.
        on_drop: called with ``(batches, lines)`` whenever the spool dropped batches.
    """

    def __init__(
        self,
        spool: Spool,
        *,
        memory_batches: int = 4,
        on_drop: Callable[[int, int], None] | None = None,
    ) -> None:
        self.spool = spool
        self.memory_batches = memory_batches
        self.healthy = True
        self.dropped_batches = 0
        self.dropped_lines = 0
        self._on_drop = on_drop
        self._memory: deque[Batch] = deque()
        self._cond = threading.Condition()
        self._seq = spool.last_seq
        self._inflight: int | None = None

    def __len__(self) -> int:
        with self._cond:
            return len(self._memory) + len(self.spool)

    @property
    def pending_lines(self) -> int:
        """Lines waiting in memory (spooled lines are counted by the spool's bytes)."""
        return sum(b.lines for b in list(self._memory))

    def put(self, batch: Batch) -> None:
        """Queue a closed batch, giving it the next sequence number."""
        with self._cond:
            self._seq += 1
            batch.seq = self._seq
            if self.healthy and not self.spool and len(self._memory) < self.memory_batches:
                self._memory.append(batch)
            else:
                self._spool(batch)
            self._cond.notify_all()

    def _spool(self, batch: Batch) -> None:
        dropped = self.spool.append(batch, protect=self._inflight)
        if dropped:
            lines = sum(n for _, n in dropped)
            self.dropped_batches += len(dropped)
            self.dropped_lines += lines
            if self._on_drop is not None:
                self._on_drop(len(dropped), lines)

    def take(self, timeout: float) -> Batch | None:
        """The oldest batch (it stays queued until ``done``); None after ``timeout`` s."""
        with self._cond:
            if not self._memory and not self.spool:
                self._cond.wait(timeout)
            if self._memory:
                batch: Batch | None = self._memory[0]
            else:
                batch = self.spool.oldest()
            self._inflight = None if batch is None else batch.seq
            return batch

    def done(self, batch: Batch) -> None:
        """The server acknowledged ``batch`` (or refused it for good): forget it."""
        with self._cond:
            if self._memory and self._memory[0].seq == batch.seq:
                self._memory.popleft()
            else:
                self.spool.remove(batch.seq)
            self._inflight = None
            self._cond.notify_all()

    def set_healthy(self, healthy: bool) -> None:
        """Whether the last send worked; an unhealthy outbox spools what comes."""
        with self._cond:
            self.healthy = healthy

    def wait_empty(self, timeout: float) -> bool:
        """Wait until everything was acknowledged; False if ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._memory or self.spool:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
            return True

    def spool_all(self) -> int:
        """Move the batches in memory to the spool (shutdown); returns how many."""
        with self._cond:
            moved = len(self._memory)
            while self._memory:
                self._spool(self._memory.popleft())
            return moved
