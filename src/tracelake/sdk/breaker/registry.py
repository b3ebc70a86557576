"""Every breaker and thread pool of the process, and who listens to them.

Why a registry: Hystrix keeps one breaker per command key and one pool per thread-pool
key for the whole process, and its stream reports all of them. The stream, the
Prometheus collector and process-wide listeners (logging, alerting) need that list, and
two call sites naming the same dependency must share one breaker.

The registry is the ``Directory`` breakers join (``directory.py``) plus the per-name
factory ``breaker()``. Breakers know only the directory, so this module imports the
breaker and never the other way round.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, cast

from tracelake.sdk.breaker.breaker import CircuitBreaker
from tracelake.sdk.breaker.bulkhead import ThreadPoolBulkhead
from tracelake.sdk.breaker.directory import Directory, default_directory
from tracelake.sdk.breaker.events import Clock, Listener
from tracelake.sdk.breaker.policy import ThreadPoolPolicy


class BreakerRegistry:
    """Breakers by name, thread pools by key, and process-wide listeners. Thread-safe.

    Args:
        directory: The membership to manage (default: a new, empty one).
    """

    def __init__(self, directory: Directory | None = None) -> None:
        self.directory = directory if directory is not None else Directory()

    # -- breakers ---------------------------------------------------------------------
    def register(self, breaker: CircuitBreaker) -> None:
        """Add a breaker.

        Raises:
            ValueError: Another breaker already has that name (use ``breaker()`` to share).
        """
        self.directory.register(breaker)

    def unregister(self, name: str) -> None:
        """Forget the breaker of that name (no error if absent)."""
        self.directory.unregister(name)

    def get(self, name: str) -> CircuitBreaker | None:
        """The breaker of that name, or None."""
        return cast(CircuitBreaker | None, self.directory.get(name))

    def breaker(self, name: str, **kwargs: Any) -> CircuitBreaker:
        """The breaker of that name, created with ``kwargs`` on first use (Hystrix's per-key
        singleton). Later calls ignore ``kwargs``."""
        existing = self.get(name)
        if existing is not None:
            return existing
        try:
            return CircuitBreaker(name, registry=self, **kwargs)
        except ValueError:
            found = self.get(name)
            if found is None:
                raise
            return found

    def breakers(self) -> list[CircuitBreaker]:
        """All breakers, in registration order."""
        return cast(list[CircuitBreaker], self.directory.breakers())

    def __iter__(self) -> Iterator[CircuitBreaker]:
        return iter(self.breakers())

    def __len__(self) -> int:
        return len(self.directory)

    # -- thread pools -----------------------------------------------------------------
    def thread_pool(
        self,
        key: str,
        policy: ThreadPoolPolicy | None = None,
        clock: Clock = time.perf_counter,
    ) -> ThreadPoolBulkhead:
        """The pool of that key, created on first use (later ``policy`` is ignored)."""
        return self.directory.thread_pool(key, policy, clock)

    def thread_pools(self) -> list[ThreadPoolBulkhead]:
        """All pools, in creation order."""
        return self.directory.thread_pools()

    # -- listeners --------------------------------------------------------------------
    def add_listener(self, listener: Listener, *, calls: bool = True) -> None:
        """Send every breaker's events to ``listener``.

        Args:
            listener: Called with each ``StateTransition`` and (if ``calls``) each
                ``CallOutcome``, on the thread that caused it; exceptions are logged.
            calls: Also send per-call outcomes. Costs the lock-free fast path, so leave
                it False if transitions are all you need.
        """
        self.directory.add_listener(listener, calls=calls)

    def remove_listener(self, listener: Listener) -> None:
        """Stop sending events to ``listener``."""
        self.directory.remove_listener(listener)

    def listeners(self) -> list[tuple[Listener, bool]]:
        """``(listener, wants_calls)`` pairs."""
        return self.directory.listeners()

    def close(self) -> None:
        """Shut the thread pools down (their threads are daemons; this just stops them)."""
        self.directory.close()


#: The process-wide registry breakers join unless told otherwise.
default_registry = BreakerRegistry(default_directory)


def get_breaker(name: str, **kwargs: Any) -> CircuitBreaker:
    """The process-wide breaker called ``name``, created with ``kwargs`` on first use.

    Example:
        >>> db = get_breaker("users-db", timeout=0.2)
    """
    return default_registry.breaker(name, **kwargs)
