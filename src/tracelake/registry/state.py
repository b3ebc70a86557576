"""The registry itself, sans IO: register, heartbeat, deregister, expire.

Why sans IO: leases are about time, and time is injected (``clock``), so a unit test
walks an instance from up to down to evicted in microseconds. Files and the event loop
live in ``keeper``; this class only holds records and applies the rules:

* a registration (new or repeated) makes the instance ``up``, with a fresh heartbeat;
* an instance silent for ``ttl_s`` turns ``down`` (it stays listed, but is no longer
  scraped or aggregated); a heartbeat brings it back ``up``;
* an instance silent for ``evict_after_s`` (never less than ``ttl_s``) is removed; its
  next heartbeat gets 404, which tells the client to register again;
* after a restart (``restore``), silence is counted from the moment the records were
  loaded, so an outage of the server does not evict the fleet;
* an instance belongs to the token that registered it (``owner``): a heartbeat, a new
  registration or a deregistration by another token is ``Forbidden``, so one service's
  token cannot redirect another service's scrapes and streams, or remove it. An admin
  token may manage any instance (and leaves its owner as it was). Without tokens
  (``by=None``) there are no owners, and an instance registered so belongs to nobody:
  anyone may manage it, and the first token that registers it again takes it.

Thread-safe: the HTTP routes run on the event loop, the scraper may ask for targets
from a thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from tracelake.errors import Forbidden, NotFound, Overloaded
from tracelake.registry.model import InstanceRecord, Registration
from tracelake.registry.targets import ScrapeTarget, registered_targets

Clock = Callable[[], float]
Key = tuple[str, str]

#: Instances held at once; registrations past it are refused with 503.
MAX_INSTANCES = 10_000


@dataclass(frozen=True, slots=True)
class Expiry:
    """What one ``expire`` pass changed."""

    down: list[InstanceRecord]
    evicted: list[InstanceRecord]

    def __bool__(self) -> bool:
        return bool(self.down or self.evicted)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks for a change: the name of its token, and whether that is an admin one."""

    name: str
    admin: bool = False


def _check_owner(record: InstanceRecord, by: Caller | None) -> None:
    if by is None or by.admin or record.owner is None or record.owner == by.name:
        return
    raise Forbidden(
        f"instance {record.instance_id!r} of service {record.service!r} belongs to another"
        " token: manage it with the token that registered it, or an admin token"
    )


def _owner(existing: InstanceRecord | None, by: Caller | None) -> str | None:
    """Who owns an instance after ``by`` registered it."""
    if by is None or (by.admin and existing is not None and existing.owner is not None):
        return existing.owner if existing is not None else None
    return by.name


@dataclass(frozen=True, slots=True)
class ServiceSummary:
    name: str
    instances: int
    up: int


class Registry:
    """Registered instances by (service, instance id), with leases.

    Args:
        ttl_s: Seconds without a heartbeat before an instance is marked down.
        evict_after_s: Seconds without a heartbeat before it is removed.
        static: Scrape targets from the config, reported with the registered ones.
        clock: Epoch seconds now (tests inject a fake).

    Attributes:
        changes: Bumped on every change; the keeper saves when it moved.
    """

    def __init__(
        self,
        ttl_s: float = 30.0,
        evict_after_s: float = 300.0,
        *,
        static: Sequence[ScrapeTarget] = (),
        clock: Clock = time.time,
    ) -> None:
        self.ttl_s = ttl_s
        self.evict_after_s = max(evict_after_s, ttl_s)
        self.static = list(static)
        self.clock = clock
        self.changes = 0
        self._records: dict[Key, InstanceRecord] = {}
        self._counted_from = 0.0
        self._lock = threading.Lock()

    # -- changes -----------------------------------------------------------------

    def register(self, reg: Registration, by: Caller | None = None) -> InstanceRecord:
        """Add or replace an instance; it is up from now, and ``by``'s.

        Raises:
            Forbidden: The instance belongs to another token.
            Overloaded: The registry is full.
        """
        now = self.clock()
        key = (reg.service, reg.instance_id)
        with self._lock:
            existing = self._records.get(key)
            if existing is not None:
                _check_owner(existing, by)
            record = InstanceRecord.of(
                reg, "up", registered_at=now, last_heartbeat=now, owner=_owner(existing, by)
            )
            if existing is None and len(self._records) >= MAX_INSTANCES:
                raise Overloaded(
                    f"the registry holds {MAX_INSTANCES} instances, its limit:"
                    " deregister instances that are gone",
                    retry_after=60,
                )
            self._records[key] = record
            self.changes += 1
        return record

    def heartbeat(self, service: str, instance_id: str, by: Caller | None = None) -> InstanceRecord:
        """Renew an instance's lease; a down instance is up again.

        Raises:
            NotFound: The instance is not registered (never, or evicted): register it.
            Forbidden: It belongs to another token.
        """
        now = self.clock()
        key = (service, instance_id)
        with self._lock:
            record = self._records.get(key)
            if record is not None and self._silent(record, now) > self.evict_after_s:
                # its lease ran out before the expiry pass saw it: evicted all the same,
                # so the answer does not depend on when the timer last ran
                del self._records[key]
                self.changes += 1
                record = None
            if record is None:
                raise NotFound(
                    f"instance {instance_id!r} of service {service!r} is not registered:"
                    " register it again"
                )
            _check_owner(record, by)
            record = replace(record, status="up", last_heartbeat=now)
            self._records[key] = record
            self.changes += 1
        return record

    def deregister(
        self, service: str, instance_id: str, by: Caller | None = None
    ) -> InstanceRecord:
        """Remove an instance that is shutting down.

        Raises:
            NotFound: It is not registered.
            Forbidden: It belongs to another token.
        """
        with self._lock:
            record = self._records.get((service, instance_id))
            if record is None:
                raise NotFound(f"instance {instance_id!r} of service {service!r} is not registered")
            _check_owner(record, by)
            del self._records[(service, instance_id)]
            self.changes += 1
        return record

    def expire(self) -> Expiry:
        """Mark silent instances down and evict the long-silent ones."""
        now = self.clock()
        down: list[InstanceRecord] = []
        evicted: list[InstanceRecord] = []
        with self._lock:
            for key, record in list(self._records.items()):
                silent = self._silent(record, now)
                if silent > self.evict_after_s:
                    evicted.append(self._records.pop(key))
                elif silent > self.ttl_s and record.status == "up":
                    record = replace(record, status="down")
                    self._records[key] = record
                    down.append(record)
            if down or evicted:
                self.changes += 1
        return Expiry(down, evicted)

    def _silent(self, record: InstanceRecord, now: float) -> float:
        """Seconds since its last sign of life, counted at most from the last restore."""
        return now - max(record.last_heartbeat, self._counted_from)

    def restore(self, records: Iterable[InstanceRecord]) -> None:
        """Take the records of the state file; their silence counts from now."""
        with self._lock:
            self._records = {(r.service, r.instance_id): r for r in records}
            self._counted_from = self.clock()

    # -- reads -------------------------------------------------------------------

    def instances(self, service: str | None = None) -> list[InstanceRecord]:
        """Registered instances (up and down), by service then id."""
        with self._lock:
            found = [r for r in self._records.values() if service is None or r.service == service]
        return sorted(found, key=lambda r: (r.service, r.instance_id))

    def knows(self, service: str) -> bool:
        """Whether any instance of ``service`` is registered, up or down."""
        with self._lock:
            return any(s == service for s, _ in self._records)

    def services(self) -> list[ServiceSummary]:
        counts: dict[str, list[int]] = {}
        for record in self.instances():
            count = counts.setdefault(record.service, [0, 0])
            count[0] += 1
            count[1] += record.status == "up"
        return [ServiceSummary(name, n, up) for name, (n, up) in sorted(counts.items())]

    def scrape_targets(self, service: str | None = None) -> list[ScrapeTarget]:
        """Registered instances that are up, then the static targets on other addresses:
        what the scraper scrapes and Prometheus SD offers (one list, so both agree)."""
        registered = registered_targets(self.instances(service))
        seen = {(t.service, t.instance) for t in registered}
        static = [t for t in self.static if service is None or t.service == service]
        return registered + [t for t in static if (t.service, t.instance) not in seen]
