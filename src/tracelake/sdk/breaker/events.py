"""The vocabulary of the breaker: event types, circuit states, failure types, listener events.

Why a module of its own: the window, the state machine, the breaker, the stream and the
Prometheus collector all speak in these terms, and none of them should import another
just to name an event. The names and order follow Hystrix (``HystrixEventType``,
``HystrixRuntimeException.FailureType``) so the stream maps one to one.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeAlias


class Event(enum.IntEnum):
    """What can happen to one call, as Hystrix counts it (``HystrixEventType``).

    ``SLOW_CALL`` is not Hystrix: it is Resilience4j's "slow call" (execution latency
    above ``Policy.slow_call_duration``) and is counted only when that option is on.
    """

    EMIT = 0
    SUCCESS = 1
    FAILURE = 2
    TIMEOUT = 3
    BAD_REQUEST = 4
    SHORT_CIRCUITED = 5
    THREAD_POOL_REJECTED = 6
    SEMAPHORE_REJECTED = 7
    FALLBACK_EMIT = 8
    FALLBACK_SUCCESS = 9
    FALLBACK_FAILURE = 10
    FALLBACK_REJECTION = 11
    FALLBACK_DISABLED = 12
    FALLBACK_MISSING = 13
    EXCEPTION_THROWN = 14
    RESPONSE_FROM_CACHE = 15
    CANCELLED = 16
    COLLAPSED = 17
    COMMAND_MAX_ACTIVE = 18
    SLOW_CALL = 19


N_EVENTS = len(Event)

#: Events that count in the health total (``HealthCounts``): the breaker looks at these.
HEALTH_TOTAL = frozenset(
    {
        Event.SUCCESS,
        Event.FAILURE,
        Event.TIMEOUT,
        Event.THREAD_POOL_REJECTED,
        Event.SEMAPHORE_REJECTED,
    }
)
#: Events that count as errors in the health counts.
HEALTH_ERRORS = HEALTH_TOTAL - {Event.SUCCESS}
#: Calls that actually ran the protected function (denominator of the slow-call rate).
EXECUTED = frozenset({Event.SUCCESS, Event.FAILURE, Event.TIMEOUT})


class State(enum.Enum):
    """The circuit's own state (``HystrixCircuitBreakerImpl.Status``)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class FailureType(enum.Enum):
    """Why a call did not return the protected function's value (Hystrix ``FailureType``)."""

    COMMAND_EXCEPTION = "command_exception"
    TIMEOUT = "timeout"
    SHORTCIRCUIT = "shortcircuit"
    REJECTED_THREAD_EXECUTION = "rejected_thread_execution"
    REJECTED_SEMAPHORE_EXECUTION = "rejected_semaphore_execution"
    REJECTED_SEMAPHORE_FALLBACK = "rejected_semaphore_fallback"
    BAD_REQUEST_EXCEPTION = "bad_request_exception"


class Breaker(Protocol):
    """What a listener's event says of its breaker (it is the ``CircuitBreaker`` itself).

    A protocol rather than the class, so this vocabulary imports nothing of the breaker
    that speaks it.
    """

    name: str
    group: str

    @property
    def state(self) -> State: ...

    @property
    def is_open(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class StateTransition:
    """The circuit moved from one state to another.

    Attributes:
        breaker: The breaker whose circuit moved.
        old: State before.
        new: State after.
        at: Breaker clock time (monotonic seconds) of the transition.
        reason: ``"error_rate"``, ``"slow_call_rate"``, ``"sleep_window_elapsed"``,
            ``"trial_succeeded"``, ``"trial_failed"`` or ``"reset"``.
    """

    breaker: Breaker
    old: State
    new: State
    at: float
    reason: str


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """One call finished; ``events`` are all the Hystrix events it produced, in order.

    Attributes:
        breaker: The breaker that protected the call.
        events: E.g. ``(Event.FAILURE, Event.FALLBACK_SUCCESS)``.
        execution_latency: Seconds spent in the protected function, or None if it never ran.
        total_latency: Seconds from entering the breaker to leaving it (fallback included).
        exception: What the protected function raised, if anything.
    """

    breaker: Breaker
    events: tuple[Event, ...]
    execution_latency: float | None
    total_latency: float
    exception: BaseException | None


BreakerEvent: TypeAlias = StateTransition | CallOutcome
#: A listener is any callable taking a ``StateTransition`` or a ``CallOutcome``.
Listener: TypeAlias = Callable[[BreakerEvent], None]
#: An injected clock: a callable returning monotonic seconds.
Clock: TypeAlias = Callable[[], float]
