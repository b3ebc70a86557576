"""Every breaker and thread pool of the process, and who listens to them.

Why a registry: Hystrix keeps one breaker per command key and one pool per thread-pool
key for the whole process, and its stream reports all of them. The stream, the
Prometheus collector and process-wide listeners (logging, alerting) need that list, and
two call sites naming the same dependency must share one breaker.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from tracelake.sdk.breaker.bulkhead import ThreadPoolBulkhead
from tracelake.sdk.breaker.events import Clock, Listener
from tracelake.sdk.breaker.policy import ThreadPoolPolicy

if TYPE_CHECKING:
    from tracelake.sdk.breaker.breaker import CircuitBreaker


class BreakerRegistry:
    """Breakers by name, thread pools by key, and process-wide listeners. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}
        self._pools: dict[str, ThreadPoolBulkhead] = {}
        self._listeners: list[tuple[Listener, bool]] = []

    # -- breakers ---------------------------------------------------------------------
    def register(self, breaker: CircuitBreaker) -> None:
        """Add a breaker.

        Raises:
            ValueError: Another breaker already has that name (use ``breaker()`` to share).
        """
        with self._lock:
            existing = self._breakers.get(breaker.name)
            if existing is not None and existing is not breaker:
                raise ValueError(
                    f"a breaker named {breaker.name!r} is already registered; "
                    "use registry.breaker(name) to share it"
                )
            self._breakers[breaker.name] = breaker

    def unregister(self, name: str) -> None:
        """Forget the breaker of that name (no error if absent)."""
        with self._lock:
            self._breakers.pop(name, None)

    def get(self, name: str) -> CircuitBreaker | None:
        """The breaker of that name, or None."""
        return self._breakers.get(name)

    def breaker(self, name: str, **kwargs: Any) -> CircuitBreaker:
        """The breaker of that name, created with ``kwargs`` on first use (Hystrix's per-key
        singleton). Later calls ignore ``kwargs``."""
        from tracelake.sdk.breaker.breaker import CircuitBreaker

        with self._lock:
            existing = self._breakers.get(name)
        if existing is not None:
            return existing
        try:
            return CircuitBreaker(name, registry=self, **kwargs)
        except ValueError:
            found = self._breakers.get(name)
            if found is None:
                raise
            return found

    def breakers(self) -> list[CircuitBreaker]:
        """All breakers, in registration order."""
        with self._lock:
            return list(self._breakers.values())

    def __iter__(self) -> Any:
        return iter(self.breakers())

    def __len__(self) -> int:
        return len(self._breakers)

    # -- thread pools -----------------------------------------------------------------
    def thread_pool(
        self,
        key: str,
        policy: ThreadPoolPolicy | None = None,
        clock: Clock = time.perf_counter,
    ) -> ThreadPoolBulkhead:
        """The pool of that key, created on first use (later ``policy`` is ignored)."""
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = ThreadPoolBulkhead(key, policy, clock)
                self._pools[key] = pool
            return pool

    def thread_pools(self) -> list[ThreadPoolBulkhead]:
        """All pools, in creation order."""
        with self._lock:
            return list(self._pools.values())

    # -- listeners --------------------------------------------------------------------
    def add_listener(self, listener: Listener, *, calls: bool = True) -> None:
        """Send every breaker's events to ``listener``.

        Args:
            listener: Called with each ``StateTransition`` and (if ``calls``) each
                ``CallOutcome``, on the thread that caused it; exceptions are logged.
            calls: Also send per-call outcomes. Costs the lock-free fast path, so leave
                it False if transitions are all you need.
        """
        with self._lock:
            self._listeners.append((listener, calls))
            breakers = list(self._breakers.values())
        for b in breakers:
            b._listeners_changed()

    def remove_listener(self, listener: Listener) -> None:
        """Stop sending events to ``listener``."""
        with self._lock:
            self._listeners = [(fn, c) for fn, c in self._listeners if fn != listener]
            breakers = list(self._breakers.values())
        for b in breakers:
            b._listeners_changed()

    def listeners(self) -> list[tuple[Listener, bool]]:
        """``(listener, wants_calls)`` pairs."""
        return list(self._listeners)

    def close(self) -> None:
        """Shut the thread pools down (their threads are daemons; this just stops them)."""
        for pool in self.thread_pools():
            pool.shutdown()


#: The process-wide registry breakers join unless told otherwise.
default_registry = BreakerRegistry()


def get_breaker(name: str, **kwargs: Any) -> CircuitBreaker:
    """The process-wide breaker called ``name``, created with ``kwargs`` on first use.

    Example:
        >>> db = get_breaker("users-db", timeout=0.2)
    """
    return default_registry.breaker(name, **kwargs)
