"""One call's way through the breaker, the same for sync and async callers.

Why here, apart from the shells: Hystrix's flow -- circuit, bulkhead, timeout, run,
classify the outcome, fallback -- is one set of decisions, whatever runs the code. An
``Attempt`` takes those decisions and records them in the books (``Circuit``); the
sync and async shells (``shells.py``, ``block.py``) only run the protected code, read
the clock and await. So a scripted outcome produces the same events whichever shell
drove it. A ``Failure`` is what the flow hands back when the call did not produce a
value: the shell then runs the fallback it is given (``fallback()``) and reports how that
went (``fallback_returned`` / ``fallback_failed``), or gives up (``give_up``).
"""

from __future__ import annotations

from typing import Any, NoReturn

from tracelake.sdk.breaker.bulkhead import Semaphore
from tracelake.sdk.breaker.circuit import TRIAL_FAILED, TRIAL_INCONCLUSIVE, Circuit
from tracelake.sdk.breaker.errors import (
    BreakerError,
    CallTimeout,
    CircuitOpenError,
    FallbackFailed,
    FallbackRejected,
    SemaphoreRejected,
    ThreadPoolRejected,
)
from tracelake.sdk.breaker.events import Event, FailureType
from tracelake.sdk.breaker.state import Admission


class _NoFallback:
    def __repr__(self) -> str:
        return "NO_FALLBACK"


#: Sentinel: the breaker has no fallback (Hystrix ``FALLBACK_MISSING``).
NO_FALLBACK: Any = _NoFallback()


class Attempt:
    """One call, from entering the breaker to its recorded outcome.

    Attributes:
        start: Breaker-clock time the call entered the breaker.
        t0: When the protected code started (set by the shell).
        trial: The call is the half-open trial.
        concurrency: Calls running when this one started.
        sem: The execution permit's semaphore, once one is held.
    """

    __slots__ = ("c", "concurrency", "sem", "start", "t0", "trial")

    def __init__(self, c: Circuit, start: float, concurrency: int = 0) -> None:
        self.c = c
        self.start = start
        self.t0 = start
        self.trial = False
        self.concurrency = concurrency
        self.sem: Semaphore | None = None

    @property
    def failed_trial(self) -> str | None:
        """What this call's failure says about a trial."""
        return TRIAL_FAILED if self.trial else None

    def admit(self, *, semaphore: bool) -> Failure | None:
        """Ask the circuit, then (if ``semaphore``) take an execution permit."""
        c = self.c
        adm = c.admit(self.start)
        if adm is Admission.REJECT:
            return Failure(self, FailureType.SHORTCIRCUIT, Event.SHORT_CIRCUITED, None, None, 0)
        self.trial = adm is Admission.TRIAL
        if semaphore:
            sem = c.sem
            if not sem.try_acquire():
                return Failure(
                    self,
                    FailureType.REJECTED_SEMAPHORE_EXECUTION,
                    Event.SEMAPHORE_REJECTED,
                    None,
                    None,
                    sem.limit,
                    trial=self.failed_trial,
                )
            self.sem = sem
            self.concurrency = sem.in_use
        return None

    def pool_rejected(self) -> Failure:
        """The thread pool had no room."""
        return Failure(
            self,
            FailureType.REJECTED_THREAD_EXECUTION,
            Event.THREAD_POOL_REJECTED,
            None,
            None,
            0,
            trial=self.failed_trial,
        )

    def returned(self, t1: float, timeout: float | None) -> Failure | None:
        """The code returned at ``t1``; a result later than ``timeout`` is discarded
        (semaphore isolation cannot interrupt, Hystrix returns TIMEOUT)."""
        lat = t1 - self.t0
        if timeout is not None and lat > timeout:
            return self.timed_out(lat)
        self.succeeded(t1)
        return None

    def succeeded(self, t1: float) -> None:
        """The code returned at ``t1`` in time."""
        self.c.succeeded(t1, t1 - self.t0, t1 - self.start, self.concurrency, self.trial)

    def timed_out(self, latency: float) -> Failure:
        """The code ran past the timeout (``latency``: how long it was waited for)."""
        return Failure(
            self,
            FailureType.TIMEOUT,
            Event.TIMEOUT,
            None,
            latency,
            self.concurrency,
            slow=latency > self.c.slow,
            trial=self.failed_trial,
        )

    def raised(self, exc: BaseException, latency: float) -> Failure | None:
        """The code raised ``exc``: a failure for the fallback, or None when ``exc`` is a
        bad request or a cancellation (recorded here; the caller re-raises it)."""
        c = self.c
        kind = classify(c, exc)
        if kind is Event.FAILURE:
            return Failure(
                self,
                FailureType.COMMAND_EXCEPTION,
                Event.FAILURE,
                exc,
                latency,
                self.concurrency,
                slow=latency > c.slow,
                trial=self.failed_trial,
            )
        end = c.clock()
        # a bad request reaches the caller as an exception: Hystrix counts it among the
        # exceptions thrown (EXCEPTION_PRODUCING_EVENT_TYPES); a cancellation is not one
        c.settle(
            end,
            [kind, Event.EXCEPTION_THROWN] if kind is Event.BAD_REQUEST else [kind],
            latency,
            end - self.start,
            self.concurrency,
            False,
            TRIAL_INCONCLUSIVE if self.trial else None,
            exc,
        )
        return None


class Failure:
    """A call that produced no value of its own, waiting for its fallback."""

    __slots__ = ("attempt", "cause", "concurrency", "event", "ftype", "latency", "slow", "trial")

    def __init__(
        self,
        attempt: Attempt,
        ftype: FailureType,
        event: Event,
        cause: BaseException | None,
        latency: float | None,
        concurrency: int,
        *,
        slow: bool = False,
        trial: str | None = None,
    ) -> None:
        self.attempt = attempt
        self.ftype = ftype
        self.event = event
        self.cause = cause
        self.latency = latency
        self.concurrency = concurrency
        self.slow = slow
        self.trial = trial

    def error(self) -> BaseException:
        """What the caller gets without a fallback."""
        return error_for(self.attempt.c, self.ftype, self.cause)

    def fallback(self) -> Any:
        """The fallback to run now (holding a fallback permit); gives up when there is
        none: disabled, missing, or no permit left."""
        c = self.attempt.c
        if not c.policy.fallback_enabled:
            self.give_up(Event.FALLBACK_DISABLED, self.error())
        if c.fallback is NO_FALLBACK:
            self.give_up(Event.FALLBACK_MISSING, self.error())
        if not c.fb_sem.try_acquire():
            err = FallbackRejected(c.name, f"{self.ftype.value} and fallback rejected")
            err.__cause__ = self.cause
            self.give_up(Event.FALLBACK_REJECTION, err)
        return c.fallback

    def release(self) -> None:
        """Give the fallback permit back (the fallback was interrupted)."""
        self.attempt.c.fb_sem.release()

    def fallback_returned(self, value: Any) -> Any:
        """The fallback gave ``value``: record FALLBACK_SUCCESS and pass it on."""
        self.release()
        self._settle([self.event, Event.FALLBACK_SUCCESS])
        return value

    def fallback_failed(self, fexc: Exception) -> BaseException:
        """The fallback raised ``fexc``: record it; returns the error for the caller."""
        self.release()
        error = FallbackFailed(self.attempt.c.name, self.ftype, self.cause)
        error.__cause__ = fexc
        self.thrown(Event.FALLBACK_FAILURE)
        return error

    def give_up(
        self, event: Event | None, error: BaseException, *, total: float | None = None
    ) -> NoReturn:
        """Record the failure (``event``: what became of the fallback) and raise ``error``."""
        self.thrown(event, total=total)
        raise error

    def thrown(self, event: Event | None = None, *, total: float | None = None) -> None:
        """Record the failure as reaching the caller as an exception (EXCEPTION_THROWN).

        Args:
            event: What became of the fallback, if one was considered.
            total: Total latency to record instead of the time since the call started.
        """
        events = [self.event] if event is None else [self.event, event]
        self._settle([*events, Event.EXCEPTION_THROWN], total)

    def _settle(self, events: list[Event], total: float | None = None) -> None:
        at = self.attempt
        c = at.c
        end = c.clock()
        c.settle(
            end,
            events,
            self.latency,
            end - at.start if total is None else total,
            self.concurrency,
            self.slow,
            self.trial,
            self.cause,
        )


def classify(c: Circuit, exc: BaseException) -> Event:
    """How an exception of the protected code counts."""
    if isinstance(exc, c.ignored):
        return Event.BAD_REQUEST
    if not isinstance(exc, Exception):  # CancelledError, KeyboardInterrupt, SystemExit
        return Event.CANCELLED
    return Event.FAILURE


def error_for(c: Circuit, ftype: FailureType, cause: BaseException | None) -> BaseException:
    """The exception the caller gets for ``ftype`` (the call's own for a failure)."""
    err: BreakerError
    if ftype is FailureType.COMMAND_EXCEPTION and cause is not None:
        return cause
    if ftype is FailureType.SHORTCIRCUIT:
        err = CircuitOpenError(c.name, "circuit open, call short-circuited")
    elif ftype is FailureType.REJECTED_SEMAPHORE_EXECUTION:
        err = SemaphoreRejected(c.name, f"all {c.sem_limit} execution permits taken")
    elif ftype is FailureType.REJECTED_THREAD_EXECUTION:
        key = c.policy.thread_pool_key or c.group
        err = ThreadPoolRejected(c.name, f"thread pool {key!r} full")
    else:
        err = CallTimeout(c.name, f"timed out after {c.policy.timeout} s")
    err.__cause__ = cause
    return err
