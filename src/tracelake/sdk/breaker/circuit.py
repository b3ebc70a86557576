"""One breaker's books: circuit state, rolling numbers, permits and listeners, one lock.

Why an object of its own: every way into the breaker (decorator, ``call``/``acall``,
``with`` blocks, sync or async) records into the same books, so the bookkeeping lives
here once and the shells in ``shells.py`` / ``block.py`` only run code and read the
clock. The lock guards folding counters and moving the state machine, a few
microseconds at most; it is never held while the protected call runs.

The fast path reads four attributes without the lock: ``gate`` (the execution permits
when a call may skip every check, else an empty deque, so "may I take the fast path?"
and "is there a permit?" are one ``pop``), ``ok`` (append one latency to the lock-free
success log), ``low`` (fewest free permits seen since the last fold: the rolling
max-concurrency) and ``next_fold`` (when a success should fold the log and re-check
health; Hystrix re-checks every 500 ms, this every 50 ms).
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from tracelake.sdk.breaker.bulkhead import Semaphore, ThreadPoolBulkhead
from tracelake.sdk.breaker.directory import Directory
from tracelake.sdk.breaker.errors import BadRequest
from tracelake.sdk.breaker.events import (
    HEALTH_ERRORS,
    CallOutcome,
    Clock,
    Event,
    Listener,
    State,
    StateTransition,
)
from tracelake.sdk.breaker.policy import Isolation, Policy, ThreadPoolPolicy
from tracelake.sdk.breaker.state import Admission, CircuitStateMachine, Transition
from tracelake.sdk.breaker.window import CommandMetrics

log = logging.getLogger(__name__)

#: How often (breaker-clock seconds) a successful call folds the success log into the
#: buckets and re-checks health.
FOLD_INTERVAL = 0.05

#: What a finished trial call says about the dependency (``None``: it was no trial).
TRIAL_OK, TRIAL_INCONCLUSIVE, TRIAL_FAILED = "success", "inconclusive", "failed"

# The gate of a breaker whose calls must take the general path: never holds a permit.
_SHUT: deque[None] = deque()


class Circuit:
    """The books of one breaker (see the module docstring).

    Args:
        owner: The breaker events name as their source.
        name: Command key.
        group: Group key (the default thread-pool key).
        policy: Settings in force.
        clock: Monotonic seconds.
        directory: Where listeners and thread pools are shared, or None.
        fallback: The breaker's fallback (callable, value or ``NO_FALLBACK``).
        thread_pool_policy: Settings of the pool if this breaker creates it.
    """

    def __init__(
        self,
        owner: Any,
        name: str,
        group: str,
        policy: Policy,
        clock: Clock,
        directory: Directory | None,
        fallback: Any,
        thread_pool_policy: ThreadPoolPolicy | None,
    ) -> None:
        self.owner = owner
        self.name = name
        self.group = group
        self.clock = clock
        self.directory = directory
        self.fallback = fallback
        self.thread_pool_policy = thread_pool_policy
        self.lock = threading.Lock()
        self.listeners: list[tuple[Listener, bool]] = []
        self.call_listeners = False
        self.sm = CircuitStateMachine(policy)
        self.next_fold = -math.inf
        self.pool: ThreadPoolBulkhead | None = None
        self.in_pool = 0
        self.sem_limit = 0
        self.low = 0
        self.gate = self.agate = _SHUT
        self.apply(policy, rebuild_metrics=True)

    # -- configuration -------------------------------------------------------------------
    def apply(self, policy: Policy, *, rebuild_metrics: bool) -> None:
        """Put ``policy`` in force (lock held, or before the breaker is shared)."""
        self.policy = policy
        self.sm.policy = policy
        if rebuild_metrics:
            self.metrics = CommandMetrics(
                policy.rolling_window,
                policy.rolling_buckets,
                policy.percentile_window,
                policy.percentile_buckets,
                policy.percentile_enabled,
            )
            self.ok: Callable[[float], None] = self.metrics.pending.append
        peak = self.sem_limit - self.low
        self.sem = Semaphore(policy.max_concurrent_requests)
        self.sem_limit = policy.max_concurrent_requests
        self.low = self.sem_limit - peak
        self.fb_sem = Semaphore(policy.fallback_max_concurrent_requests)
        self.slow = math.inf if policy.slow_call_duration is None else policy.slow_call_duration
        self.ignored: tuple[type[BaseException], ...] = (BadRequest, *policy.ignore_exceptions)
        self.refresh()

    def refresh(self) -> None:
        """Open or shut the fast-path gates after any change of state, policy or listeners."""
        p = self.policy
        plain = self.sm.admits_fast() and not self.call_listeners and p.timeout is None
        permits = self.sem._permits
        self.agate = permits if plain else _SHUT
        self.gate = permits if plain and p.isolation is Isolation.SEMAPHORE else _SHUT

    @property
    def fast(self) -> bool:
        """True while sync calls take the lock-free fast path."""
        return self.gate is not _SHUT

    def listeners_changed(self) -> None:
        """Re-read who listens to calls (a per-call listener shuts the fast path)."""
        shared = self.directory.listeners() if self.directory is not None else []
        with self.lock:
            self.call_listeners = any(c for _, c in self.listeners) or any(c for _, c in shared)
            self.refresh()

    def thread_pool(self) -> ThreadPoolBulkhead:
        """The pool of the current key (created on first use; shared through the directory)."""
        key = self.policy.thread_pool_key or self.group
        pool = self.pool
        if pool is None or pool.key != key:
            if self.directory is not None:
                pool = self.directory.thread_pool(key, self.thread_pool_policy, self.clock)
            else:
                pool = ThreadPoolBulkhead(key, self.thread_pool_policy, self.clock)
            self.pool = pool
        return pool

    # -- listeners -----------------------------------------------------------------------
    def emit(self, transitions: list[Transition], outcome: CallOutcome | None) -> None:
        """Tell every listener (own and shared) of transitions and, if wanted, the call."""
        targets = list(self.listeners)
        if self.directory is not None:
            targets += self.directory.listeners()
        if not targets:
            return
        events: list[StateTransition | CallOutcome] = [
            StateTransition(self.owner, t.old, t.new, t.at, t.reason) for t in transitions
        ]
        for listener, calls in targets:
            for ev in events:
                _deliver(listener, ev)
            if outcome is not None and calls:
                _deliver(listener, outcome)

    # -- bookkeeping ---------------------------------------------------------------------
    def fold(self, now: float) -> None:
        """Fold the success log into the buckets (lock held)."""
        peak = max(self.sem_limit - self.low, 0)
        self.low = self.sem_limit
        m = self.metrics
        m.fold(now, peak)
        self.ok = m.pending.append

    def admit(self, now: float) -> Admission:
        """May a call run now? Hands out the half-open trial (and announces it)."""
        if self.sm.admits_fast():
            return Admission.ALLOW
        with self.lock:
            adm = self.sm.attempt(now)
            if adm is Admission.TRIAL:
                self.refresh()
        if adm is Admission.TRIAL:
            self.emit([Transition(State.OPEN, State.HALF_OPEN, now, "sleep_window_elapsed")], None)
        return adm

    def settle(
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
        with self.lock:
            m = self.metrics
            self.fold(t)
            m.record(t, events, exec_latency, total_latency, concurrency, slow)
            sm = self.sm
            if trial is not None:
                if trial == TRIAL_OK:
                    tr = sm.on_trial_success(t)
                    if tr is not None:
                        m.counts.reset_health()
                elif trial == TRIAL_FAILED:
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
                self.refresh()
        if transitions or self.call_listeners:
            outcome = None
            if self.call_listeners:
                outcome = CallOutcome(
                    self.owner, tuple(events), exec_latency, total_latency or 0.0, exc
                )
            self.emit(transitions, outcome)

    def after_ok(self, t1: float, lat: float, conc: int) -> None:
        """A fast-path success that was slow, or that crossed the fold interval."""
        if lat > self.slow:
            self.settle(t1, [Event.SUCCESS], lat, lat, conc, True, None, None)
            return
        left = self.sem_limit - conc
        if left < self.low:
            self.low = left
        # Push the deadline first (a benign race): other threads go back to the fast path
        # at once instead of queueing here while this one folds.
        self.next_fold = t1 + FOLD_INTERVAL
        if not self.lock.acquire(blocking=False):
            self.ok(lat)
            return  # somebody else holds the lock; fold next interval
        try:
            # Fold what came before, then log this call: it is stamped by the next fold.
            self.fold(t1)
            self.ok(lat)
            tr = self.sm.on_health(self.metrics.health(t1), t1)
            if tr is not None:
                self.refresh()
        finally:
            self.lock.release()
        if tr is not None:
            self.emit([tr], None)

    def succeeded(self, t1: float, lat: float, total: float, conc: int, trial: bool) -> None:
        """A general-path success: the lock-free log unless someone must hear of it."""
        if trial or self.call_listeners:
            self.settle(
                t1,
                [Event.SUCCESS],
                lat,
                total,
                conc,
                lat > self.slow,
                TRIAL_OK if trial else None,
                None,
            )
        elif lat > self.slow or t1 >= self.next_fold:
            self.after_ok(t1, lat, conc)
        else:
            self.ok(lat)
            left = self.sem_limit - conc
            if left < self.low:
                self.low = left


def _deliver(listener: Listener, event: StateTransition | CallOutcome) -> None:
    try:
        listener(event)
    except Exception:
        log.exception("breaker listener %r failed", listener)
