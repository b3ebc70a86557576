"""Silences and acknowledgements: who said "quiet" about which alerts, until when.

A **silence** holds Alertmanager's meaning: label matchers (each ``name=value``, all
must match) and an end time; while it lasts, the alerts it matches send no
notification at all, to webhooks or Alertmanagers, firing or resolved. An alert that
still fires when its silence ends is notified then. An **acknowledgement** is a silence
of exactly one alert's label set ("I'm on it") that also ends when that alert resolves,
so its next occurrence pages again.

Kept in ``<data-dir>/alerts/silences.json``, replaced whole on every change, so they
outlast a restart; silences ended more than ``RETAIN_S`` ago are dropped. Sans-IO apart
from ``load`` and ``save``; times are epoch seconds passed in.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from tracelake.errors import BadRequest, NotFound
from tracelake.files import write_atomic

log = logging.getLogger("tracelake.alerting")

Kind = Literal["silence", "ack"]
#: How long an ended silence stays listed (Alertmanager keeps them 5 days).
RETAIN_S = 5 * 86400.0
#: Longest silence: one that outlives its reason is how real alerts go unseen.
MAX_DURATION_S = 30 * 86400.0
VERSION = 1
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(slots=True)
class Silence:
    id: str
    kind: Kind
    matchers: dict[str, str]
    starts_at: float
    ends_at: float
    created_by: str = ""
    comment: str = ""

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(name, "") == value for name, value in self.matchers.items())

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Silence:
        kind = data.get("kind", "silence")
        if kind not in ("silence", "ack"):
            raise ValueError(f"unknown silence kind {kind!r}")
        return cls(
            id=str(data["id"]),
            kind=kind,
            matchers={str(k): str(v) for k, v in data["matchers"].items()},
            starts_at=float(data["starts_at"]),
            ends_at=float(data["ends_at"]),
            created_by=str(data.get("created_by", "")),
            comment=str(data.get("comment", "")),
        )


def check_matchers(matchers: Any) -> dict[str, str]:
    """``{"alertname": "X", "service": "payments"}``: at least one, names as labels."""
    if not isinstance(matchers, dict) or not matchers:
        raise BadRequest(
            'matchers must be a non-empty object of label names to values, e.g. {"alertname": "PaymentsFailing"}'
        )
    out = {}
    for name, value in matchers.items():
        if not isinstance(name, str) or not _LABEL.fullmatch(name):
            raise BadRequest(f"matchers: {name!r} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)")
        if not isinstance(value, str):
            raise BadRequest(f"matchers: the value of {name} must be a string, got {value!r}")
        out[name] = value
    return out


class Silences:
    """Every silence and acknowledgement, with the file they are kept in."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: dict[str, Silence] = {}

    def load(self) -> None:
        try:
            data = orjson.loads(self.path.read_bytes())
            if not isinstance(data, dict) or data.get("version") != VERSION:
                raise ValueError(f"not a version {VERSION} silences file")
            items = [Silence.from_json(s) for s in data.get("silences") or []]
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            aside = self.path.with_name(self.path.name + ".unreadable")
            log.error(
                "silences %s unreadable (%s): moved to %s, starting none", self.path, e, aside
            )
            self.path.replace(aside)
            return
        self.items = {s.id: s for s in items}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"version": VERSION, "silences": [s.to_json() for s in self.items.values()]}
        write_atomic(self.path, orjson.dumps(body))

    def add(
        self,
        kind: Kind,
        matchers: dict[str, str],
        duration_s: float,
        now: float,
        *,
        created_by: str = "",
        comment: str = "",
    ) -> Silence:
        if not 0 < duration_s <= MAX_DURATION_S:
            raise BadRequest(
                f"a {kind} lasts more than 0 s and at most {MAX_DURATION_S / 86400:g} days: "
                f"give a duration like 1h"
            )
        silence = Silence(
            secrets.token_hex(8), kind, matchers, now, now + duration_s, created_by, comment
        )
        self.items[silence.id] = silence
        self.prune(now)
        return silence

    def expire(self, silence_id: str, now: float) -> Silence:
        silence = self.items.get(silence_id)
        if silence is None:
            raise NotFound(f"no silence {silence_id!r}: GET /api/v1/silences lists them")
        silence.ends_at = min(silence.ends_at, now)
        return silence

    def silencing(self, labels: Mapping[str, str], now: float) -> list[Silence]:
        """The silences and acknowledgements in force over an alert of ``labels``."""
        return [s for s in self.items.values() if s.active(now) and s.matches(labels)]

    def end_acks(self, labels: Mapping[str, str], now: float) -> bool:
        """An alert of ``labels`` resolved: its acknowledgements end. True if any did."""
        ended = False
        for s in self.items.values():
            if s.kind == "ack" and s.active(now) and s.matchers == dict(labels):
                s.ends_at, ended = now, True
        return ended

    def prune(self, now: float) -> None:
        for key in [k for k, s in self.items.items() if now - s.ends_at > RETAIN_S]:
            del self.items[key]

    def listed(self, now: float) -> list[Silence]:
        """Active first (ending soonest first), then ended (latest first)."""
        active = sorted((s for s in self.items.values() if s.active(now)), key=lambda s: s.ends_at)
        ended = sorted(
            (s for s in self.items.values() if not s.active(now)), key=lambda s: -s.ends_at
        )
        return active + ended
