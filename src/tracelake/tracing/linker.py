"""Service dependency links, worked out span by span as spans arrive (sans-IO).

Why continuous: ``/api/v2/dependencies`` for a day must answer in well under a second
however many spans the day had, and Zipkin's batch job (zipkin-dependencies) is a
separate Spark run we do not want. So each span is looked at once, on arrival, and
only per-minute counts per (parent service, child service) are kept.

Which spans link, as in Zipkin's ``DependencyLinker``:

* an entry span (SERVER/CONSUMER) under an exit span (CLIENT/PRODUCER) of another
  service links the exit span's service → the entry span's service (an RPC, or a
  message). B3's shared server span, which reuses its client's span id, links the
  same way;
* an exit span that names its remote service (Zipkin ``remoteEndpoint.serviceName``,
  OTel ``peer.service``) and gets no entry span under it within the window links to
  that remote service (an uninstrumented database or queue);
* a root entry span that names its remote service links from that service.

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


@dataclass(slots=True)
class _Generation:
    exits: dict[str, _Exit] = field(default_factory=dict)
    orphans: dict[str, list[_Entry]] = field(default_factory=dict)


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
        return sum(
            len(g.exits) + sum(len(v) for v in g.orphans.values())
            for g in (self._current, self._previous)
        )

    def add(self, spans: Iterable[LinkSpan]) -> None:
        for trace_id, span_id, parent_id, service, kind, error, ts_us, remote, shared in spans:
            if not service:
                continue
            service = service.lower()
            remote = remote.lower() if remote else None
            if kind in EXIT_KINDS:
                self._add_exit(trace_id + span_id, _Exit(service, error, ts_us, remote))
            elif kind in ENTRY_KINDS:
                entry = _Entry(service, error, ts_us, remote)
                if shared:
                    self._add_entry(trace_id + span_id, entry)
                elif parent_id:
                    self._add_entry(trace_id + parent_id, entry)
                elif remote and remote != service:
                    self._count(ts_us, remote, service, error)

    def _add_exit(self, key: str, exit_span: _Exit) -> None:
        self._current.exits[key] = exit_span
        for generation in (self._current, self._previous):
            waiting = generation.orphans.pop(key, None)
            if waiting:
                for entry in waiting:
                    self._link(exit_span, entry)

    def _add_entry(self, key: str, entry: _Entry) -> None:
        parent = self._current.exits.get(key) or self._previous.exits.get(key)
        if parent is not None:
            self._link(parent, entry)
        else:
            self._current.orphans.setdefault(key, []).append(entry)

    def _link(self, parent: _Exit, entry: _Entry) -> None:
        parent.matched = True
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
                if entry.remote and entry.remote != entry.service:
                    self._count(entry.ts_us, entry.remote, entry.service, entry.error)

    def take(self) -> LinkCounts:
        """The counts since the last call (and forget them)."""
        counts, self._counts = self._counts, {}
        return counts
