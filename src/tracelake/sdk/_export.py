"""Bounded, non-blocking batching exporter: the delivery half of every SDK signal.

Why it exists: application threads must never wait on, or fail because of, the
network. Callers hand over ready-made JSON lines with :meth:`BatchExporter.submit`,
which only appends to a bounded in-memory queue (dropping, and counting the drop,
when the queue is full). One daemon thread per exporter turns the queue into gzip'd
NDJSON POSTs, batching by count, by size and by time, retrying what is worth
retrying, and giving up visibly (counters, ``last_error``) on what is not.

Logs use it today; events and spans post NDJSON too and can reuse it unchanged with
another ``path`` and ``signal``.

Delivery is best effort and in memory only: a batch is retried on connection errors,
408, 429 and 5xx up to ``max_retries`` times, waiting as ``tracelake.backoff`` says
(exponential with equal jitter, ``Retry-After`` honoured up to ``backoff_max``), so one whose
answer was lost may be stored twice; other 4xx are not retried; a 413 splits the batch
in halves. At interpreter exit every live exporter gets one bounded flush.

Only the standard library, orjson, prometheus_client and ``tracelake.backoff`` (standard
library only) are used, so a service that installs plain ``tracelake`` pays nothing for
the server.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import gzip
import http.client
import logging  # noqa: F401  (imported before our atexit hook so ours runs first)
import os
import sys
import threading
import time
import urllib.parse
import weakref
from typing import Final

import orjson
from prometheus_client import REGISTRY, Counter

from tracelake.backoff import Backoff, parse_retry_after

__all__ = ["DROPPED_RECORDS", "BatchExporter"]

_DROPPED_NAME: Final = "tracelake_sdk_dropped_records"


def _dropped_counter() -> Counter:
    """The process-wide drop counter, tolerant of the module being imported twice."""
    try:
        return Counter(
            _DROPPED_NAME,
            "Records the tracelake SDK could not deliver, by signal and reason.",
            ["signal", "reason"],
        )
    except ValueError:  # already registered (module reloaded, or imported under 2 names)
        existing = REGISTRY._names_to_collectors.get(_DROPPED_NAME + "_total")
        if isinstance(existing, Counter):
            return existing
        raise


#: ``tracelake_sdk_dropped_records_total{signal, reason}``. Reasons: ``queue_full``,
#: ``closed`` (submitted after close), ``client_error`` (a 4xx other than 408/413/429),
#: ``too_large`` (a single record over the server's limit), ``retries_exhausted``,
#: ``shutdown`` (still pending when the close deadline passed) and ``rejected`` (the
#: server read these records and refused them: a 200 or 400 partial-success answer).
DROPPED_RECORDS: Final[Counter] = _dropped_counter()

_RETRY_STATUSES: Final = frozenset({408, 429})
_USER_AGENT: Final = "tracelake-python-sdk"
_WARN_INTERVAL: Final = 60.0


class _Marker(threading.Event):
    """A flush or stop request travelling through the queue behind earlier records."""

    def __init__(self, stop: bool = False) -> None:
        super().__init__()
        self.stop = stop


class _GiveUp(Exception):
    """Internal: the close deadline passed while a batch was still being retried."""


class BatchExporter:
    """Queue of encoded JSON records, drained by a daemon thread into NDJSON POSTs.

    Args:
        endpoint: Base URL of the tracelake server, e.g. ``http://127.0.0.1:7700``.
            A path prefix (for a reverse proxy) is kept.
        path: API path appended to ``endpoint``, e.g. ``/api/v1/logs``.
        signal: Label for metrics and the thread name (``logs``, ``events``...).
        token: Bearer token sent as ``Authorization: Bearer <token>``.
        batch_size: Send as soon as this many records are queued.
        max_batch_bytes: Keep a batch's uncompressed body under this (one bigger
            record still goes alone).
        flush_interval: Send whatever is queued at least this often (seconds).
        queue_size: Most records held in memory; more are dropped and counted.
        timeout: Socket timeout of one HTTP request (seconds).
        max_retries: Retries of one batch after its first attempt.
        backoff_base: Longest first retry delay (seconds); doubles each retry. Each
            delay is drawn from the upper half of its ceiling (equal jitter).
        backoff_max: Cap on any retry delay, ``Retry-After`` included (seconds).
        close_timeout: Default bound on :meth:`flush`, :meth:`close` and the exit flush.
        compresslevel: gzip level (1 fastest .. 9 smallest).
        warn: Write a one-line note to stderr (at most once a minute) when records
            are lost. The exporter never logs through :mod:`logging`, which could
            feed its own queue.

    Attributes:
        dropped: Records refused by :meth:`submit` (queue full or exporter closed).
        failed: Records in batches given up on (4xx, retries exhausted, too large,
            still pending at the close deadline).
        rejected: Records the server read and refused (its partial-success answer,
            200 with some rejected or 400 with all rejected).
        sent: Records the server reported as accepted.
        retries: HTTP attempts that were retried.
        batches: Batches delivered.
        last_error: Text of the most recent delivery problem, or ``None``.
    """

    def __init__(
        self,
        endpoint: str,
        path: str,
        *,
        signal: str = "logs",
        token: str | None = None,
        batch_size: int = 1000,
        max_batch_bytes: int = 4 * 1024 * 1024,
        flush_interval: float = 1.0,
        queue_size: int = 10_000,
        timeout: float = 10.0,
        max_retries: int = 6,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        close_timeout: float = 5.0,
        compresslevel: int = 5,
        warn: bool = True,
    ) -> None:
        if batch_size < 1 or queue_size < 1:
            raise ValueError("batch_size and queue_size must be at least 1")
        if flush_interval <= 0:
            raise ValueError("flush_interval must be positive")
        url = urllib.parse.urlsplit(endpoint)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"endpoint must be an http(s) URL, got {endpoint!r}")
        self.endpoint = endpoint
        self.signal = signal
        self._scheme = url.scheme
        self._host = url.hostname
        self._port = url.port
        self._path = url.path.rstrip("/") + "/" + path.lstrip("/")
        self._headers: dict[str, str] = {
            "Content-Type": "application/x-ndjson",
            "Content-Encoding": "gzip",
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
        }
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self.batch_size = batch_size
        self.max_batch_bytes = max_batch_bytes
        self.flush_interval = flush_interval
        self.queue_size = queue_size
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.close_timeout = close_timeout
        self.compresslevel = compresslevel
        self.warn = warn

        self.dropped = 0
        self.failed = 0
        self.rejected = 0
        self.sent = 0
        self.retries = 0
        self.batches = 0
        self.last_error: str | None = None

        self._dropped_full = DROPPED_RECORDS.labels(signal, "queue_full")
        self._dropped_closed = DROPPED_RECORDS.labels(signal, "closed")
        self._last_warn = float("-inf")
        self._init_state()
        _LIVE.add(self)
        self._start()

    # -- caller side (any thread) ---------------------------------------------------

    def submit(self, record: bytes) -> bool:
        """Queue one encoded JSON object (no trailing newline). Never blocks or raises.

        Returns:
            ``True`` if queued, ``False`` if dropped (queue full or exporter closed).
        """
        queue = self._queue
        n = len(queue)
        if n >= self.queue_size or self._closed:
            self.drop()
            return False
        queue.append(record)
        if n >= self._wake_at and not self._wake.is_set():
            self._wake.set()
        return True

    def is_full(self) -> bool:
        """Whether :meth:`submit` would drop right now (lets callers skip encoding)."""
        return len(self._queue) >= self.queue_size or self._closed

    def drop(self) -> None:
        """Count one record refused at submission (queue full, or closed)."""
        with self._count_lock:
            self.dropped += 1
        if self._closed:
            self._dropped_closed.inc()
        else:
            self._dropped_full.inc()
            self._note("queue full: dropping records", warn=True)

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything queued before this call.

        Args:
            timeout: Seconds to wait; ``None`` means ``close_timeout``.

        Returns:
            ``True`` if those records were dealt with (delivered, or given up on and
            counted) in time, ``False`` on timeout.
        """
        if self._closed or not self._thread.is_alive():
            return not self._queue
        marker = _Marker()
        self._queue.append(marker)
        self._wake.set()
        return marker.wait(self.close_timeout if timeout is None else timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Flush, stop the thread and refuse further records. Idempotent.

        Args:
            timeout: Seconds to wait for the flush; ``None`` means ``close_timeout``.
                Retries stop at this deadline and what is left is counted as failed.

        Returns:
            ``True`` if the worker finished (everything was dealt with) in time.
        """
        self._begin_close(self.close_timeout if timeout is None else timeout)
        if threading.current_thread() is not self._thread:
            self._thread.join(max(0.0, self._deadline - time.monotonic()))
        return not self._thread.is_alive()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closed

    @property
    def queued(self) -> int:
        """Records waiting in the queue (not counting a batch being sent)."""
        return len(self._queue)

    def stats(self) -> dict[str, int]:
        """Counters as a dict, for health endpoints and debugging."""
        return {
            "queued": self.queued,
            "sent": self.sent,
            "batches": self.batches,
            "dropped": self.dropped,
            "failed": self.failed,
            "rejected": self.rejected,
            "retries": self.retries,
        }

    # -- lifecycle -------------------------------------------------------------------

    def _init_state(self) -> None:
        self._queue: collections.deque[bytes | _Marker] = collections.deque()
        self._wake = threading.Event()
        self._stop = threading.Event()  # interrupts retry sleeps when closing
        self._close_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._closed = False
        self._deadline = float("inf")
        self._wake_at = self.batch_size - 1
        self._conn: http.client.HTTPConnection | None = None

    def _start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"tracelake-exporter-{self.signal}", daemon=True
        )
        self._thread.start()

    def _begin_close(self, timeout: float) -> None:
        with self._close_lock:
            if not self._closed:
                self._deadline = time.monotonic() + timeout
                self._closed = True
                self._queue.append(_Marker(stop=True))
                self._wake.set()
                self._stop.set()
        _LIVE.discard(self)

    def _reinit_in_child(self) -> None:
        # The parent still owns (and sends) what was queued before the fork; the
        # child starts empty, with fresh locks, no inherited socket, its own thread.
        closed = self._closed
        self._init_state()
        self._closed = closed
        if not closed:
            self._start()

    # -- worker thread ---------------------------------------------------------------

    def _run(self) -> None:
        batch: list[bytes] = []
        size = 0
        next_tick = time.monotonic() + self.flush_interval
        queue = self._queue
        try:
            while True:
                self._wake.wait(max(0.0, next_tick - time.monotonic()))
                self._wake.clear()
                while queue:
                    item = queue.popleft()
                    if isinstance(item, bytes):
                        if batch and size + len(item) + 1 > self.max_batch_bytes:
                            self._send(batch)
                            batch, size = [], 0
                        batch.append(item)
                        size += len(item) + 1
                        if len(batch) >= self.batch_size:
                            self._send(batch)
                            batch, size = [], 0
                        continue
                    if batch:
                        self._send(batch)
                        batch, size = [], 0
                    item.set()
                    if item.stop:
                        return
                now = time.monotonic()
                if now >= next_tick:
                    if batch:
                        self._send(batch)
                        batch, size = [], 0
                    next_tick = now + self.flush_interval
        finally:
            self._close_conn()
            # Records that raced past close(), and flush() calls waiting behind them.
            late = [item for item in queue if isinstance(item, bytes)]
            if late:
                self._give_up(late, "shutdown", "submitted while closing")
            for item in queue:
                if isinstance(item, _Marker):
                    item.set()

    def _send(self, batch: list[bytes]) -> None:
        """Deliver one batch, splitting it on 413. Never raises."""
        pending = [batch]
        while pending:
            part = pending.pop()
            if self._closed and time.monotonic() >= self._deadline:
                self._give_up(part, "shutdown", "close deadline passed")
                continue
            try:
                status = self._post_with_retries(part)
            except _GiveUp:
                self._give_up(part, "shutdown", "close deadline passed while retrying")
                continue
            except Exception as exc:  # a bug or an exotic error: never kill the thread
                self._give_up(part, "retries_exhausted", f"{type(exc).__name__}: {exc}")
                continue
            if status == 413:
                if len(part) == 1:
                    self._give_up(part, "too_large", "one record is over the server's limit")
                else:
                    mid = len(part) // 2
                    pending.append(part[mid:])
                    pending.append(part[:mid])

    def _post_with_retries(self, part: list[bytes]) -> int:
        """POST until delivered, 413 or given up. Returns the last HTTP status (0: none)."""
        body = gzip.compress(b"\n".join(part) + b"\n", self.compresslevel, mtime=0)
        backoff = Backoff(self.backoff_base, self.backoff_max)
        attempt = 0
        while True:
            reused = self._conn is not None
            try:
                status, retry_after, payload = self._post(body)
            except (OSError, http.client.HTTPException) as exc:
                self._close_conn()
                status, retry_after, payload = 0, None, f"{type(exc).__name__}: {exc}"
                if reused:
                    # Most likely a kept-alive socket the server closed while we were
                    # idle: one immediate retry on a fresh connection, not counted.
                    try:
                        status, retry_after, payload = self._post(body)
                    except (OSError, http.client.HTTPException) as exc2:
                        self._close_conn()
                        payload = f"{type(exc2).__name__}: {exc2}"
            if 200 <= status < 300:
                self._accept(part, payload)
                return status
            if status == 413:
                self._note(f"HTTP 413 for a batch of {len(part)}: splitting it")
                return status
            if status and status < 500 and status not in _RETRY_STATUSES:
                if status == 400 and self._all_rejected(part, payload):
                    return status
                self._give_up(part, "client_error", f"HTTP {status}: {payload[:200]}")
                return status
            what = f"HTTP {status}" if status else payload
            if attempt >= self.max_retries:
                self._give_up(part, "retries_exhausted", f"{what} after {attempt + 1} attempts")
                return status
            delay = backoff.next(retry_after)
            attempt += 1
            self.retries += 1
            self._note(f"{what}: retry {attempt} in {delay:.2f}s")
            self._sleep(delay)

    def _sleep(self, delay: float) -> None:
        """Wait before a retry; raise ``_GiveUp`` if that would pass the close deadline."""
        until = time.monotonic() + delay
        while True:
            if self._closed and until >= self._deadline:
                raise _GiveUp
            now = time.monotonic()
            if now >= until:
                return
            if self._closed:
                time.sleep(until - now)
                return
            self._stop.wait(until - now)  # returns early when close() begins

    def _post(self, body: bytes) -> tuple[int, float | None, str]:
        timeout = self.timeout
        if self._closed:  # leave the thread a moment to count its losses and exit
            timeout = max(0.01, min(timeout, self._deadline - time.monotonic() - 0.1))
        conn = self._conn
        if conn is None:
            if self._scheme == "https":
                conn = http.client.HTTPSConnection(self._host, self._port, timeout=timeout)
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
            self._conn = conn
        elif conn.sock is not None:
            conn.sock.settimeout(timeout)
        headers = dict(self._headers)
        headers["Content-Length"] = str(len(body))
        conn.request("POST", self._path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        if resp.will_close:
            self._close_conn()
        retry_after = parse_retry_after(resp.getheader("Retry-After"))
        return resp.status, retry_after, data.decode("utf-8", "replace")

    def _accept(self, part: list[bytes], payload: str) -> None:
        self.batches += 1
        accepted, rejected = len(part), 0
        try:
            answer = orjson.loads(payload) if payload else None
        except orjson.JSONDecodeError:
            answer = None
        if isinstance(answer, dict):
            rej = answer.get("rejected")
            if isinstance(rej, int) and 0 < rej <= len(part):
                rejected = rej
            acc = answer.get("accepted")
            accepted = acc if isinstance(acc, int) and acc >= 0 else len(part) - rejected
            if rejected:
                errors = answer.get("errors")
                first = errors[0] if isinstance(errors, list) and errors else ""
                self.rejected += rejected
                DROPPED_RECORDS.labels(self.signal, "rejected").inc(rejected)
                self._note(f"server rejected {rejected} record(s): {first}", warn=True)
        self.sent += accepted

    def _all_rejected(self, part: list[bytes], payload: str) -> bool:
        """A 400 in the partial-success shape: the server read every record, kept none."""
        try:
            answer = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(answer, dict) or not isinstance(answer.get("rejected"), int):
            return False
        errors = answer.get("errors")
        first = errors[0] if isinstance(errors, list) and errors else ""
        self.rejected += len(part)
        DROPPED_RECORDS.labels(self.signal, "rejected").inc(len(part))
        self._note(f"server rejected all {len(part)} record(s): {first}", warn=True)
        return True

    def _give_up(self, part: list[bytes], reason: str, why: str) -> None:
        self.failed += len(part)
        DROPPED_RECORDS.labels(self.signal, reason).inc(len(part))
        self._note(f"dropped {len(part)} record(s) ({reason}): {why}", warn=True)

    def _note(self, message: str, warn: bool = False) -> None:
        self.last_error = message
        if warn and self.warn:
            now = time.monotonic()
            if now - self._last_warn >= _WARN_INTERVAL:
                self._last_warn = now
                with contextlib.suppress(Exception):  # stderr closed at exit, etc.
                    sys.stderr.write(f"tracelake sdk ({self.signal}): {message}\n")

    def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


# -- process-wide hooks --------------------------------------------------------------

_LIVE: weakref.WeakSet[BatchExporter] = weakref.WeakSet()


def _close_all_at_exit() -> None:
    """Give every live exporter one shared, bounded flush before the interpreter exits."""
    exporters = list(_LIVE)
    if not exporters:
        return
    budget = max(e.close_timeout for e in exporters)
    deadline = time.monotonic() + budget
    for exporter in exporters:  # start them all first so they flush in parallel
        with contextlib.suppress(Exception):
            exporter._begin_close(budget)
    for exporter in exporters:
        exporter._thread.join(max(0.0, deadline - time.monotonic()))


def _reinit_all_in_child() -> None:
    for exporter in list(_LIVE):
        exporter._reinit_in_child()


# Registered after logging's own exit hook (logging is imported above), so it runs
# before logging.shutdown: the handlers' flush/close then find their exporters done.
atexit.register(_close_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_all_in_child)
