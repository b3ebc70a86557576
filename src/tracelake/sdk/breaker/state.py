"""Hystrix's circuit state machine, sans-IO: decisions only, time passed in.

Why sans-IO: the rules (trip at volume and error rate, one trial after the sleep window,
close on its success, reopen on its failure) are the part worth testing exhaustively, and
with the time passed in as a number they are tested without sleeping or threads. The
breaker owns the clock and the lock and calls in here; this class never blocks, never
reads a clock and never calls out.

Rules (``HystrixCircuitBreakerImpl``, 1.5.12+):

* CLOSED -> OPEN when ``health.total >= request_volume_threshold`` and
  ``health.error_percentage >= error_threshold_percentage`` (or, if enabled, the
  slow-call percentage reaches its threshold -- Resilience4j's extra rule).
* OPEN -> HALF_OPEN for exactly one caller once ``now > opened_at + sleep_window``
  (strictly greater); every other caller is rejected while that trial runs.
* HALF_OPEN -> CLOSED when the trial succeeds (the owner then resets the health counts),
  HALF_OPEN -> OPEN with a fresh ``opened_at`` when it fails, times out or is rejected.
* ``force_open`` rejects all, ``force_closed`` admits all; neither stops the underlying
  state from moving, exactly as in Hystrix. ``enabled=False`` admits all and never trips.

Deliberate tightening: only the trial's own outcome moves HALF_OPEN; a straggler call
admitted while CLOSED that finishes during the trial does not (Hystrix lets any
success close the circuit). A trial that ends in a bad request or is cancelled says
nothing about the dependency, so the circuit goes back to OPEN *without* a new sleep
window and the next caller becomes the trial.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tracelake.sdk.breaker.events import State
from tracelake.sdk.breaker.policy import Policy
from tracelake.sdk.breaker.window import HealthCounts


class Admission(enum.IntEnum):
    """The answer to "may this call run?"."""

    ALLOW = 0
    TRIAL = 1
    REJECT = 2


@dataclass(frozen=True, slots=True)
class Transition:
    """A state change the owner should announce to listeners."""

    old: State
    new: State
    at: float
    reason: str


class CircuitStateMachine:
    """The circuit of one breaker. Not thread-safe: the owner holds its lock around calls.

    Args:
        policy: Thresholds and forced flags; the owner may swap it at any time.
    """

    __slots__ = ("opened_at", "policy", "status")

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.status = State.CLOSED
        self.opened_at: float | None = None

    def admits_fast(self) -> bool:
        """True when every call is admitted without asking (closed, forced closed, off)."""
        p = self.policy
        if p.force_open:
            return False
        return p.force_closed or not p.enabled or self.status is State.CLOSED

    def is_open(self) -> bool:
        """Hystrix ``isOpen()``: forced open, or OPEN/HALF_OPEN and not forced closed."""
        p = self.policy
        if p.force_open:
            return True
        if p.force_closed or not p.enabled:
            return False
        return self.status is not State.CLOSED

    def attempt(self, now: float) -> Admission:
        """Hystrix ``attemptExecution()``: not idempotent, the single trial is handed out here."""
        p = self.policy
        if p.force_open:
            return Admission.REJECT
        if p.force_closed or not p.enabled or self.status is State.CLOSED:
            return Admission.ALLOW
        if (
            self.status is State.OPEN
            and self.opened_at is not None
            and now > self.opened_at + p.sleep_window
        ):
            self.status = State.HALF_OPEN
            return Admission.TRIAL
        return Admission.REJECT

    def on_health(self, health: HealthCounts, now: float) -> Transition | None:
        """Trip if the rolling health crosses a threshold (only from CLOSED)."""
        p = self.policy
        if not p.enabled or self.status is not State.CLOSED:
            return None
        if health.total < p.request_volume_threshold:
            return None
        if health.error_percentage >= p.error_threshold_percentage and health.errors > 0:
            reason = "error_rate"
        elif (
            p.slow_call_duration is not None
            and health.slow > 0
            and health.slow_percentage >= p.slow_call_rate_threshold
        ):
            reason = "slow_call_rate"
        else:
            return None
        self.status = State.OPEN
        self.opened_at = now
        return Transition(State.CLOSED, State.OPEN, now, reason)

    def on_trial_success(self, now: float) -> Transition | None:
        """The trial call succeeded: close (the owner resets health counts)."""
        if self.status is not State.HALF_OPEN:
            return None
        self.status = State.CLOSED
        self.opened_at = None
        return Transition(State.HALF_OPEN, State.CLOSED, now, "trial_succeeded")

    def on_trial_failure(self, now: float) -> Transition | None:
        """The trial failed, timed out or was rejected: reopen for a new sleep window."""
        if self.status is not State.HALF_OPEN:
            return None
        self.status = State.OPEN
        self.opened_at = now
        return Transition(State.HALF_OPEN, State.OPEN, now, "trial_failed")

    def on_trial_inconclusive(self, now: float) -> Transition | None:
        """The trial was a bad request or cancelled: back to OPEN, keep the old window."""
        if self.status is not State.HALF_OPEN:
            return None
        self.status = State.OPEN
        return Transition(State.HALF_OPEN, State.OPEN, now, "trial_inconclusive")

    def reset(self, now: float) -> Transition | None:
        """Close unconditionally (operator action)."""
        if self.status is State.CLOSED:
            return None
        old = self.status
        self.status = State.CLOSED
        self.opened_at = None
        return Transition(old, State.CLOSED, now, "reset")
