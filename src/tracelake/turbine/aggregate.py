"""Turbine's aggregation rules as a sans-IO core: parsed events in, cluster events out.

Why sans-IO: the rules are the part that must be exactly right (the Hystrix Dashboard
divides by ``reportingHosts`` and trusts every sum), and they are easiest to get right
and to test as plain data transformations, without sockets, clocks or tasks. The hub
feeds ``ClusterAggregate`` with each host's events and asks it for a tick every 500 ms.

The rules (Turbine 1.x ``AggDataFromCluster`` / 2.x ``StreamAggregator``):

* events are grouped by (``type``, ``name``); events without both are skipped;
* each host's **latest** event per group is kept; a cluster number is the sum over hosts
  of their latest value (what Turbine's running ``new - previous`` deltas add up to), so
  ``reportingHosts`` is the number of hosts reporting (or the sum of tiered Turbines);
* maps (``latencyExecute``, ``latencyTotal``) are summed key by key;
* booleans, strings, nulls and every ``propertyValue_*`` (2.x: not summed) become a
  value -> host-count tally: the value itself when all hosts agree, else an object such
  as ``{"false": 2, "true": 1}``;
* ``type`` and ``name`` pass through; ``currentTime`` is the aggregator's own clock;
* a disconnected or removed host's contribution is removed; a group no host reports any
  more is announced once with ``{"deleteData": "true", "type": ..., "name": ...}``.

Averages (error %, latency) are left to the reader, who divides by ``reportingHosts``,
as the dashboard does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

Key = tuple[str, str]
Event = dict[str, Any]

COMMAND = "HystrixCommand"
THREAD_POOL = "HystrixThreadPool"
_PASS_THROUGH = frozenset({"type", "name"})
_TYPE_ORDER = {COMMAND: 0, THREAD_POOL: 1}


@dataclass(frozen=True, slots=True)
class BreakerFlip:
    """A command's ``isCircuitBreakerOpen`` changed on one host."""

    host: str
    name: str
    group: str
    opened: bool


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _tally_key(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    return str(value)


def tally(values: Iterable[Any]) -> Any:
    """Strings, booleans and ``propertyValue_*``: the shared value, else value -> hosts."""
    counts: dict[str, int] = {}
    first: Any = None
    for i, value in enumerate(values):
        if i == 0:
            first = value
        key = _tally_key(value)
        counts[key] = counts.get(key, 0) + 1
    if len(counts) == 1:
        return first
    return dict(sorted(counts.items()))


def sum_numbers(values: Iterable[Any]) -> int | float:
    """Counts and gauges: the sum of each host's latest value."""
    return sum(values)


def sum_maps(maps: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Percentile maps: summed key by key, keys in first-seen order."""
    out: dict[str, Any] = {}
    for m in maps:
        for k, v in m.items():
            if _is_number(v):
                out[k] = out.get(k, 0) + v
    return out


def merge_group(events: list[Event], now_ms: int) -> Event:
    """One cluster event from the latest event of each host for one (type, name)."""
    first = events[0]
    fields: dict[str, None] = dict.fromkeys(first)
    for e in events[1:]:
        for k in e:
            if k not in fields:
                fields[k] = None
    out: Event = {}
    for field in fields:
        if field in _PASS_THROUGH:
            out[field] = first.get(field)
            continue
        if field == "currentTime":
            out[field] = now_ms
            continue
        values = [e[field] for e in events if field in e]
        if field.startswith("propertyValue_"):
            out[field] = tally(values)
        elif all(_is_number(v) for v in values):
            out[field] = sum_numbers(values)
        elif all(isinstance(v, dict) for v in values):
            out[field] = sum_maps(values)
        else:
            out[field] = tally(values)
    return out


def deletion(key: Key) -> Event:
    """What tells the dashboard a circuit or pool is gone."""
    return {"deleteData": "true", "type": key[0], "name": key[1]}


class ClusterAggregate:
    """The state of one cluster: each host's latest event per (type, name).

    Not thread-safe; one owner (the cluster's task) feeds it and asks for ticks.
    """

    def __init__(self) -> None:
        self._hosts: dict[str, dict[Key, Event]] = {}
        self._merged: dict[Key, Event] = {}
        self._dirty: set[Key] = set()
        self._deleted: list[Key] = []
        self._open: dict[tuple[str, str], bool] = {}

    @property
    def hosts(self) -> list[str]:
        """Hosts with at least one live event."""
        return list(self._hosts)

    def update(self, host: str, event: Event) -> BreakerFlip | None:
        """Take one event from ``host``; returns the breaker flip it shows, if any."""
        kind = event.get("type")
        name = event.get("name")
        if not isinstance(kind, str) or not isinstance(name, str):
            return None  # Turbine skips events without type and name
        key = (kind, name)
        self._hosts.setdefault(host, {})[key] = event
        self._dirty.add(key)
        if kind != COMMAND:
            return None
        is_open = event.get("isCircuitBreakerOpen")
        if not isinstance(is_open, bool):
            return None
        previous = self._open.get((host, name))
        self._open[(host, name)] = is_open
        if previous is None or previous == is_open:
            return None
        group = event.get("group")
        return BreakerFlip(host, name, group if isinstance(group, str) else name, is_open)

    def update_many(self, host: str, events: Iterable[Event]) -> list[BreakerFlip]:
        """Take a batch of events from one host; returns the flips among them."""
        flips = []
        for event in events:
            flip = self.update(host, event)
            if flip is not None:
                flips.append(flip)
        return flips

    def remove_host(self, host: str, *, forget: bool = False) -> None:
        """Drop a disconnected host's contribution.

        Args:
            host: The host that went away.
            forget: Also forget its breakers' last states (it left the cluster for good);
                otherwise a state that changed while it was away is reported as a flip
                when it comes back.
        """
        events = self._hosts.pop(host, None)
        if events:
            self._dirty.update(events)
        if forget:
            for hn in [hn for hn in self._open if hn[0] == host]:
                del self._open[hn]

    def tick(self, now_ms: int) -> list[Event]:
        """The cluster's events now: commands, then thread pools, then the rest;
        then one ``deleteData`` per group that disappeared since the last tick."""
        for key in self._dirty:
            group = [events[key] for events in self._hosts.values() if key in events]
            if group:
                self._merged[key] = merge_group(group, now_ms)
            elif self._merged.pop(key, None) is not None:
                self._deleted.append(key)
        self._dirty.clear()
        out = []
        for key in sorted(self._merged, key=lambda k: (_TYPE_ORDER.get(k[0], 2), k)):
            event = self._merged[key]
            if "currentTime" in event:
                event["currentTime"] = now_ms
            out.append(event)
        out.extend(deletion(key) for key in self._deleted)
        self._deleted.clear()
        return out
