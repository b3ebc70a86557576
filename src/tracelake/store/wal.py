"""The write-ahead log: what makes an acknowledgement mean "on disk".

Files ``wal/<seq>.wal`` hold frames::

    magic "TLW1" | u32 payload length | u32 CRC-32 of payload | payload

and a payload is ``u8 len(table) | table name | Arrow IPC stream bytes``. One writer
thread takes every batch waiting at that moment, writes their frames with one
``write`` and one ``fsync`` (group commit), applies them to the memtable and only then
resolves the callers' futures — so a batch is visible and acknowledged only once it is
durable, and a rotation (``seal``) can never split a batch between a sealed file and a
fresh memtable.

Replay reads frames in order. A bad region that runs to the end of the newest file is
a torn write from a crash: it is truncated and reported, never fatal. Damage anywhere
else (a flipped bit, a bad sector) is skipped by resynchronising on the next intact
frame; the file is copied to ``corrupt/`` first, and the skipped bytes are counted.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("tracelake.store")

MAGIC = b"TLW1"
HEADER = struct.Struct("<4sII")
#: Where damaged WAL files are copied for inspection, under the WAL directory.
CORRUPT_DIR = "corrupt"


def encode_frame(table: str, ipc: bytes) -> bytes:
    name = table.encode()
    payload = bytes([len(name)]) + name + ipc
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def _decode_payload(payload: bytes) -> tuple[str, memoryview]:
    n = payload[0]
    return payload[1 : 1 + n].decode(), memoryview(payload)[1 + n :]


@dataclass(slots=True)
class ReplayReport:
    """What replay found: frames applied, torn-tail bytes cut, damaged bytes skipped."""

    frames: int = 0
    truncated_bytes: int = 0
    corrupt_files: int = 0
    corrupt_bytes: int = 0


@dataclass(slots=True)
class FrameScan:
    """Where a file's intact frames are, and the damaged regions between them."""

    frames: list[tuple[int, int]] = field(default_factory=list)  # (start, end) of each
    damaged: list[tuple[int, int]] = field(default_factory=list)  # (start, end) skipped
    #: Start of a bad region that runs to the end with no intact frame after it.
    tail: int | None = None


def _frame_end(data: bytes, pos: int) -> int | None:
    """End of the intact frame starting at ``pos``, or None if none starts there."""
    header = data[pos : pos + HEADER.size]
    if len(header) < HEADER.size:
        return None
    magic, length, crc = HEADER.unpack(header)
    end = pos + HEADER.size + length
    if magic != MAGIC or length == 0 or end > len(data):
        return None
    if zlib.crc32(memoryview(data)[pos + HEADER.size : end]) != crc:
        return None
    return end


def _resync(data: bytes, pos: int) -> int | None:
    """The next offset after ``pos`` where an intact frame starts (magic, length, CRC)."""
    candidate = data.find(MAGIC, pos + 1)
    while candidate != -1:
        if _frame_end(data, candidate) is not None:
            return candidate
        candidate = data.find(MAGIC, candidate + 1)
    return None


def scan_frames(data: bytes) -> FrameScan:
    """Find every intact frame of a WAL file, resynchronising past damaged bytes.

    A damaged frame in the middle (a flipped bit, a bad sector) does not hide the
    frames after it: the scan looks for the next ``TLW1`` whose length fits and whose
    CRC-32 matches. A candidate inside a damaged payload would need a matching CRC too.
    """
    scan = FrameScan()
    pos = 0
    while pos < len(data):
        end = _frame_end(data, pos)
        if end is not None:
            scan.frames.append((pos, end))
            pos = end
            continue
        following = _resync(data, pos)
        if following is None:
            scan.tail = pos
            scan.damaged.append((pos, len(data)))
            break
        scan.damaged.append((pos, following))
        pos = following
    return scan


def read_frames(
    path: Path, report: ReplayReport, *, is_last: bool
) -> Iterator[tuple[str, memoryview]]:
    """Yield (table, ipc) of each intact frame of ``path``, skipping damaged bytes.

    Only a bad region that runs to the end of the newest file is a torn write from a
    crash: it is truncated, as before. Any other damage is skipped (the frames after it
    replay), logged once per file as an ERROR, counted, and the file is copied to
    ``corrupt/<name>`` beside it first, so an operator can inspect it later.
    """
    data = path.read_bytes()
    scan = scan_frames(data)
    torn = scan.tail if is_last else None
    damaged = [r for r in scan.damaged if r[0] != torn]
    if damaged:
        kept = _keep_copy(path)
        skipped = sum(end - start for start, end in damaged)
        report.corrupt_files += 1
        report.corrupt_bytes += skipped
        log.error(
            "wal: %s is damaged: skipped %d bytes at byte offsets %s; %d intact frames "
            "replay; a copy is kept at %s",
            path.name,
            skipped,
            ", ".join(f"{start}-{end}" for start, end in damaged),
            len(scan.frames),
            kept,
        )
    if torn is not None:
        dropped = len(data) - torn
        log.warning("wal: truncating a torn tail of %d bytes in %s", dropped, path.name)
        with open(path, "r+b") as f:
            f.truncate(torn)
            os.fsync(f.fileno())
        report.truncated_bytes += dropped
    for start, end in scan.frames:
        report.frames += 1
        yield _decode_payload(data[start + HEADER.size : end])


def _keep_copy(path: Path) -> str:
    """Copy a damaged WAL file to ``corrupt/`` beside it (replay ignores subdirectories)."""
    target = path.parent / CORRUPT_DIR / path.name
    try:
        target.parent.mkdir(exist_ok=True)
        shutil.copy2(path, target)
    except OSError as e:
        return f"(nowhere: copying to {target} failed: {e.strerror})"
    return str(target)


@dataclass(slots=True)
class _Append:
    frame: bytes
    table: str
    ipc: bytes
    future: Future[None]


@dataclass(slots=True)
class _Seal:
    future: Future[int]


class WAL:
    """Group-committing WAL writer over numbered files in ``directory``.

    ``apply(table, ipc)`` is called on the writer thread for each durable batch, before
    its future resolves; ``on_seal(seq)`` is called on the writer thread when file ``seq`` is
    sealed, between two groups, so the caller can swap its memtable atomically.
    """

    def __init__(
        self,
        directory: Path,
        *,
        fsync: bool,
        apply: Callable[[str, bytes], None],
        on_seal: Callable[[int], None],
        first_seq: int = 1,
    ) -> None:
        """``first_seq``: the lowest number the next file may take — past every position
        a commit already holds, or a replay after a crash would take the new file's
        frames for committed ones."""
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._fsync = fsync
        self._apply = apply
        self._on_seal = on_seal
        self._queue: queue.SimpleQueue[_Append | _Seal | None] = queue.SimpleQueue()
        existing = self.files()
        self.seq = max((existing[-1][0] + 1) if existing else 1, first_seq)
        # Unbuffered: after a write refused for a full disk, a buffered file would keep the
        # refused bytes and write them with the next group (an unacknowledged batch that
        # replays), and could not truncate them off.
        self._file = open(self._path(self.seq), "ab", buffering=0)  # noqa: SIM115 - lives as long as the WAL
        self.bytes_written = 0
        self.syncs = 0
        self._thread = threading.Thread(target=self._run, name="tracelake-wal", daemon=True)
        self._thread.start()

    def _path(self, seq: int) -> Path:
        return self.directory / f"{seq:012d}.wal"

    def files(self) -> list[tuple[int, Path]]:
        """WAL files on disk, oldest first."""
        found = []
        for path in self.directory.glob("*.wal"):
            try:
                found.append((int(path.stem), path))
            except ValueError:
                continue
        return sorted(found)

    def append(self, table: str, ipc: bytes) -> Future[None]:
        """Queue a batch; the future resolves once it is fsync'd and in the memtable."""
        future: Future[None] = Future()
        self._queue.put(_Append(encode_frame(table, ipc), table, ipc, future))
        return future

    def seal(self) -> Future[int]:
        """Close the current file and start the next; resolves to the sealed file's seq."""
        future: Future[int] = Future()
        self._queue.put(_Seal(future))
        return future

    def remove_through(self, seq: int) -> None:
        """Delete sealed files up to ``seq``: their batches are in segments now."""
        for file_seq, path in self.files():
            if file_seq <= seq and file_seq != self.seq:
                path.unlink(missing_ok=True)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._file.close()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            group: list[_Append] = []
            stop = False
            while item is not None:
                if isinstance(item, _Seal):
                    self._commit(group)
                    group = []
                    self._do_seal(item)
                else:
                    group.append(item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            else:
                stop = True
            self._commit(group)
            if stop:
                return

    def _commit(self, group: list[_Append]) -> None:
        if not group:
            return
        start = self._file.tell()
        try:
            data = b"".join(a.frame for a in group)
            view = memoryview(data)
            while view:  # a raw write may take part of it
                view = view[self._file.write(view) or 0 :]
            if self._fsync:
                os.fdatasync(self._file.fileno())
            self.bytes_written += len(data)
            self.syncs += 1
        except OSError as e:
            log.error("wal: write failed, %d batches refused: %s", len(group), e)
            self._rewind(start)
            for a in group:
                a.future.set_exception(e)
            return
        for a in group:
            try:
                self._apply(a.table, a.ipc)
            except Exception as e:  # a batch that cannot be applied must not ack
                log.exception("wal: applying a batch to the memtable failed")
                a.future.set_exception(e)
            else:
                a.future.set_result(None)

    def _rewind(self, size: int) -> None:
        """Cut a partly written group off, so later frames never follow a torn one."""
        try:
            self._file.truncate(size)
            self._file.seek(size)
        except OSError:
            log.exception("wal: could not cut a failed write off %s", self._path(self.seq).name)

    def _do_seal(self, item: _Seal) -> None:
        try:
            self._file.close()
            sealed = self.seq
            self.seq += 1
            self._file = open(self._path(self.seq), "ab", buffering=0)  # noqa: SIM115
            self._on_seal(sealed)
        except Exception as e:
            item.future.set_exception(e)
        else:
            item.future.set_result(sealed)
