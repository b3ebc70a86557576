"""Fixtures for the breaker tests: a fake clock and a private registry per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tracelake.sdk.breaker import BreakerRegistry, CircuitBreaker, Isolation


class FakeClock:
    """Monotonic seconds that only move when a test says so."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry() -> Iterator[BreakerRegistry]:
    reg = BreakerRegistry()
    yield reg
    reg.close()


@pytest.fixture
def make(clock: FakeClock, registry: BreakerRegistry) -> Any:
    """Build a breaker on the fake clock; semaphore isolation and no timeout unless told."""

    def build(name: str = "dep", **kwargs: Any) -> CircuitBreaker:
        kwargs.setdefault("isolation", Isolation.SEMAPHORE)
        kwargs.setdefault("timeout", None)
        return CircuitBreaker(name, clock=clock, registry=registry, **kwargs)

    return build


def ok() -> str:
    return "ok"


def boom() -> str:
    raise ConnectionError("dependency down")


def run(breaker: CircuitBreaker, fn: Any = ok, *args: Any) -> Any:
    """Call through the breaker, returning the exception instead of raising it."""
    try:
        return breaker.call(fn, *args)
    except BaseException as exc:
        return exc
