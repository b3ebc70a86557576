"""Which files to follow and where to read them: rotation, truncation and reused inodes.

A file is known by ``(device, inode)``, never by its path: a rename-rotation moves the path
to a new inode while the old one still has lines to read, and the agent keeps its open
descriptor to finish it. Inodes are reused once a file is deleted, so a saved offset is only
trusted when the first bytes of the file (its fingerprint) are the ones seen before.

This module does no IO. The runner stats, opens and reads; it tells the tailer what it saw
(``open``, ``check``, ``feed``, ``scan_done``) and gets back records with the offset marks
that may be saved once the server has acknowledged them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tracelake.ship.multiline import Joiner, Line, Record

FINGERPRINT_BYTES = 1024


@dataclass(frozen=True, slots=True, order=True)
class FileId:
    """A file's identity on this machine."""

    dev: int
    ino: int

    @property
    def key(self) -> str:
        """The identity as text, the key of the state file."""
        return f"{self.dev}:{self.ino}"


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A digest of a file's first ``length`` bytes (at most ``FINGERPRINT_BYTES``)."""

    length: int
    digest: str

    @classmethod
    def of(cls, head: bytes) -> Fingerprint:
        """The fingerprint of ``head``, the first bytes of a file."""
        head = head[:FINGERPRINT_BYTES]
        return cls(len(head), hashlib.blake2b(head, digest_size=16).hexdigest())

    def matches(self, head: bytes) -> bool:
        """Whether a file whose first bytes are ``head`` is the file this was taken of."""
        return len(head) >= self.length and Fingerprint.of(head[: self.length]) == self


@dataclass(frozen=True, slots=True)
class Mark:
    """How far a file has been read into records: what the state file keeps per file."""

    key: str
    path: str
    offset: int
    fingerprint: Fingerprint


@dataclass(frozen=True, slots=True)
class Emitted:
    """A record ready to ship, with the mark to save once it is acknowledged (None: stdin)."""

    data: bytes
    mark: Mark | None
    path: str | None


class TailedFile:
    """One followed file: read position, the partial last line, and its joiner."""

    def __init__(
        self, file_id: FileId, path: str, position: int, head: bytes, joiner: Joiner, now: float
    ) -> None:
        self.id = file_id
        self.path = path
        self.position = position  # the next byte to read
        self.start = position
        self.size = position
        self.head = head[:FINGERPRINT_BYTES]
        self.joiner = joiner
        self.live = True  # at a path the globs match
        self.last_activity = now
        self._partial = bytearray()
        self._fingerprint = Fingerprint.of(self.head)

    @property
    def drained(self) -> bool:
        """Read up to the size last seen."""
        return self.position >= self.size

    def mark(self, offset: int) -> Mark:
        """The mark for having read this file's records up to ``offset``."""
        if self._fingerprint.length != len(self.head):
            self._fingerprint = Fingerprint.of(self.head)
        return Mark(self.id.key, self.path, offset, self._fingerprint)

    def _emit(self, records: list[Record], offset: int | None = None) -> list[Emitted]:
        return [
            Emitted(r.data, self.mark(r.end if offset is None else offset), self.path)
            for r in records
        ]

    def feed(self, data: bytes, now: float, max_line: int) -> list[Emitted]:
        """Bytes read at ``position``; returns the records they completed."""
        if not data:
            return []
        at = self.position
        if at <= len(self.head) < FINGERPRINT_BYTES:
            self.head += data[len(self.head) - at : FINGERPRINT_BYTES - at]
        self.position += len(data)
        self.size = max(self.size, self.position)
        self.last_activity = now
        out: list[Emitted] = []
        start = 0
        while True:
            nl = data.find(b"\n", start)
            stop = len(data) if nl < 0 else nl
            self._partial += data[start:stop]
            if len(self._partial) > max_line:
                out += self._cut(at + stop, now, max_line)
            if nl < 0:
                return out
            out += self._line(at + nl + 1, now)
            start = nl + 1

    def _cut(self, partial_end: int, now: float, max_line: int) -> list[Emitted]:
        """A line with no newline in sight is shipped in pieces of ``max_line`` bytes."""
        out: list[Emitted] = []
        while len(self._partial) > max_line:
            piece = bytes(self._partial[:max_line])
            del self._partial[:max_line]
            end = partial_end - len(self._partial)
            out += self._emit(self.joiner.feed(Line(piece, end), now))
        return out

    def _line(self, end: int, now: float) -> list[Emitted]:
        line = bytes(self._partial)
        self._partial.clear()
        if line.endswith(b"\r"):
            line = line[:-1]
        return self._emit(self.joiner.feed(Line(line, end), now))

    def truncated(self, now: float) -> list[Emitted]:
        """The file was truncated or rewritten: ship what was read, restart at 0."""
        leftover = bytes(self._partial)
        self._partial.clear()
        records = self.joiner.flush()
        if leftover.strip():
            records.append(Record(leftover, self.position, 1))
        self.position = self.start = self.size = 0
        self.head = b""
        self.last_activity = now
        return self._emit(records, offset=0)

    def poll(self, now: float) -> list[Emitted]:
        """Records whose multiline timeout has passed."""
        return self._emit(self.joiner.poll(now))

    def flush(self) -> list[Emitted]:
        """Every complete record; a partial last line stays to be read again next time."""
        return self._emit(self.joiner.flush())

    def finish(self) -> list[Emitted]:
        """The file is done (gone and drained): everything, partial last line included."""
        out: list[Emitted] = []
        if self._partial:
            line = bytes(self._partial)
            self._partial.clear()
            out += self._emit(self.joiner.feed(Line(line, self.position), self.last_activity))
        return out + self._emit(self.joiner.flush())


class Tailer:
    """The set of followed files and the decisions about them.

    Args:
        saved: marks from the state file (and the spool), by file key.
        from_end: files found by the first scan without a saved offset start at their end;
            files that appear later are always read from their start (they are new).
        close_inactive: seconds a file no glob matches any more (renamed away or deleted)
            stays open after it was read to its end.
        joiner: makes the multiline joiner of each file.
        max_line: a line longer than this is shipped in pieces of this size.
    """

    def __init__(
        self,
        *,
        saved: Mapping[str, Mark] | None = None,
        from_end: bool = False,
        close_inactive: float = 30.0,
        joiner: Callable[[], Joiner] = Joiner,
        max_line: int = 512 * 1024,
    ) -> None:
        self.files: dict[FileId, TailedFile] = {}
        self._saved = dict(saved or {})
        self._from_end = from_end
        self._close_inactive = close_inactive
        self._joiner = joiner
        self._max_line = max_line
        self._scanned = False

    def is_tracked(self, file_id: FileId) -> bool:
        """Whether ``file_id`` is already followed (its descriptor is open)."""
        return file_id in self.files

    def open(self, path: str, file_id: FileId, size: int, head: bytes, now: float) -> int:
        """A file not followed yet was found at ``path``; returns where to start reading.

        ``head`` is its first ``FINGERPRINT_BYTES`` bytes (fewer if it is smaller).
        """
        saved = self._saved.pop(file_id.key, None)
        if saved is not None and saved.offset <= size and saved.fingerprint.matches(head):
            position = saved.offset
        elif saved is None and self._from_end and not self._scanned:
            position = size
        else:  # new, or truncated or replaced while nobody watched
            position = 0
        tailed = TailedFile(file_id, path, position, head, self._joiner(), now)
        tailed.size = size
        self.files[file_id] = tailed
        return position

    def scan_done(self, present: Mapping[FileId, str], now: float) -> list[FileId]:
        """The globs matched ``present`` (id → path); returns the files to close now.

        A followed file missing from ``present`` was renamed away or deleted: it is read to
        its end and closed after ``close_inactive`` idle seconds.
        """
        self._scanned = True
        closing: list[FileId] = []
        for file_id, tailed in self.files.items():
            tailed.live = file_id in present
            if tailed.live:
                tailed.path = present[file_id]
            elif tailed.drained and now - tailed.last_activity >= self._close_inactive:
                closing.append(file_id)
        return closing

    def head_length(self, file_id: FileId) -> int:
        """How many first bytes ``check`` wants to compare."""
        return len(self.files[file_id].head)

    def position(self, file_id: FileId) -> int:
        """Where to read ``file_id`` next."""
        return self.files[file_id].position

    def check(self, file_id: FileId, size: int, head: bytes, now: float) -> list[Emitted]:
        """The file's current size and first ``head_length`` bytes; detects truncation.

        Shrinking below the read position, or first bytes that changed (a copytruncate that
        was refilled before we looked), restart the file at 0.
        """
        tailed = self.files[file_id]
        out: list[Emitted] = []
        if size < tailed.position or head != tailed.head:
            out = tailed.truncated(now)
        tailed.size = size
        return out

    def feed(self, file_id: FileId, data: bytes, now: float) -> list[Emitted]:
        """Bytes read from ``file_id`` at its position."""
        return self.files[file_id].feed(data, now, self._max_line)

    def close(self, file_id: FileId) -> list[Emitted]:
        """Stop following ``file_id``; returns its last records."""
        return self.files.pop(file_id).finish()

    def poll(self, now: float) -> list[Emitted]:
        """Records whose multiline timeout has passed, over all files."""
        return [e for tailed in self.files.values() for e in tailed.poll(now)]

    def flush(self) -> list[Emitted]:
        """Every complete record of every file (shutdown)."""
        return [e for tailed in self.files.values() for e in tailed.flush()]
