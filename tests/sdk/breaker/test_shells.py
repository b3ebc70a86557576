"""The four ways to call through a breaker (sync decorator, ``call``, async decorator,
``acall``) share one flow: the same scripted outcomes give the same results, the same
listener events in the same order, and the same counts -- on the fast path and off it.
And the modules point one way: the breaker never imports the registry."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import tracelake.sdk.breaker as pkg
from tracelake.sdk.breaker import (
    NO_FALLBACK,
    BadRequest,
    BreakerRegistry,
    CircuitBreaker,
    Isolation,
)

from .conftest import FakeClock

STEPS = st.lists(st.sampled_from(["ok", "fail", "bad", "slow", "wait"]), max_size=30)
FALLBACKS = st.sampled_from(["none", "value", "raises"])


def _fallback(kind: str) -> Any:
    if kind == "value":
        return "fallback"
    if kind == "raises":

        def broken() -> str:
            raise RuntimeError("fallback down")

        return broken
    return NO_FALLBACK


def _drive(way: str, steps: list[str], fallback: str, listen: bool) -> tuple[Any, ...]:
    clock = FakeClock()
    registry = BreakerRegistry()
    b = CircuitBreaker(
        "dep",
        clock=clock,
        registry=registry,
        isolation=Isolation.SEMAPHORE,
        timeout=None,
        request_volume_threshold=3,
        sleep_window=5.0,
        slow_call_duration=0.05,
        slow_call_rate_threshold=60,
        fallback=_fallback(fallback),
    )
    seen: list[Any] = []
    if listen:
        b.add_listener(seen.append)

    def act(step: str) -> str:
        if step == "fail":
            raise ConnectionError("down")
        if step == "bad":
            raise BadRequest("bad input")
        if step == "slow":
            clock.advance(0.1)
        return step

    async def aact(step: str) -> str:
        return act(step)

    sync_dec, async_dec = b(act), b(aact)
    results: list[Any] = []

    async def run_all() -> None:
        for step in steps:
            if step == "wait":
                clock.advance(6.0)
                continue
            try:
                if way == "sync decorator":
                    value = sync_dec(step)
                elif way == "call":
                    value = b.call(act, step)
                elif way == "async decorator":
                    value = await async_dec(step)
                else:
                    value = await b.acall(aact, step)
                results.append(value)
            except Exception as exc:
                results.append((type(exc).__name__, type(exc.__cause__).__name__))

    asyncio.run(run_all())
    snap = b.snapshot()
    events = [
        (type(e).__name__, getattr(e, "events", None), getattr(e, "reason", None)) for e in seen
    ]
    return (results, events, snap.rolling, snap.totals, snap.state, snap.health)


@settings(max_examples=60, deadline=None)
@given(steps=STEPS, fallback=FALLBACKS, listen=st.booleans())
def test_every_way_in_gives_the_same_results_events_and_counts(
    steps: list[str], fallback: str, listen: bool
) -> None:
    ways = ["sync decorator", "call", "async decorator", "acall"]
    first, *others = (_drive(w, steps, fallback, listen) for w in ways)
    for way, other in zip(ways[1:], others, strict=True):
        assert other == first, way


def _imports(module: Path, package: str) -> set[str]:
    """Modules of ``package`` that ``module`` imports, at any depth of its code."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == package:
            names.update(alias.name for alias in node.names)  # from package import block
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.removeprefix(package + "."))
        elif isinstance(node, ast.Import):
            names.update(alias.name.removeprefix(package + ".") for alias in node.names)
    return {n for n in names if (module.parent / f"{n}.py").exists()}


def test_the_breaker_never_imports_the_registry_not_even_lazily() -> None:
    root = Path(pkg.__file__).parent
    seen: set[str] = set()
    todo = ["breaker"]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_imports(root / f"{name}.py", pkg.__name__))
    assert "registry" not in seen, sorted(seen)
