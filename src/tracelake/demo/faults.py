"""Injected faults: how much a demo service fails and how late it answers.

Why its own module: the schedule writes faults, payments' ``POST /fault`` reads them
from JSON, and each request draws from one; keeping the shape and its validation in
one sans-IO place lets all three (and the tests) agree without a running service.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any


class FaultError(ValueError):
    """A fault description that cannot be applied (the message says which field)."""


@dataclass(frozen=True, slots=True)
class Fault:
    """``error_rate`` of requests fail (0-1); every request waits ``latency_ms`` more."""

    error_rate: float = 0.0
    latency_ms: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.error_rate <= 1.0:
            raise FaultError(f"error_rate must be from 0 to 1, got {self.error_rate}")
        if not 0.0 <= self.latency_ms <= 60_000:
            raise FaultError(f"latency_ms must be from 0 to 60000, got {self.latency_ms}")

    @property
    def healthy(self) -> bool:
        return self.error_rate == 0 and self.latency_ms == 0

    def draw(self, rng: random.Random) -> tuple[float, bool]:
        """For one request: (seconds to wait first, whether it fails)."""
        jitter = rng.uniform(0.8, 1.2) if self.latency_ms else 0.0
        return self.latency_ms * jitter / 1000, rng.random() < self.error_rate

    def as_json(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Fault:
        """Read ``{"error_rate": 0.6, "latency_ms": 800}``; absent fields mean none."""
        if not isinstance(data, dict):
            raise FaultError('send a JSON object like {"error_rate": 0.6, "latency_ms": 800}')
        unknown = sorted(set(data) - {"error_rate", "latency_ms"})
        if unknown:
            raise FaultError(f"unknown field {unknown[0]!r}: use error_rate and latency_ms")
        values: dict[str, float] = {}
        for name in ("error_rate", "latency_ms"):
            value = data.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise FaultError(f"{name} must be a number, got {value!r}")
            values[name] = float(value)
        return cls(**values)
