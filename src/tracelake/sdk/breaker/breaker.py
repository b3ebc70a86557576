"""The circuit breaker: Hystrix's command execution around any sync or async callable.

Why it is shaped like this:

* One object, three ways in -- decorator, ``with`` block, plain ``call``/``acall`` -- so the
  same breaker (and so the same health) can guard a dependency wherever it is called.
* The common case is fast: when the circuit is closed, isolation is a semaphore, no
  timeout and no per-call listener is set, a call costs two clock reads, a lock-free
  permit and one append to a lock-free log (see ``window.py``). Everything else takes
  the general path, which implements the full Hystrix flow:
  circuit -> semaphore / thread pool -> timeout -> run -> fallback.
* No lock is held while the protected call runs. The breaker's lock only guards folding
  counters and moving the state machine, a few microseconds at most.
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
import contextvars
import dataclasses
import functools
import inspect
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast, overload

from tracelake.sdk.breaker.bulkhead import Semaphore, ThreadPoolBulkhead
from tracelake.sdk.breaker.errors import (
    BadRequest,
    BreakerError,
    CallTimeout,
    CircuitOpenError,
    FallbackFailed,
    FallbackRejected,
    SemaphoreRejected,
    ThreadPoolRejected,
)
from tracelake.sdk.breaker.events import (
    HEALTH_ERRORS,
    CallOutcome,
    Clock,
    Event,
    FailureType,
    Listener,
    State,
    StateTransition,
)
from tracelake.sdk.breaker.policy import Isolation, Policy, ThreadPoolPolicy
from tracelake.sdk.breaker.registry import BreakerRegistry, default_registry
from tracelake.sdk.breaker.state import Admission, CircuitStateMachine, Transition
from tracelake.sdk.breaker.window import CommandMetrics, HealthCounts, LatencySnapshot

__all__ = ["NO_FALLBACK", "BreakerSnapshot", "CircuitBreaker"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


class _NoFallback:
    def __repr__(self) -> str:
        return "NO_FALLBACK"


#: Sentinel: the breaker has no fallback (Hystrix ``FALLBACK_MISSING``).
NO_FALLBACK: Any = _NoFallback()


class _DefaultRegistry:
    pass


_DEFAULT_REGISTRY: Any = _DefaultRegistry()

# How often (breaker-clock seconds) a successful call folds the success log into the
# buckets and re-checks health; Hystrix re-checks every 500 ms.
_FOLD_INTERVAL = 0.05

_SUCCESS, _INCONCLUSIVE, _FAILED = "success", "inconclusive", "failed"

# Stack of open ``with breaker:`` blocks in this thread / task.
_ENTRIES: contextvars.ContextVar[tuple[_Entry, ...]] = contextvars.ContextVar(
    "tracelake_breaker_entries", default=()
)


@dataclass(slots=True)
class _Entry:
    breaker: CircuitBreaker
    start: float
    t0: float
    concurrency: int
    trial: bool
    semaphore: Semaphore
    timeout_cm: asyncio.Timeout | None = None


class _Deadline:
    """Cancels a task at a loop time: ``asyncio.timeout`` minus its bookkeeping (half the
    cost, which matters on every call). ``expired`` tells our cancel from anyone else's."""

    __slots__ = ("expired", "handle", "task")

    def __init__(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("a breaker timeout needs to run inside an asyncio task")
        self.task = task
        self.expired = False
        self.handle = loop.call_at(loop.time() + timeout, self._fire)

    def _fire(self) -> None:
        self.expired = True
        self.task.cancel()

    def done(self) -> bool:
        """Disarm; True if the deadline fired (its cancellation is then withdrawn)."""
        self.handle.cancel()
        if self.expired:
            self.task.uncancel()
        return self.expired


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """A consistent read of one breaker, for the stream, metrics and humans.

    Attributes:
        name: Command key.
        group: Group key.
        thread_pool_key: Key of the pool THREAD-isolated calls use.
        state: The circuit's own state.
        is_open: Hystrix ``isCircuitBreakerOpen`` (true while OPEN or HALF_OPEN or forced
            open; false when forced closed or disabled).
        health: Health counts over the rolling window.
        rolling: Per-event counts over the rolling window, indexed by ``Event``.
        totals: Per-event counts since the breaker was created (Prometheus counters).
        concurrent: Calls running right now.
        max_concurrent: Highest concurrency in the rolling window.
        execution: Execution latency over the percentile window.
        total: Total (caller-observed) latency over the percentile window.
        execution_count_total: Execution latency samples since creation.
        execution_sum_total: Sum of those samples (seconds).
        policy: The policy in force.
    """

    name: str
    group: str
    thread_pool_key: str
    state: State
    is_open: bool
    health: HealthCounts
    rolling: tuple[int, ...]
    totals: tuple[int, ...]
    concurrent: int
    max_concurrent: int
    execution: LatencySnapshot
    total: LatencySnapshot
    execution_count_total: int
    execution_sum_total: float
    policy: Policy


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
        registry: BreakerRegistry | None = _DEFAULT_REGISTRY,
        **overrides: Any,
    ) -> None:
        policy = policy or Policy()
        if overrides:
            policy = dataclasses.replace(policy, **overrides)
        self.name = name
        self.group = group or name
        self._clock = clock
        self._lock = threading.Lock()
        self._fallback = fallback
        self._thread_pool_policy = thread_pool_policy
        self._pool: ThreadPoolBulkhead | None = None
        self._in_pool = 0
        self._listeners: list[tuple[Listener, bool]] = []
        self._registry: BreakerRegistry | None = (
            default_registry if registry is _DEFAULT_REGISTRY else registry
        )
        self._sm = CircuitStateMachine(policy)
        self._next_fold = -math.inf
        self._peak = 0
        self._fast = False
        self._fast_async = False
        self._call_listeners = False
        self._apply_policy(policy, rebuild_metrics=True)
        if self._registry is not None:
            self._registry.register(self)
            self._listeners_changed()  # process-wide call listeners turn the fast path off

    # -- configuration -------------------------------------------------------------------
    def _apply_policy(self, policy: Policy, *, rebuild_metrics: bool) -> None:
        self._policy = policy
        self._sm.policy = policy
        if rebuild_metrics:
            self._metrics = CommandMetrics(
                policy.rolling_window,
                policy.rolling_buckets,
                policy.percentile_window,
                policy.percentile_buckets,
                policy.percentile_enabled,
            )
            self._ok = self._metrics.pending.append
        self._sem = Semaphore(policy.max_concurrent_requests)
        self._permits = self._sem._permits
        self._sem_limit = policy.max_concurrent_requests
        self._fb_sem = Semaphore(policy.fallback_max_concurrent_requests)
        self._slow = math.inf if policy.slow_call_duration is None else policy.slow_call_duration
        self._ignored: tuple[type[BaseException], ...] = (BadRequest, *policy.ignore_exceptions)
        self._refresh()

    def _refresh(self) -> None:
        """Recompute the fast-path flags after any change of state, policy or listeners."""
        p = self._policy
        admits = self._sm.admits_fast()
        plain = admits and not self._call_listeners and p.timeout is None
        self._fast_async = plain
        self._fast = plain and p.isolation is Isolation.SEMAPHORE

    def _listeners_changed(self) -> None:
        reg = self._registry.listeners() if self._registry is not None else []
        with self._lock:
            self._call_listeners = any(c for _, c in self._listeners) or any(c for _, c in reg)
            self._refresh()

    @property
    def policy(self) -> Policy:
        """The policy in force."""
        return self._policy

    def update(self, policy: Policy | None = None, **changes: Any) -> Policy:
        """Swap the policy atomically (Hystrix properties are dynamic too).

        Args:
            policy: A whole new policy, or None to start from the current one.
            **changes: Fields to change.

        Returns:
            The new policy. Changing a window's size restarts the rolling numbers.
        """
        new = dataclasses.replace(policy or self._policy, **changes)
        old = self._policy
        rebuild = (
            new.rolling_window,
            new.rolling_buckets,
            new.percentile_window,
            new.percentile_buckets,
            new.percentile_enabled,
        ) != (
            old.rolling_window,
            old.rolling_buckets,
            old.percentile_window,
            old.percentile_buckets,
            old.percentile_enabled,
        )
        with self._lock:
            self._apply_policy(new, rebuild_metrics=rebuild)
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
        now = self._clock()
        with self._lock:
            tr = self._sm.reset(now)
            self._fold(now)
            self._metrics.counts.reset_health()
            self._refresh()
        if tr is not None:
            self._emit([tr], None)

    # -- listeners -----------------------------------------------------------------------
    def add_listener(self, listener: Listener, *, calls: bool = True) -> None:
        """Send this breaker's events to ``listener`` (see ``BreakerRegistry.add_listener``)."""
        self._listeners.append((listener, calls))
        self._listeners_changed()

    def remove_listener(self, listener: Listener) -> None:
        """Stop sending events to ``listener``."""
        self._listeners = [(fn, c) for fn, c in self._listeners if fn != listener]
        self._listeners_changed()

    def _emit(self, transitions: list[Transition], outcome: CallOutcome | None) -> None:
        targets = list(self._listeners)
        if self._registry is not None:
            targets += self._registry.listeners()
        if not targets:
            return
        events: list[StateTransition | CallOutcome] = [
            StateTransition(self, t.old, t.new, t.at, t.reason) for t in transitions
        ]
        for listener, calls in targets:
            for ev in events:
                self._deliver(listener, ev)
            if outcome is not None and calls:
                self._deliver(listener, outcome)

    @staticmethod
    def _deliver(listener: Listener, event: StateTransition | CallOutcome) -> None:
        try:
            listener(event)
        except Exception:
            log.exception("breaker listener %r failed", listener)

    # -- state ---------------------------------------------------------------------------
    @property
    def state(self) -> State:
        """The circuit's own state (forced flags not applied; see ``is_open``)."""
        return self._sm.status

    @property
    def is_open(self) -> bool:
        """Hystrix ``isOpen()``: true while OPEN or HALF_OPEN, or when forced open."""
        return self._sm.is_open()

    @property
    def thread_pool_key(self) -> str:
        """Key of the thread pool THREAD-isolated calls use."""
        return self._policy.thread_pool_key or self.group

    @property
    def thread_pool(self) -> ThreadPoolBulkhead:
        """The thread pool (created on first use; shared per key through the registry)."""
        pool = self._pool
        if pool is None or pool.key != self.thread_pool_key:
            if self._registry is not None:
                pool = self._registry.thread_pool(
                    self.thread_pool_key, self._thread_pool_policy, self._clock
                )
            else:
                pool = ThreadPoolBulkhead(
                    self.thread_pool_key, self._thread_pool_policy, self._clock
                )
            self._pool = pool
        return pool

    def health(self) -> HealthCounts:
        """Health counts over the rolling window, now."""
        now = self._clock()
        with self._lock:
            self._fold(now)
            return self._metrics.health(now)

    def snapshot(self) -> BreakerSnapshot:
        """Everything the stream and the metrics report, read consistently."""
        now = self._clock()
        with self._lock:
            m = self._metrics
            self._fold(now)
            counts = m.counts
            snap_health = counts.health(now)
            rolling = tuple(counts.sums(now))
            totals = tuple(counts.totals)
            max_conc = counts.max_concurrency(now)
            execution = m.execute.snapshot(now)
            total = m.total.snapshot(now)
            exec_count, exec_sum = m.execute.count, m.execute.sum
            state = self._sm.status
            is_open = self._sm.is_open()
        return BreakerSnapshot(
            name=self.name,
            group=self.group,
            thread_pool_key=self.thread_pool_key,
            state=state,
            is_open=is_open,
            health=snap_health,
            rolling=rolling,
            totals=totals,
            concurrent=self._sem.in_use + self._in_pool,
            max_concurrent=max_conc,
            execution=execution,
            total=total,
            execution_count_total=exec_count,
            execution_sum_total=exec_sum,
            policy=self._policy,
        )

    # -- bookkeeping shared by all paths -----------------------------------------------------
    def _fold(self, now: float) -> None:
        """Fold the success log (lock held)."""
        peak, self._peak = self._peak, 0
        m = self._metrics
        m.fold(now, peak)
        self._ok = m.pending.append

    def _admit(self, now: float) -> Admission:
        if self._sm.admits_fast():
            return Admission.ALLOW
        with self._lock:
            adm = self._sm.attempt(now)
            if adm is Admission.TRIAL:
                self._refresh()
        if adm is Admission.TRIAL:
            self._emit([Transition(State.OPEN, State.HALF_OPEN, now, "sleep_window_elapsed")], None)
        return adm

    def _settle(
        self,
        t: float,
        events: list[Event],
        exec_latency: float | None,
        total_latency: float | None,
        concurrency: int,
        slow: bool,
        trial: str | None,
        exc: BaseException | None,
    ) -> None:
        """Record one finished call, move the circuit, tell listeners."""
        transitions: list[Transition] = []
        with self._lock:
            m = self._metrics
            self._fold(t)
            m.record(t, events, exec_latency, total_latency, concurrency, slow)
            sm = self._sm
            if trial is not None:
                if trial == _SUCCESS:
                    tr = sm.on_trial_success(t)
                    if tr is not None:
                        m.counts.reset_health()
                elif trial == _FAILED:
                    tr = sm.on_trial_failure(t)
                else:
                    tr = sm.on_trial_inconclusive(t)
                if tr is not None:
                    transitions.append(tr)
            if slow or not HEALTH_ERRORS.isdisjoint(events):
                tr = sm.on_health(m.health(t), t)
                if tr is not None:
                    transitions.append(tr)
            if transitions:
                self._refresh()
        if transitions or self._call_listeners:
            outcome = None
            if self._call_listeners:
                outcome = CallOutcome(self, tuple(events), exec_latency, total_latency or 0.0, exc)
            self._emit(transitions, outcome)

    def _after_ok(self, t1: float, lat: float, conc: int) -> None:
        """Fast-path success that was slow, or that crossed the fold interval."""
        if lat > self._slow:
            self._settle(t1, [Event.SUCCESS], lat, lat, conc, True, None, None)
            return
        if conc > self._peak:
            self._peak = conc
        # Push the deadline first (a benign race): other threads go back to the fast path
        # at once instead of queueing here while this one folds.
        self._next_fold = t1 + _FOLD_INTERVAL
        if not self._lock.acquire(blocking=False):
            self._ok(lat)
            return  # somebody else holds the lock; fold next interval
        try:
            # Fold what came before, then log this call: it is stamped by the next fold.
            self._fold(t1)
            self._ok(lat)
            tr = self._sm.on_health(self._metrics.health(t1), t1)
            if tr is not None:
                self._refresh()
        finally:
            self._lock.release()
        if tr is not None:
            self._emit([tr], None)

    def _succeeded(self, t1: float, lat: float, total: float, conc: int, trial: bool) -> None:
        """A general-path success: the lock-free log unless someone must hear of it."""
        if trial or self._call_listeners:
            self._settle(
                t1,
                [Event.SUCCESS],
                lat,
                total,
                conc,
                lat > self._slow,
                _SUCCESS if trial else None,
                None,
            )
        elif lat > self._slow or t1 >= self._next_fold:
            self._after_ok(t1, lat, conc)
        else:
            self._ok(lat)
            if conc > self._peak:
                self._peak = conc

    def _classify(self, exc: BaseException) -> Event:
        if isinstance(exc, self._ignored):
            return Event.BAD_REQUEST
        if not isinstance(exc, Exception):  # CancelledError, KeyboardInterrupt, SystemExit
            return Event.CANCELLED
        return Event.FAILURE

    def _error_for(self, ftype: FailureType, cause: BaseException | None) -> BaseException:
        timeout = self._policy.timeout
        err: BreakerError
        if ftype is FailureType.COMMAND_EXCEPTION and cause is not None:
            return cause
        if ftype is FailureType.SHORTCIRCUIT:
            err = CircuitOpenError(self.name, "circuit open, call short-circuited")
        elif ftype is FailureType.REJECTED_SEMAPHORE_EXECUTION:
            err = SemaphoreRejected(self.name, f"all {self._sem_limit} execution permits taken")
        elif ftype is FailureType.REJECTED_THREAD_EXECUTION:
            err = ThreadPoolRejected(self.name, f"thread pool {self.thread_pool_key!r} full")
        else:
            err = CallTimeout(self.name, f"timed out after {timeout} s")
        err.__cause__ = cause
        return err

    def _fallback_plan(
        self, ftype: FailureType, cause: BaseException | None
    ) -> tuple[Any, BaseException | None, list[Event]]:
        """Before running a fallback: (fallback to run or None, error if none, events)."""
        if not self._policy.fallback_enabled:
            return None, self._error_for(ftype, cause), [Event.FALLBACK_DISABLED]
        if self._fallback is NO_FALLBACK:
            return None, self._error_for(ftype, cause), [Event.FALLBACK_MISSING]
        if not self._fb_sem.try_acquire():
            err = FallbackRejected(self.name, f"{ftype.value} and fallback rejected")
            err.__cause__ = cause
            return None, err, [Event.FALLBACK_REJECTION]
        return self._fallback, None, []

    def _fail_sync(
        self,
        ftype: FailureType,
        cause: BaseException | None,
        events: list[Event],
        start: float,
        exec_latency: float | None,
        concurrency: int,
        slow: bool,
        trial: str | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        fb, error, fb_events = self._fallback_plan(ftype, cause)
        value: Any = None
        if error is None:
            try:
                value = fb(*args, **kwargs) if callable(fb) else fb
            except Exception as fexc:
                error = FallbackFailed(self.name, ftype, cause)
                error.__cause__ = fexc
                fb_events = [Event.FALLBACK_FAILURE]
            else:
                fb_events = [Event.FALLBACK_SUCCESS]
            finally:
                self._fb_sem.release()
        if error is not None:
            fb_events.append(Event.EXCEPTION_THROWN)
        end = self._clock()
        self._settle(
            end, events + fb_events, exec_latency, end - start, concurrency, slow, trial, cause
        )
        if error is not None:
            raise error
        return value

    async def _fail_async(
        self,
        ftype: FailureType,
        cause: BaseException | None,
        events: list[Event],
        start: float,
        exec_latency: float | None,
        concurrency: int,
        slow: bool,
        trial: str | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        fb, error, fb_events = self._fallback_plan(ftype, cause)
        value: Any = None
        if error is None:
            try:
                value = fb(*args, **kwargs) if callable(fb) else fb
                if inspect.isawaitable(value):
                    value = await value
            except Exception as fexc:
                error = FallbackFailed(self.name, ftype, cause)
                error.__cause__ = fexc
                fb_events = [Event.FALLBACK_FAILURE]
            else:
                fb_events = [Event.FALLBACK_SUCCESS]
            finally:
                self._fb_sem.release()
        if error is not None:
            fb_events.append(Event.EXCEPTION_THROWN)
        end = self._clock()
        self._settle(
            end, events + fb_events, exec_latency, end - start, concurrency, slow, trial, cause
        )
        if error is not None:
            raise error
        return value

    def _raised(
        self,
        exc: BaseException,
        start: float,
        exec_latency: float,
        concurrency: int,
        trial: bool,
    ) -> tuple[Event, bool, str | None]:
        """Classify an exception of the protected call; settles BAD_REQUEST / CANCELLED."""
        kind = self._classify(exc)
        if kind is Event.FAILURE:
            return kind, exec_latency > self._slow, _FAILED if trial else None
        end = self._clock()
        self._settle(
            end,
            [kind],
            exec_latency,
            end - start,
            concurrency,
            False,
            _INCONCLUSIVE if trial else None,
            exc,
        )
        return kind, False, None

    # -- sync --------------------------------------------------------------------------------
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
        if not self._fast:
            return cast(R, self._call_sync(fn, args, kwargs))
        permits = self._permits
        try:
            permits.pop()
        except IndexError:
            return cast(R, self._call_sync(fn, args, kwargs))
        conc = self._sem_limit - len(permits)
        clock = self._clock
        t0 = clock()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            t1 = clock()
            permits.append(None)
            return cast(R, self._sync_error(exc, t0, t0, t1, conc, False, args, kwargs))
        t1 = clock()
        permits.append(None)
        lat = t1 - t0
        if lat > self._slow or t1 >= self._next_fold:
            self._after_ok(t1, lat, conc)
        else:
            self._ok(lat)
            if conc > self._peak:
                self._peak = conc
        return result

    def _sync_error(
        self,
        exc: BaseException,
        start: float,
        t0: float,
        t1: float,
        conc: int,
        trial: bool,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        kind, slow, trial_result = self._raised(exc, start, t1 - t0, conc, trial)
        if kind is not Event.FAILURE:
            raise exc
        return self._fail_sync(
            FailureType.COMMAND_EXCEPTION,
            exc,
            [Event.FAILURE],
            start,
            t1 - t0,
            conc,
            slow,
            trial_result,
            args,
            kwargs,
        )

    def _call_sync(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        clock = self._clock
        start = clock()
        policy = self._policy
        adm = self._admit(start)
        if adm is Admission.REJECT:
            return self._fail_sync(
                FailureType.SHORTCIRCUIT,
                None,
                [Event.SHORT_CIRCUITED],
                start,
                None,
                0,
                False,
                None,
                args,
                kwargs,
            )
        trial = adm is Admission.TRIAL
        if policy.isolation is Isolation.THREAD:
            return self._call_in_pool(fn, args, kwargs, start, trial, policy)
        sem = self._sem
        if not sem.try_acquire():
            return self._fail_sync(
                FailureType.REJECTED_SEMAPHORE_EXECUTION,
                None,
                [Event.SEMAPHORE_REJECTED],
                start,
                None,
                sem.limit,
                False,
                _FAILED if trial else None,
                args,
                kwargs,
            )
        conc = sem.in_use
        t0 = clock()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            t1 = clock()
            sem.release()
            return self._sync_error(exc, start, t0, t1, conc, trial, args, kwargs)
        t1 = clock()
        sem.release()
        lat = t1 - t0
        if policy.timeout is not None and lat > policy.timeout:
            # Semaphore isolation cannot interrupt: the late result is discarded (Hystrix).
            return self._fail_sync(
                FailureType.TIMEOUT,
                None,
                [Event.TIMEOUT],
                start,
                lat,
                conc,
                lat > self._slow,
                _FAILED if trial else None,
                args,
                kwargs,
            )
        self._succeeded(t1, lat, t1 - start, conc, trial)
        return result

    def _call_in_pool(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        start: float,
        trial: bool,
        policy: Policy,
    ) -> Any:
        pool = self.thread_pool
        job = pool.try_submit(fn, args, kwargs)
        if job is None:
            return self._fail_sync(
                FailureType.REJECTED_THREAD_EXECUTION,
                None,
                [Event.THREAD_POOL_REJECTED],
                start,
                None,
                0,
                False,
                _FAILED if trial else None,
                args,
                kwargs,
            )
        with self._lock:
            self._in_pool += 1
            conc = self._sem.in_use + self._in_pool
        fut = job.future
        try:
            try:
                result = fut.result(timeout=policy.timeout)
            except BaseException as exc:
                failed_itself = fut.done() and not fut.cancelled() and fut.exception() is exc
                if not failed_itself:
                    if not isinstance(exc, TimeoutError):
                        raise  # the *caller* was interrupted (KeyboardInterrupt)
                    fut.cancel()  # succeeds only if it never started; else it is abandoned
                    waited = self._clock() - start
                    return self._fail_sync(
                        FailureType.TIMEOUT,
                        None,
                        [Event.TIMEOUT],
                        start,
                        waited,
                        conc,
                        waited > self._slow,
                        _FAILED if trial else None,
                        args,
                        kwargs,
                    )
                return self._sync_error(exc, start, job.t0, job.t1, conc, trial, args, kwargs)
        finally:
            with self._lock:
                self._in_pool -= 1
        end = self._clock()
        lat = job.t1 - job.t0
        self._settle(
            end,
            [Event.SUCCESS],
            lat,
            end - start,
            conc,
            lat > self._slow,
            _SUCCESS if trial else None,
            None,
        )
        return result

    # -- async -------------------------------------------------------------------------------
    async def acall(self, fn: Callable[..., Awaitable[R]], /, *args: Any, **kwargs: Any) -> R:
        """Await ``fn(*args, **kwargs)`` under the breaker (see ``call`` for errors).

        The coroutine runs on the caller's event loop, bounded by the execution
        semaphore whatever the isolation. On timeout it is cancelled (or, with
        ``interrupt_on_timeout=False``, left running in the background).
        """
        if not self._fast_async:
            return cast(R, await self._call_async(fn, args, kwargs))
        permits = self._permits
        try:
            permits.pop()
        except IndexError:
            return cast(R, await self._call_async(fn, args, kwargs))
        conc = self._sem_limit - len(permits)
        clock = self._clock
        t0 = clock()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            t1 = clock()
            permits.append(None)
            return cast(R, await self._async_error(exc, t0, t0, t1, conc, False, args, kwargs))
        t1 = clock()
        permits.append(None)
        lat = t1 - t0
        if lat > self._slow or t1 >= self._next_fold:
            self._after_ok(t1, lat, conc)
        else:
            self._ok(lat)
            if conc > self._peak:
                self._peak = conc
        return result

    async def _async_error(
        self,
        exc: BaseException,
        start: float,
        t0: float,
        t1: float,
        conc: int,
        trial: bool,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        kind, slow, trial_result = self._raised(exc, start, t1 - t0, conc, trial)
        if kind is not Event.FAILURE:
            raise exc
        return await self._fail_async(
            FailureType.COMMAND_EXCEPTION,
            exc,
            [Event.FAILURE],
            start,
            t1 - t0,
            conc,
            slow,
            trial_result,
            args,
            kwargs,
        )

    async def _call_async(
        self, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        clock = self._clock
        start = clock()
        policy = self._policy
        adm = self._admit(start)
        if adm is Admission.REJECT:
            return await self._fail_async(
                FailureType.SHORTCIRCUIT,
                None,
                [Event.SHORT_CIRCUITED],
                start,
                None,
                0,
                False,
                None,
                args,
                kwargs,
            )
        trial = adm is Admission.TRIAL
        sem = self._sem
        if not sem.try_acquire():
            return await self._fail_async(
                FailureType.REJECTED_SEMAPHORE_EXECUTION,
                None,
                [Event.SEMAPHORE_REJECTED],
                start,
                None,
                sem.limit,
                False,
                _FAILED if trial else None,
                args,
                kwargs,
            )
        conc = sem.in_use
        timeout = policy.timeout
        t0 = clock()
        timed_out = False
        try:
            if timeout is None:
                result = await fn(*args, **kwargs)
            elif policy.interrupt_on_timeout:
                deadline = _Deadline(timeout)
                try:
                    result = await fn(*args, **kwargs)
                except asyncio.CancelledError:
                    if not deadline.done():
                        raise
                    timed_out = True
                else:
                    deadline.done()
            else:
                task = asyncio.ensure_future(fn(*args, **kwargs))
                done, _ = await asyncio.wait({task}, timeout=timeout)
                if task in done:
                    result = task.result()
                else:
                    timed_out = True
                    _ABANDONED.add(task)
                    task.add_done_callback(_ABANDONED.discard)
        except BaseException as exc:
            t1 = clock()
            sem.release()
            return await self._async_error(exc, start, t0, t1, conc, trial, args, kwargs)
        t1 = clock()
        sem.release()
        lat = t1 - t0
        if timed_out:
            return await self._fail_async(
                FailureType.TIMEOUT,
                None,
                [Event.TIMEOUT],
                start,
                lat,
                conc,
                lat > self._slow,
                _FAILED if trial else None,
                args,
                kwargs,
            )
        self._succeeded(t1, lat, t1 - start, conc, trial)
        return result

    # -- decorator ---------------------------------------------------------------------------
    @overload
    def __call__(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]: ...

    @overload
    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]: ...

    def __call__(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        """Decorate a function or coroutine function so every call goes through the breaker."""
        br = self
        if inspect.iscoroutinefunction(fn):
            afn = cast(Callable[..., Awaitable[Any]], fn)

            @functools.wraps(fn)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                # Same body as ``acall``, inlined: one frame less on the hot path.
                if not br._fast_async:
                    return await br._call_async(afn, args, kwargs)
                permits = br._permits
                try:
                    permits.pop()
                except IndexError:
                    return await br._call_async(afn, args, kwargs)
                conc = br._sem_limit - len(permits)
                clock = br._clock
                t0 = clock()
                try:
                    result = await afn(*args, **kwargs)
                except BaseException as exc:
                    t1 = clock()
                    permits.append(None)
                    return await br._async_error(exc, t0, t0, t1, conc, False, args, kwargs)
                t1 = clock()
                permits.append(None)
                lat = t1 - t0
                if lat > br._slow or t1 >= br._next_fold:
                    br._after_ok(t1, lat, conc)
                else:
                    br._ok(lat)
                    if conc > br._peak:
                        br._peak = conc
                return result

            async_wrapper.breaker = br  # type: ignore[attr-defined]
            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            # Same body as ``call``, inlined: one frame less on the hot path.
            if not br._fast:
                return br._call_sync(fn, args, kwargs)
            permits = br._permits
            try:
                permits.pop()
            except IndexError:
                return br._call_sync(fn, args, kwargs)
            conc = br._sem_limit - len(permits)
            clock = br._clock
            t0 = clock()
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                t1 = clock()
                permits.append(None)
                return br._sync_error(exc, t0, t0, t1, conc, False, args, kwargs)
            t1 = clock()
            permits.append(None)
            lat = t1 - t0
            if lat > br._slow or t1 >= br._next_fold:
                br._after_ok(t1, lat, conc)
            else:
                br._ok(lat)
                if conc > br._peak:
                    br._peak = conc
            return result

        wrapper.breaker = br  # type: ignore[attr-defined]
        return wrapper

    # -- context manager ---------------------------------------------------------------------
    def _enter(self) -> _Entry:
        clock = self._clock
        start = clock()
        adm = self._admit(start)
        if adm is Admission.REJECT:
            self._settle(
                start,
                [Event.SHORT_CIRCUITED, Event.EXCEPTION_THROWN],
                None,
                0.0,
                0,
                False,
                None,
                None,
            )
            raise self._error_for(FailureType.SHORTCIRCUIT, None)
        trial = adm is Admission.TRIAL
        sem = self._sem
        if not sem.try_acquire():
            self._settle(
                start,
                [Event.SEMAPHORE_REJECTED, Event.EXCEPTION_THROWN],
                None,
                0.0,
                sem.limit,
                False,
                _FAILED if trial else None,
                None,
            )
            raise self._error_for(FailureType.REJECTED_SEMAPHORE_EXECUTION, None)
        entry = _Entry(self, start, clock(), sem.in_use, trial, sem)
        _ENTRIES.set((*_ENTRIES.get(), entry))
        return entry

    def _pop_entry(self) -> _Entry:
        stack = _ENTRIES.get()
        for i in range(len(stack) - 1, -1, -1):
            if stack[i].breaker is self:
                _ENTRIES.set(stack[:i] + stack[i + 1 :])
                return stack[i]
        raise RuntimeError(f"breaker {self.name!r}: exit without matching enter")

    def _exit(self, entry: _Entry, exc: BaseException | None, timed_out: bool) -> None:
        t1 = self._clock()
        entry.semaphore.release()
        lat = t1 - entry.t0
        total = t1 - entry.start
        trial = entry.trial
        timeout = self._policy.timeout
        if exc is None and not timed_out and timeout is not None and lat > timeout:
            timed_out = True  # a sync block cannot be interrupted: late, so discarded
        if timed_out:
            self._settle(
                t1,
                [Event.TIMEOUT, Event.EXCEPTION_THROWN],
                lat,
                total,
                entry.concurrency,
                lat > self._slow,
                _FAILED if trial else None,
                exc,
            )
            raise self._error_for(FailureType.TIMEOUT, exc)
        if exc is None:
            self._settle(
                t1,
                [Event.SUCCESS],
                lat,
                total,
                entry.concurrency,
                lat > self._slow,
                _SUCCESS if trial else None,
                None,
            )
            return
        kind = self._classify(exc)
        if kind is Event.FAILURE:
            self._settle(
                t1,
                [Event.FAILURE, Event.EXCEPTION_THROWN],
                lat,
                total,
                entry.concurrency,
                lat > self._slow,
                _FAILED if trial else None,
                exc,
            )
        else:
            self._settle(
                t1,
                [kind],
                lat,
                total,
                entry.concurrency,
                False,
                _INCONCLUSIVE if trial else None,
                exc,
            )

    def __enter__(self) -> CircuitBreaker:
        """Guard a block: raises ``CircuitOpenError`` / ``SemaphoreRejected`` instead of
        entering. The block runs on the caller (semaphore isolation); with a timeout, a
        block that finishes late raises ``CallTimeout`` on exit. No fallback applies."""
        self._enter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit(self._pop_entry(), exc, False)

    async def __aenter__(self) -> CircuitBreaker:
        """Like ``__enter__``; with a timeout the block is really cancelled at the deadline."""
        entry = self._enter()
        timeout = self._policy.timeout
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
        entry = self._pop_entry()
        timed_out = False
        if entry.timeout_cm is not None:
            try:
                await entry.timeout_cm.__aexit__(exc_type, exc, tb)
            except TimeoutError:
                timed_out = True
                exc = None
        self._exit(entry, exc, timed_out)

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.name!r} {self._sm.status.value}>"


# Coroutines left running after a timeout with interrupt_on_timeout=False.
_ABANDONED: set[asyncio.Future[Any]] = set()
