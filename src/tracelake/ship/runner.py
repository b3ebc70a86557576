"""The agent's loop: the IO around the sans-IO parts, a sender thread, signals, display.

The main thread globs, stats, opens and reads files (or stdin) and turns what it reads into
batches; one sender thread posts batches in order, commits offsets after each
acknowledgement and spools while the server is away. Reading never waits for the network,
except that files are left unread while the spool is full: a file is its own buffer and
loses nothing by waiting, where dropping spooled batches would.
"""

from __future__ import annotations

import fcntl
import glob
import os
import queue
import re
import signal
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from tracelake.backoff import Backoff
from tracelake.errors import TracelakeError
from tracelake.ship.batcher import Batch, Batcher
from tracelake.ship.multiline import Joiner, Line
from tracelake.ship.records import to_ndjson
from tracelake.ship.sender import MAX_RETRY_AFTER_S, Refused, RetryLater, Sender
from tracelake.ship.spool import Outbox, Spool
from tracelake.ship.state import OffsetStore
from tracelake.ship.tailer import FINGERPRINT_BYTES, Emitted, FileId, Tailer

if TYPE_CHECKING:  # rich is imported when a terminal shows the live table, not before
    from rich.console import Console, Group
    from rich.live import Live

READ_CHUNK = 1024 * 1024
POLL_INTERVAL_S = 0.1


class ShipError(TracelakeError):
    """The agent cannot start (its state directory is in use or unreadable)."""


@dataclass(frozen=True, slots=True)
class ShipConfig:
    """Everything ``tracelake ship`` was told; the CLI options one to one."""

    url: str
    patterns: tuple[str, ...]
    token: str | None = None
    stdin: bool = False
    state_dir: Path = Path(".tracelake-ship")
    from_end: bool = False
    multiline_start: str | None = None
    multiline_max_lines: int = 500
    multiline_max_bytes: int = 512 * 1024
    multiline_timeout: float = 2.0
    batch_lines: int = 2000
    batch_bytes: int = 1024 * 1024
    flush_interval: float = 1.0
    spool_max_bytes: int = 256 * 1024 * 1024
    max_backoff: float = 30.0
    scan_interval: float = 2.0
    close_inactive: float = 30.0
    status_interval: float = 10.0
    shutdown_timeout: float = 10.0
    host: str = ""


@dataclass(slots=True)
class Stats:
    """Counters shown by the display and the final summary."""

    lines_read: int = 0
    records: int = 0
    accepted: int = 0
    rejected: int = 0
    batches: int = 0
    retries: int = 0
    refused_batches: int = 0
    server_up: bool | None = None


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


class Runner:
    """One run of the agent, from start-up to a clean exit.

    Args:
        config: what to ship and how.
        console: where progress and warnings go (stderr).
        stdin: the stream ``-`` reads (binary).
    """

    def __init__(self, config: ShipConfig, console: Console, stdin: Any = None) -> None:
        self.config = config
        self.console = console
        self.host = config.host or socket.gethostname()
        self.stats = Stats()
        self._stdin = stdin
        self._stop = threading.Event()
        self._hurry = threading.Event()
        self._sender_stop = threading.Event()
        self._fds: dict[FileId, int] = {}
        self._warned_unmatched = False
        self._unreadable: set[str] = set()
        pattern = config.multiline_start
        self._start_re = re.compile(pattern.encode()) if pattern else None
        self._last_status = time.monotonic()

    # -- set-up ---------------------------------------------------------------------------

    def _joiner(self) -> Joiner:
        c = self.config
        return Joiner(
            self._start_re,
            max_lines=c.multiline_max_lines,
            max_bytes=c.multiline_max_bytes,
            timeout=c.multiline_timeout,
        )

    def _lock(self) -> int:
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.config.state_dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ShipError(
                f"another `tracelake ship` is using {self.config.state_dir}: "
                "give each agent its own --state-dir"
            ) from None
        return fd

    def log(self, message: str) -> None:
        """One line on the console (above the live display on a terminal)."""
        stamp = "" if self.console.is_terminal else time.strftime("%Y-%m-%dT%H:%M:%S ")
        self.console.print(f"{stamp}ship: {message}", markup=False, highlight=False, soft_wrap=True)

    # -- the run --------------------------------------------------------------------------

    def run(self) -> int:
        """Ship until stdin ends, or Ctrl-C / SIGTERM; returns the exit status (0)."""
        c = self.config
        lock_fd = self._lock()
        try:
            self.store = OffsetStore(c.state_dir / "state.json")
            try:
                saved = self.store.load()
            except ValueError as e:
                raise ShipError(str(e)) from e
            spool = Spool(c.state_dir / "spool", c.spool_max_bytes)
            for marks in spool.marks():  # spooled lines are read already: resume after them
                saved.update(marks)
            if len(spool):
                self.log(f"{len(spool)} spooled batches from the last run are sent first")
            self.tailer = Tailer(
                saved=saved,
                from_end=c.from_end,
                close_inactive=c.close_inactive,
                joiner=self._joiner,
                max_line=c.multiline_max_bytes,
            )
            self.batcher = Batcher(
                max_lines=c.batch_lines, max_bytes=c.batch_bytes, interval=c.flush_interval
            )
            self.outbox = Outbox(spool, on_drop=self._dropped)
            return self._run()
        finally:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()
            os.close(lock_fd)

    def _run(self) -> int:
        sender = Sender(self.config.url, token=self.config.token)
        thread = threading.Thread(target=self._send_loop, args=(sender,), daemon=True)
        thread.start()
        previous = {s: signal.signal(s, self._signal) for s in (signal.SIGINT, signal.SIGTERM)}
        stdin_queue: queue.Queue[bytes | None] | None = None
        stdin_joiner = self._joiner()
        if self.config.stdin:
            stdin_queue = queue.Queue(maxsize=10_000)
            threading.Thread(target=self._read_stdin, args=(stdin_queue,), daemon=True).start()
        live = self._live()
        try:
            self._loop(stdin_queue, stdin_joiner, live)
            self._emit(self.tailer.flush(), time.monotonic())
            self._emit_stdin(stdin_joiner.flush(), time.monotonic())
            for batch in self.batcher.flush():
                self.outbox.put(batch)
            self._drain()
        finally:
            self._sender_stop.set()
            thread.join(timeout=2 if self._hurry.is_set() else 35)
            moved = self.outbox.spool_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if live is not None:
                live.update(self._table())
                live.stop()
            sender.close()
        self._summary(moved)
        return 0

    def _signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stop.is_set():
            self._hurry.set()  # a second Ctrl-C: do not wait for the server
        self._stop.set()

    def _loop(
        self, stdin_queue: queue.Queue[bytes | None] | None, stdin_joiner: Joiner, live: Live | None
    ) -> None:
        c = self.config
        next_scan = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            progressed = False
            if c.patterns and now >= next_scan:
                self._scan(now)
                next_scan = now + c.scan_interval
            spool = self.outbox.spool
            spool_full = len(spool) > 0 and spool.bytes >= c.spool_max_bytes
            if self._fds and not spool_full:
                progressed = self._read_files(now)
            if stdin_queue is not None:
                more, ended = self._read_stdin_queue(stdin_queue, stdin_joiner, now)
                progressed = progressed or more
                if ended:
                    return
            self._emit(self.tailer.poll(now), now)
            self._emit_stdin(stdin_joiner.poll(now), now)
            for batch in self.batcher.poll(now):
                self.outbox.put(batch)
            self._status(live, now)
            if not progressed:
                self._stop.wait(POLL_INTERVAL_S)

    def _drain(self) -> None:
        """Give the sender ``shutdown_timeout`` seconds to empty the outbox."""
        deadline = time.monotonic() + self.config.shutdown_timeout
        while not self._hurry.is_set() and time.monotonic() < deadline:
            if self.outbox.wait_empty(0.2):
                return
            if self.stats.server_up is False and not self.config.stdin:
                return  # the server is away: the spool keeps the rest for the next run

    # -- files ----------------------------------------------------------------------------

    def _scan(self, now: float) -> None:
        present: dict[FileId, str] = {}
        for pattern in self.config.patterns:
            for path in sorted(glob.glob(pattern, recursive=True)):
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if not os.path.isfile(path):
                    continue
                file_id = FileId(st.st_dev, st.st_ino)
                if file_id in present:
                    continue
                if not self.tailer.is_tracked(file_id) and not self._open(path, file_id, now):
                    continue
                present[file_id] = path
        if not present and self._fds == {} and not self._warned_unmatched:
            self.log(f"no file matches {' '.join(self.config.patterns)} yet; waiting for one")
            self._warned_unmatched = True
        for file_id in self.tailer.scan_done(present, now):
            self._emit(self.tailer.close(file_id), now)
            os.close(self._fds.pop(file_id))
        self.store.set_live(f.key for f in self._fds)

    def _open(self, path: str, file_id: FileId, now: float) -> bool:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as e:
            if path not in self._unreadable:  # once, not at every scan
                self._unreadable.add(path)
                self.log(f"cannot open {path}: {e.strerror}")
            return False
        st = os.fstat(fd)
        if FileId(st.st_dev, st.st_ino) != file_id:  # replaced between stat and open
            os.close(fd)
            return False
        head = os.pread(fd, FINGERPRINT_BYTES, 0)
        self.tailer.open(path, file_id, st.st_size, head, now)
        self._fds[file_id] = fd
        return True

    def _read_files(self, now: float) -> bool:
        progressed = False
        for file_id, fd in list(self._fds.items()):
            st = os.fstat(fd)
            length = self.tailer.head_length(file_id)
            head = os.pread(fd, length, 0) if length else b""
            self._emit(self.tailer.check(file_id, st.st_size, head, now), now)
            position = self.tailer.position(file_id)
            if st.st_size > position:
                data = os.pread(fd, min(READ_CHUNK, st.st_size - position), position)
                if data:
                    self._emit(self.tailer.feed(file_id, data, now), now)
                    progressed = True
        return progressed

    def _emit(self, emitted: Iterable[Emitted], now: float) -> None:
        for e in emitted:
            self.stats.records += 1
            self.stats.lines_read += e.data.count(b"\n") + 1
            line = to_ndjson(e.data, file=e.path, host=self.host)
            for batch in self.batcher.add(line, e.mark, now):
                self.outbox.put(batch)

    # -- stdin ----------------------------------------------------------------------------

    def _read_stdin(self, out: queue.Queue[bytes | None]) -> None:
        stream = self._stdin
        limit = self.config.multiline_max_bytes
        try:
            while line := stream.readline(limit):
                out.put(line)
        finally:
            out.put(None)

    def _read_stdin_queue(
        self, q: queue.Queue[bytes | None], joiner: Joiner, now: float
    ) -> tuple[bool, bool]:
        progressed = False
        for _ in range(10_000):
            try:
                raw = q.get_nowait()
            except queue.Empty:
                return progressed, False
            if raw is None:
                return progressed, True
            progressed = True
            data = raw[:-1] if raw.endswith(b"\n") else raw
            data = data[:-1] if data.endswith(b"\r") else data
            self._emit_stdin(joiner.feed(Line(data), now), now)
        return progressed, False

    def _emit_stdin(self, records: Iterable[Any], now: float) -> None:
        self._emit((Emitted(r.data, None, None) for r in records), now)

    # -- sending (its own thread) ---------------------------------------------------------

    def _send_loop(self, sender: Sender) -> None:
        backoff = Backoff(0.5, self.config.max_backoff, retry_after_cap=MAX_RETRY_AFTER_S)
        while not self._sender_stop.is_set():
            batch = self.outbox.take(0.2)
            if batch is None:
                continue
            try:
                result = sender.send(batch.payload)
            except RetryLater as e:
                self._server_down(e.reason)
                self.stats.retries += 1
                self._sender_stop.wait(backoff.next(e.retry_after))
                continue
            except Refused as e:
                self.log(f"batch of {batch.lines} lines refused, dropped: {e}")
                self.stats.refused_batches += 1
            except Exception as e:  # an odd answer must not kill the sender
                self._server_down(f"unexpected answer: {e!r}")
                self._sender_stop.wait(backoff.next())
                continue
            else:
                self._acknowledged(batch, result.accepted, result.rejected, result.errors)
            backoff.reset()
            self._commit(batch)

    def _server_down(self, reason: str) -> None:
        if self.stats.server_up is not False:
            self.log(f"{reason}; retrying with backoff, spooling to {self.outbox.spool.directory}")
        self.stats.server_up = False
        self.outbox.set_healthy(False)

    def _acknowledged(
        self, batch: Batch, accepted: int, rejected: int, errors: list[dict[str, Any]]
    ) -> None:
        if self.stats.server_up is False:
            self.log(f"server is back; {len(self.outbox.spool)} spooled batches to send")
        self.stats.server_up = True
        self.outbox.set_healthy(True)
        self.stats.accepted += accepted
        self.stats.rejected += rejected
        self.stats.batches += 1
        for error in errors[:3]:
            self.log(f"rejected a line: {error.get('error')}")

    def _commit(self, batch: Batch) -> None:
        try:
            self.store.commit(batch.marks)
        except OSError as e:  # the offsets stay in memory and go with the next commit
            self.log(f"cannot write {self.store.path}: {e}")
        self.outbox.done(batch)

    def _dropped(self, batches: int, lines: int) -> None:
        self.log(
            f"spool over --spool-max-bytes: dropped the {batches} oldest batches ({lines} lines, "
            f"{self.outbox.dropped_lines} in all)"
        )

    # -- display --------------------------------------------------------------------------

    def _live(self) -> Live | None:
        if not self.console.is_terminal:
            return None
        from rich.live import Live

        live = Live(self._table(), console=self.console, refresh_per_second=4, transient=False)
        live.start()
        return live

    def _behind(self) -> list[tuple[str, int, int, int]]:
        rows = []
        for tailed in list(self.tailer.files.values()):
            acked = self.store.offset(tailed.id.key)
            if acked is None or acked > tailed.size:
                acked = min(tailed.start, tailed.size)
            rows.append((tailed.path, tailed.size, tailed.position, max(0, tailed.size - acked)))
        return rows

    def _headline(self) -> str:
        s = self.stats
        server = {None: "connecting", True: "up", False: "DOWN"}[s.server_up]
        behind = sum(r[3] for r in self._behind())
        spool = self.outbox.spool
        text = (
            f"{len(self.tailer.files)} files, {s.accepted} lines shipped"
            f" ({s.rejected} rejected), {_fmt_bytes(behind)} behind,"
            f" {len(self.outbox)} batches unacknowledged (spool {_fmt_bytes(spool.bytes)}),"
            f" server {server}"
        )
        if self.outbox.dropped_lines:
            text += f", {self.outbox.dropped_lines} lines dropped"
        return text

    def _table(self) -> Group:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        table = Table(title=f"tracelake ship → {self.config.url}", title_justify="left")
        for name in ("file", "size", "read", "behind"):
            table.add_column(name, justify="left" if name == "file" else "right")
        for path, size, read, behind in self._behind():
            table.add_row(path, _fmt_bytes(size), _fmt_bytes(read), _fmt_bytes(behind))
        if self.config.stdin:
            table.add_row("-", "", f"{self.stats.lines_read} lines", "")
        return Group(table, Text(self._headline()))

    def _status(self, live: Live | None, now: float) -> None:
        if live is not None:
            if now - self._last_status >= 0.25:
                live.update(self._table())
                self._last_status = now
        elif now - self._last_status >= self.config.status_interval:
            self.log(self._headline())
            self._last_status = now

    def _summary(self, moved: int) -> None:
        s = self.stats
        self.log(f"stopped: {s.accepted} lines shipped, {s.rejected} rejected")
        left = len(self.outbox.spool)
        if left:
            self.log(
                f"{left} batches wait in {self.outbox.spool.directory} ({moved} just spooled); "
                "the next `tracelake ship` with this --state-dir sends them first"
            )
