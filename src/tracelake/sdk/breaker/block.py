"""``with breaker:`` / ``async with breaker:``: the flow around a block of code.

Why apart from the call shells: a block has no arguments and no fallback, and its end
comes in ``__exit__``, possibly in another frame, so each open block is kept on a
per-thread / per-task stack (a ``ContextVar``) until its exit. The decisions are the
same ``Attempt`` the call shells use.
"""

from __future__ import annotations

import asyncio
import contextvars
from dataclasses import dataclass

from tracelake.sdk.breaker.attempt import Attempt
from tracelake.sdk.breaker.circuit import TRIAL_OK, Circuit
from tracelake.sdk.breaker.events import Event


@dataclass(slots=True)
class Entry:
    """One open block."""

    c: Circuit
    attempt: Attempt
    timeout_cm: asyncio.Timeout | None = None


# Stack of open ``with breaker:`` blocks in this thread / task.
_ENTRIES: contextvars.ContextVar[tuple[Entry, ...]] = contextvars.ContextVar(
    "tracelake_breaker_entries", default=()
)


def enter(c: Circuit) -> Entry:
    """Admit the block or raise ``CircuitOpenError`` / ``SemaphoreRejected``."""
    at = Attempt(c, c.clock())
    failure = at.admit(semaphore=True)
    if failure is not None:
        failure.give_up(None, failure.error(), total=0.0)
    at.t0 = c.clock()
    entry = Entry(c, at)
    _ENTRIES.set((*_ENTRIES.get(), entry))
    return entry


def pop(c: Circuit) -> Entry:
    """The innermost open block of this breaker, taken off the stack."""
    stack = _ENTRIES.get()
    for i in range(len(stack) - 1, -1, -1):
        if stack[i].c is c:
            _ENTRIES.set(stack[:i] + stack[i + 1 :])
            return stack[i]
    raise RuntimeError(f"breaker {c.name!r}: exit without matching enter")


def leave(entry: Entry, exc: BaseException | None, timed_out: bool) -> None:
    """Record how the block ended; raises ``CallTimeout`` if it ran past the timeout."""
    c, at = entry.c, entry.attempt
    t1 = c.clock()
    if at.sem is not None:
        at.sem.release()
    lat = t1 - at.t0
    timeout = c.policy.timeout
    if exc is None and not timed_out and timeout is not None and lat > timeout:
        timed_out = True  # a sync block cannot be interrupted: late, so discarded
    if timed_out:
        failure = at.timed_out(lat)
        failure.give_up(None, failure.error())
    if exc is None:
        c.settle(
            t1,
            [Event.SUCCESS],
            lat,
            t1 - at.start,
            at.concurrency,
            lat > c.slow,
            TRIAL_OK if at.trial else None,
            None,
        )
        return
    failed = at.raised(exc, lat)
    if failed is not None:
        failed.thrown()  # the block's own exception propagates
