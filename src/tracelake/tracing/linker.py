"""Service dependency links, worked out span by span as spans arrive (sans-IO).

Why continuous: ``/api/v2/dependencies`` for a day must answer in well under a second
however many spans the day had, and Zipkin's batch job (zipkin-dependencies) is a
separate Spark run we do not want. So each span is looked at once, on arrival, and
only per-minute counts per (parent service, child service) are kept.

Which spans link, as in Zipkin's ``DependencyLinker`` over a trace ``Trace.merge`` has
cleaned up:

* a SERVER span under a CLIENT span of another service links the client's service →
  the server's (an RPC). A server span with its client's span id is the other half of
  that RPC whether or not it says ``shared: true`` (Zipkin backfills the flag), so it
  links at once, with its error;
* messaging spans link through their broker, never to each other: a PRODUCER naming
  its remote service (``kafka``) links its service → the broker, a CONSUMER naming it
  links the broker → its service, at once;
* a CLIENT that names its remote service (Zipkin ``remoteEndpoint.serviceName``, OTel
  ``peer.service``) and gets no server span within the window links to that remote
  service (an uninstrumented database);
* a root SERVER span that names its remote service links from that service.

Traces are keyed by the low 64 bits of their id (Zipkin ignores the high bits unless
``STRICT_TRACE_ID``), so a 128-bit client and a server that propagated 64 bits link.

A span is counted once per identity (trace id, span id, kind, service) while the linker
remembers it (two windows): a reporter's retry, or a span sent in pieces, adds nothing.

Services export independently, so a child often arrives before its parent: both
sides wait in generation maps (current + previous, rotated every ``window_s``), so
state is bounded by the span rate times two windows and only exit/entry spans are
kept. A link counts an error when the entry span or its exit span has error status.
Counts are per minute of the entry span's start (the exit span's for leaf links).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

MINUTE_US = 60_000_000
EXIT_KINDS = frozenset({"CLIENT", "PRODUCER"})
ENTRY_KINDS = frozenset({"SERVER", "CONSUMER"})

#: One span as the linker needs it: trace id, span id, parent id, service, kind,
#: error?, start (µs), remote service, shared (B3 server half)?
LinkSpan = tuple[str, str, "str | None", "str | None", str, bool, int, "str | None", bool]
#: (minute start µs, parent service, child service) → [calls, errors]
LinkCounts = dict[tuple[int, str, str], list[int]]


@dataclass(slots=True)
class _Exit:
    service: str
    error: bool
    ts_us: int
    remote: str | None
    matched: bool = False


@dataclass(slots=True)
class _Entry:
    service: str
    error: bool
    ts_us: int
    remote: str | None
    linked: bool = False


@dataclass(slots=True)
class _Generation:
    exits: dict[str, _Exit] = field(default_factory=dict)
    orphans: dict[str, list[_Entry]] = field(default_factory=dict)
    seen: set[tuple[str, str, str, str]] = field(default_factory=set)


class DependencyLinker:
    """Feed spans with :meth:`add`; call :meth:`tick` now and then; :meth:`take` counts."""

    def __init__(self, window_s: float = 30.0, clock: Callable[[], float] | None = None) -> None:
        self.window_s = window_s
        self._clock = clock or time.monotonic
        self._current = _Generation()
        self._previous = _Generation()
        self._rotated_at = self._clock()
        self._counts: LinkCounts = {}

    @property
    def held(self) -> int:
        """Spans waiting for their other half (for /metrics and tests)."""
        entries = {
            id(entry)
            for g in (self._current, self._previous)
            for waiting in g.orphans.values()
            for entry in waiting
            if not entry.linked
        }
        return sum(len(g.exits) for g in (self._current, self._previous)) + len(entries)

    def add(self, spans: Iterable[LinkSpan]) -> None:
        for trace_id, span_id, parent_id, service, kind, error, ts_us, remote, shared in spans:
            if not service:
                continue
            service = service.lower()
            remote = remote.lower() if remote else None
            trace = trace_id[-16:]
            if self._seen_before((trace, span_id, kind, service)):
                continue
            if kind == "PRODUCER":
                if remote and remote != service:
                    self._count(ts_us, service, remote, error)
            elif kind == "CONSUMER":
                if remote and remote != service:
                    self._count(ts_us, remote, service, error)
            elif kind in EXIT_KINDS:
                self._add_exit(trace + span_id, _Exit(service, error, ts_us, remote))
            elif kind in ENTRY_KINDS:
                entry = _Entry(service, error, ts_us, remote)
                if shared:
                    self._add_entry([trace + span_id], entry)
                elif parent_id:
                    # its client is the span with its own id (shared, unflagged) or its parent
                    self._add_entry([trace + span_id, trace + parent_id], entry)
                elif remote and remote != service:
                    self._count(ts_us, remote, service, error)
                else:
                    self._add_entry([trace + span_id], entry)

    def _seen_before(self, identity: tuple[str, str, str, str]) -> bool:
        """Whether this span was counted already (a retry or a second piece)."""
        if identity in self._current.seen or identity in self._previous.seen:
            return True
        self._current.seen.add(identity)
        return False

    def _add_exit(self, key: str, exit_span: _Exit) -> None:
        self._current.exits[key] = exit_span
        for generation in (self._current, self._previous):
            waiting = generation.orphans.pop(key, None)
            if waiting:
                for entry in waiting:
                    if not entry.linked:
                        self._link(exit_span, entry)

    def _add_entry(self, keys: list[str], entry: _Entry) -> None:
        for key in keys:
            parent = self._current.exits.get(key) or self._previous.exits.get(key)
            if parent is not None:
                self._link(parent, entry)
                return
        for key in keys:
            self._current.orphans.setdefault(key, []).append(entry)

    def _link(self, parent: _Exit, entry: _Entry) -> None:
        parent.matched = True
        entry.linked = True
        if parent.service != entry.service:
            self._count(entry.ts_us, parent.service, entry.service, entry.error or parent.error)

    def _count(self, ts_us: int, parent: str, child: str, error: bool) -> None:
        key = (ts_us - ts_us % MINUTE_US, parent, child)
        counts = self._counts.get(key)
        if counts is None:
            self._counts[key] = [1, int(error)]
        else:
            counts[0] += 1
            counts[1] += error

    def tick(self, force: bool = False) -> None:
        """Rotate generations once a window has passed (``force``: now)."""
        now = self._clock()
        if not force and now - self._rotated_at < self.window_s:
            return
        self._rotated_at = now
        self._expire(self._previous)
        self._previous, self._current = self._current, _Generation()

    def _expire(self, generation: _Generation) -> None:
        for exit_span in generation.exits.values():
            if not exit_span.matched and exit_span.remote and exit_span.remote != exit_span.service:
                self._count(exit_span.ts_us, exit_span.service, exit_span.remote, exit_span.error)
        for entries in generation.orphans.values():
            for entry in entries:
                if not entry.linked and entry.remote and entry.remote != entry.service:
                    entry.linked = True  # waiting under two keys: count it once
                    self._count(entry.ts_us, entry.remote, entry.service, entry.error)

    def take(self) -> LinkCounts:
        """The counts since the last call (and forget them)."""
        counts, self._counts = self._counts, {}
        return counts
