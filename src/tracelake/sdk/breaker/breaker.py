"""The circuit breaker: Hystrix's command execution around any sync or async callable.

Why it is shaped like this:

* One object, three ways in -- decorator, ``with`` block, plain ``call``/``acall`` -- so the
  same breaker (and so the same health) can guard a dependency wherever it is called.
* This class is the face of the breaker: configuration, listeners, reads. What happens
  to a call is decided once, in ``attempt.py``, recorded in the books of ``circuit.py``,
  and driven by thin sync / async shells (``shells.py`` for calls, ``block.py`` for
  ``with`` blocks). The circuit's rules are the sans-IO ``state.py``.
* The common case is fast: when the circuit is closed, isolation is a semaphore, no
  timeout and no per-call listener is set, a call costs two clock reads, a lock-free
  permit and one append to a lock-free log (see ``window.py``).
* No lock is held while the protected call runs.
* Time comes from an injected clock (monotonic seconds), so tests never sleep.

Order of checks (Hystrix ``AbstractCommand``): circuit (``SHORT_CIRCUITED``) -> bulkhead
(``SEMAPHORE_REJECTED`` / ``THREAD_POOL_REJECTED``) -> run with timeout (``TIMEOUT``) ->
``SUCCESS`` / ``BAD_REQUEST`` (re-raised, not counted in health) / ``FAILURE`` ->
fallback (``FALLBACK_SUCCESS`` / ``FALLBACK_FAILURE`` / ``FALLBACK_REJECTION`` /
``FALLBACK_MISSING`` / ``FALLBACK_DISABLED``; ``EXCEPTION_THROWN`` when the caller gets an
exception).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast, overload

from tracelake.sdk.breaker import block
from tracelake.sdk.breaker.attempt import NO_FALLBACK
from tracelake.sdk.breaker.bulkhead import ThreadPoolBulkhead
from tracelake.sdk.breaker.circuit import Circuit
from tracelake.sdk.breaker.directory import Directory, Joinable, default_directory
from tracelake.sdk.breaker.events import Clock, Listener, State
from tracelake.sdk.breaker.policy import Policy, ThreadPoolPolicy
from tracelake.sdk.breaker.shells import async_shell, sync_shell
from tracelake.sdk.breaker.snapshot import BreakerSnapshot
from tracelake.sdk.breaker.window import HealthCounts

__all__ = ["NO_FALLBACK", "BreakerSnapshot", "CircuitBreaker"]

P = ParamSpec("P")
R = TypeVar("R")


class _DefaultRegistry:
    pass


_DEFAULT_REGISTRY: Any = _DefaultRegistry()

_WINDOW_FIELDS = (
    "rolling_window",
    "rolling_buckets",
    "percentile_window",
    "percentile_buckets",
    "percentile_enabled",
)


class CircuitBreaker:
    """A Hystrix circuit breaker with bulkhead, timeout, fallback and rolling metrics.

    Use it as a decorator (sync or ``async def``), a ``with`` / ``async with`` block, or
    call ``call(fn, ...)`` / ``await acall(fn, ...)``.

    Args:
        name: The command key; unique within its registry.
        policy: Settings; Hystrix defaults if omitted.
        group: Group key (default: ``name``); also the default thread-pool key.
        fallback: A callable run with the call's arguments (awaited if it returns an
            awaitable, for coroutines), or a plain value returned as is, when the call
            fails, times out, is rejected or short-circuited. ``NO_FALLBACK`` (default):
            the caller gets the error.
        thread_pool_policy: Settings of the pool if this breaker creates it.
        clock: Monotonic seconds; inject a fake one in tests.
        registry: Where to register (default: the process-wide one; None: nowhere).
        **overrides: Policy fields to change, e.g. ``timeout=0.2``.

    Example:
        >>> users = CircuitBreaker("users-db", isolation=Isolation.SEMAPHORE, timeout=None,
        ...                        fallback=list, registry=None)
        >>> @users
        ... def fetch(uid: int) -> list[str]:
        ...     return ["alice"]
        >>> fetch(1)
        ['alice']
    """

    def __init__(
        self,
        name: str,
        policy: Policy | None = None,
        *,
        group: str | None = None,
        fallback: Any = NO_FALLBACK,
        thread_pool_policy: ThreadPoolPolicy | None = None,
        clock: Clock = time.perf_counter,
        registry: Joinable | Directory | None = _DEFAULT_REGISTRY,
        **overrides: Any,
    ) -> None:
        policy = policy or Policy()
        if overrides:
            policy = dataclasses.replace(policy, **overrides)
        self.name = name
        self.group = group or name
        self._clock = clock
        directory: Directory | None
        if registry is _DEFAULT_REGISTRY:
            directory = default_directory
        elif registry is None or isinstance(registry, Directory):
            directory = registry
        else:
            directory = registry.directory
        c = Circuit(self, name, self.group, policy, clock, directory, fallback, thread_pool_policy)
        self._circuit = c
        # ``call`` / ``acall`` are the fast-path shells themselves, bound per instance:
        # a method in front of them would cost a frame per call. Subclasses that
        # override them keep their override.
        if type(self).call is CircuitBreaker.call:
            self.call = sync_shell(c, None)  # type: ignore[method-assign]
        if type(self).acall is CircuitBreaker.acall:
            self.acall = async_shell(c, None)  # type: ignore[method-assign,assignment]
        if directory is not None:
            directory.register(self)
            self._listeners_changed()  # process-wide call listeners turn the fast path off

    # -- configuration -------------------------------------------------------------------
    @property
    def policy(self) -> Policy:
        """The policy in force."""
        return self._circuit.policy

    def update(self, policy: Policy | None = None, **changes: Any) -> Policy:
        """Swap the policy atomically (Hystrix properties are dynamic too).

        Args:
            policy: A whole new policy, or None to start from the current one.
            **changes: Fields to change.

        Returns:
            The new policy. Changing a window's size restarts the rolling numbers.
        """
        c = self._circuit
        old = c.policy
        new = dataclasses.replace(policy or old, **changes)
        rebuild = any(getattr(new, f) != getattr(old, f) for f in _WINDOW_FIELDS)
        with c.lock:
            c.apply(new, rebuild_metrics=rebuild)
        return new

    def force_open(self) -> None:
        """Reject every call (``circuitBreaker.forceOpen=true``)."""
        self.update(force_open=True, force_closed=False)

    def force_closed(self) -> None:
        """Admit every call whatever the health (``circuitBreaker.forceClosed=true``)."""
        self.update(force_open=False, force_closed=True)

    def clear_forced(self) -> None:
        """Back to normal operation after ``force_open`` / ``force_closed``."""
        self.update(force_open=False, force_closed=False)

    def reset(self) -> None:
        """Close the circuit and forget the health counts (operator action)."""
        c = self._circuit
        now = self._clock()
        with c.lock:
            tr = c.sm.reset(now)
            c.fold(now)
            c.metrics.counts.reset_health()
            c.refresh()
        if tr is not None:
            c.emit([tr], None)

    # -- listeners -----------------------------------------------------------------------
    def add_listener(self, listener: Listener, *, calls: bool = True) -> None:
        """Send this breaker's events to ``listener`` (see ``BreakerRegistry.add_listener``)."""
        self._circuit.listeners.append((listener, calls))
        self._listeners_changed()

    def remove_listener(self, listener: Listener) -> None:
        """Stop sending events to ``listener``."""
        c = self._circuit
        c.listeners = [(fn, calls) for fn, calls in c.listeners if fn != listener]
        self._listeners_changed()

    def _listeners_changed(self) -> None:
        self._circuit.listeners_changed()

    # -- state ---------------------------------------------------------------------------
    @property
    def _fast(self) -> bool:
        """Sync calls take the lock-free fast path (read by tests)."""
        return self._circuit.fast

    @property
    def state(self) -> State:
        """The circuit's own state (forced flags not applied; see ``is_open``)."""
        return self._circuit.sm.status

    @property
    def is_open(self) -> bool:
        """Hystrix ``isOpen()``: true while OPEN or HALF_OPEN, or when forced open."""
        return self._circuit.sm.is_open()

    @property
    def thread_pool_key(self) -> str:
        """Key of the thread pool THREAD-isolated calls use."""
        return self._circuit.policy.thread_pool_key or self.group

    @property
    def thread_pool(self) -> ThreadPoolBulkhead:
        """The thread pool (created on first use; shared per key through the registry)."""
        return self._circuit.thread_pool()

    def health(self) -> HealthCounts:
        """Health counts over the rolling window, now."""
        c = self._circuit
        now = self._clock()
        with c.lock:
            c.fold(now)
            return c.metrics.health(now)

    def snapshot(self) -> BreakerSnapshot:
        """Everything the stream and the metrics report, read consistently."""
        c = self._circuit
        now = self._clock()
        with c.lock:
            m = c.metrics
            c.fold(now)
            counts = m.counts
            snap_health = counts.health(now)
            rolling = tuple(counts.sums(now))
            totals = tuple(counts.totals)
            max_conc = counts.max_concurrency(now)
            execution = m.execute.snapshot(now)
            total = m.total.snapshot(now)
            exec_count, exec_sum = m.execute.count, m.execute.sum
            state = c.sm.status
            is_open = c.sm.is_open()
        return BreakerSnapshot(
            name=self.name,
            group=self.group,
            thread_pool_key=self.thread_pool_key,
            state=state,
            is_open=is_open,
            health=snap_health,
            rolling=rolling,
            totals=totals,
            concurrent=c.sem.in_use + c.in_pool,
            max_concurrent=max_conc,
            execution=execution,
            total=total,
            execution_count_total=exec_count,
            execution_sum_total=exec_sum,
            policy=c.policy,
        )

    # -- calls ---------------------------------------------------------------------------
    def call(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
        """Run ``fn(*args, **kwargs)`` under the breaker.

        Returns:
            What ``fn`` returned, or the fallback's value.

        Raises:
            CircuitOpenError, SemaphoreRejected, ThreadPoolRejected, CallTimeout: without
                a fallback. FallbackFailed / FallbackRejected: the fallback failed or had
                no permit. The call's own exception when it failed without a fallback, or
                was a bad request.
        """
        return cast(R, sync_shell(self._circuit, fn)(*args, **kwargs))

    async def acall(self, fn: Callable[..., Awaitable[R]], /, *args: Any, **kwargs: Any) -> R:
        """Await ``fn(*args, **kwargs)`` under the breaker (see ``call`` for errors).

        The coroutine runs on the caller's event loop, bounded by the execution
        semaphore whatever the isolation. On timeout it is cancelled (or, with
        ``interrupt_on_timeout=False``, left running in the background).
        """
        return cast(R, await async_shell(self._circuit, fn)(*args, **kwargs))

    @overload
    def __call__(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]: ...

    @overload
    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]: ...

    def __call__(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        """Decorate a function or coroutine function so every call goes through the breaker."""
        shell = async_shell if inspect.iscoroutinefunction(fn) else sync_shell
        wrapper: Any = functools.update_wrapper(shell(self._circuit, fn), fn)
        wrapper.breaker = self
        return cast(Callable[P, Any], wrapper)

    # -- blocks --------------------------------------------------------------------------
    def __enter__(self) -> CircuitBreaker:
        """Guard a block: raises ``CircuitOpenError`` / ``SemaphoreRejected`` instead of
        entering. The block runs on the caller (semaphore isolation); with a timeout, a
        block that finishes late raises ``CallTimeout`` on exit. No fallback applies."""
        block.enter(self._circuit)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        block.leave(block.pop(self._circuit), exc, False)

    async def __aenter__(self) -> CircuitBreaker:
        """Like ``__enter__``; with a timeout the block is really cancelled at the deadline."""
        entry = block.enter(self._circuit)
        timeout = self._circuit.policy.timeout
        if timeout is not None:
            entry.timeout_cm = asyncio.timeout(timeout)
            await entry.timeout_cm.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        entry = block.pop(self._circuit)
        timed_out = False
        if entry.timeout_cm is not None:
            try:
                await entry.timeout_cm.__aexit__(exc_type, exc, tb)
            except TimeoutError:
                timed_out = True
                exc = None
        block.leave(entry, exc, timed_out)

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name!r} {self._circuit.sm.status.value}>"
