"""Who is in the process: breakers by name, thread pools by key, and their listeners.

Why apart from ``registry.py``: a breaker joins a directory when it is created, and the
registry creates breakers (``registry.breaker(name)``), so if one module held both the
breaker and the registry would need each other. The directory is the piece both need;
it knows breakers only as ``Member`` (a name, and a hook to call when listeners change),
so the imports point one way: directory <- breaker <- registry.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from tracelake.sdk.breaker.bulkhead import ThreadPoolBulkhead
from tracelake.sdk.breaker.events import Clock, Listener
from tracelake.sdk.breaker.policy import ThreadPoolPolicy


class Member(Protocol):
    """What the directory needs of a breaker."""

    @property
    def name(self) -> str:
        """The command key, unique within a directory."""
        ...

    def _listeners_changed(self) -> None:
        """Re-read the listeners (a per-call listener turns the fast path off)."""
        ...


class Joinable(Protocol):
    """What a breaker may be given as its ``registry``: anything that has a directory."""

    @property
    def directory(self) -> Directory:
        """The directory the breaker joins."""
        ...


class Directory:
    """Breakers by name, thread pools by key, and process-wide listeners. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._breakers: dict[str, Member] = {}
        self._pools: dict[str, ThreadPoolBulkhead] = {}
        self._listeners: list[tuple[Listener, bool]] = []

    # -- breakers ---------------------------------------------------------------------
    def register(self, breaker: Member) -> None:
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

    def get(self, name: str) -> Member | None:
        """The breaker of that name, or None."""
        return self._breakers.get(name)

    def breakers(self) -> list[Member]:
        """All breakers, in registration order."""
        with self._lock:
            return list(self._breakers.values())

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
        """Send every breaker's events to ``listener`` (see ``BreakerRegistry``)."""
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


#: The directory of the process-wide registry: breakers join it unless told otherwise.
default_directory = Directory()
