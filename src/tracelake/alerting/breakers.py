"""Breaker rules: which circuits have been open for how long, from the lake.

The Turbine hub writes a log record each time a circuit opens or closes on a host
(``turbine/hub.py``: ``event`` is ``circuit_open`` or ``circuit_closed``, ``breaker`` the
command, ``service`` and ``host`` the instance). A ``CircuitTracker`` folds those records
into the last flip of each (service, host, breaker) and answers which circuits are open
and since when. It reads incrementally: each evaluation asks only for records since the
last one it saw (less an overlap for records still on their way to the memtable), and
the first evaluation looks back ``lookback`` — a circuit that opened before that and
never closed is not seen until it flips again.

Sans-IO: ``statement`` builds the SQL, ``fold`` and ``samples`` take rows and a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from tracelake.alerting.rules import BreakerQuery
from tracelake.alerting.state import Sample

#: Records stamped before the last seen one may still arrive (ingest in flight).
OVERLAP_US = 60_000_000
OPEN_EVENT = "circuit_open"
CLOSED_EVENT = "circuit_closed"

Circuit = tuple[str, str, str]  # service, host, breaker


def statement(query: BreakerQuery, start_us: int) -> tuple[str, list[Any]]:
    """SQL over ``logs`` for the flips since ``start_us``, oldest first."""
    sql = (
        'SELECT "service", "host", json_extract_string("attributes", ?) AS breaker,'
        ' json_extract_string("attributes", ?) AS event, epoch_us("timestamp") AS at_us'
        ' FROM logs WHERE "timestamp" >= ? AND json_extract_string("attributes", ?) IN (?, ?)'
    )
    params: list[Any] = [
        "$.breaker",
        "$.event",
        datetime.fromtimestamp(start_us / 1e6, UTC),
        "$.event",
        OPEN_EVENT,
        CLOSED_EVENT,
    ]
    if query.breaker != "*":
        sql += ' AND json_extract_string("attributes", ?) = ?'
        params += ["$.breaker", query.breaker]
    if query.service is not None:
        sql += ' AND "service" = ?'
        params.append(query.service)
    return sql + ' ORDER BY "timestamp"', params


class CircuitTracker:
    """The last flip of every circuit a breaker rule has seen."""

    def __init__(self, query: BreakerQuery) -> None:
        self.query = query
        #: circuit → (time of its last flip in µs, whether that flip opened it)
        self.circuits: dict[Circuit, tuple[int, bool]] = {}
        self.cursor_us: int | None = None

    def scan_start(self, now_us: int) -> int:
        """Where the next scan starts: ``lookback`` before now at first, then the overlap."""
        if self.cursor_us is None:
            return now_us - int(self.query.lookback_s * 1e6)
        return self.cursor_us - OVERLAP_US

    def fold(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Take (service, host, breaker, event, at_us) rows in any order.

        Copy on write: the manager folds in a worker thread while the event loop may be
        saving the state, so the dict it could be reading is never changed, only replaced.
        """
        circuits = dict(self.circuits)
        for service, host, breaker, event, at_us in rows:
            if breaker is None or at_us is None:
                continue
            circuit = (service or "", host or "", str(breaker))
            at = int(at_us)
            last = circuits.get(circuit)
            if last is None or at >= last[0]:
                circuits[circuit] = (at, event == OPEN_EVENT)
            if self.cursor_us is None or at > self.cursor_us:
                self.cursor_us = at
        self.circuits = circuits

    def mark_scanned(self, now_us: int) -> None:
        """After a scan that found nothing new, later scans still start near now."""
        if self.cursor_us is None:
            self.cursor_us = now_us

    def samples(self, now: float) -> list[Sample]:
        """Open circuits past ``open_for``: labels and seconds open."""
        out: list[Sample] = []
        for (service, host, breaker), (at_us, opened) in sorted(self.circuits.items()):
            open_s = now - at_us / 1e6
            if opened and open_s >= self.query.open_for_s:
                labels = {"breaker": breaker}
                if service:
                    labels["service"] = service
                if host:
                    labels["host"] = host
                out.append((labels, open_s))
        return out

    def forget_closed(self) -> None:
        """Closed circuits need no memory: their next flip can only open them."""
        self.circuits = {c: v for c, v in self.circuits.items() if v[1]}

    def to_json(self) -> dict[str, Any]:
        return {
            "cursor_us": self.cursor_us,
            "circuits": [[*c, at, opened] for c, (at, opened) in self.circuits.items()],
        }

    def restore(self, data: dict[str, Any]) -> None:
        cursor = data.get("cursor_us")
        self.cursor_us = None if cursor is None else int(cursor)
        for service, host, breaker, at, opened in data.get("circuits", []):
            self.circuits[(str(service), str(host), str(breaker))] = (int(at), bool(opened))
