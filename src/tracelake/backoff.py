"""How long to wait before retrying a request: one rule for every client of the project.

The SDK's exporter, the shipping agent (``tracelake ship``) and the alert notifier all
retry a POST that the other side could not take now. They wait by the same rule:

- exponential backoff with *equal jitter*: before retry ``n`` (0-based) the ceiling is
  ``min(cap, base * 2**n)`` and the wait is drawn uniformly from ``[ceiling/2, ceiling]``.
  The random half spreads a fleet of clients that failed together; the fixed half keeps
  a retry from firing at once, so callers with a fixed number of attempts (the SDK, the
  notifier) spread them over at least half the schedule instead of spending them all in
  a few milliseconds of an outage, as full jitter (``[0, ceiling]``) can. The cap applies
  to the ceiling before the draw, so waits at the cap stay spread too.
- a ``Retry-After`` from the server replaces the computed wait, up to ``retry_after_cap``
  (a server asking for an hour must not stall a client that long); it is honoured as
  given, neither shortened nor jittered.

:func:`parse_retry_after` reads both forms of the header (RFC 9110 §10.2.3).

Standard library only: the SDK imports this module and must not pay for the server.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable
from datetime import UTC

__all__ = ["Backoff", "parse_retry_after"]


class Backoff:
    """The waits of one run of retries; :meth:`reset` after a success.

    Args:
        base: Ceiling of the first wait (seconds).
        cap: Largest ceiling of a computed wait (seconds).
        retry_after_cap: Longest wait a ``Retry-After`` can ask for (seconds); ``None``
            means ``cap``.
        rand: Source of uniform numbers in ``[0, 1)`` (tests pass a fixed one).
    """

    def __init__(
        self,
        base: float,
        cap: float,
        *,
        retry_after_cap: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if base < 0 or cap < 0:
            raise ValueError(f"backoff base and cap must be >= 0, got {base} and {cap}")
        self.base = base
        self.cap = cap
        self.retry_after_cap = cap if retry_after_cap is None else retry_after_cap
        self.attempt = 0
        self._rand = rand

    def ceiling(self, attempt: int) -> float:
        """The longest computed wait before retry number ``attempt`` (0-based)."""
        # min() before the power would overflow a float for a long outage.
        return float(min(self.cap, self.base * 2.0 ** min(attempt, 1000)))

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt``, given the server's hint."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_cap)
        ceiling = self.ceiling(attempt)
        return ceiling / 2 + ceiling / 2 * self._rand()

    def next(self, retry_after: float | None = None) -> float:
        """Seconds to wait before the next retry; counts it."""
        wait = self.delay(self.attempt, retry_after)
        self.attempt += 1
        return wait

    def reset(self) -> None:
        """A request went through: the next failure starts again from ``base``."""
        self.attempt = 0


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait; ``None`` if absent or unreadable.

    Both forms are read: delta-seconds (``120``; a decimal is accepted) and an HTTP-date
    (``Wed, 21 Oct 2015 07:28:00 GMT``), measured from ``now()``. A time in the past or
    a negative number means "now" (0.0).
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return None if math.isnan(seconds) else max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": the RFC's dates are in GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now())
