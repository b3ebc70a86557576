"""What a protected call raises when the breaker, not the function, decided the outcome.

Why separate classes instead of one ``HystrixRuntimeException``: Python callers catch by
type. Every class still carries Hystrix's ``failure_type`` and the breaker's name, so
code ported from Hystrix can switch on it. ``BadRequest`` is the other direction: a marker
the *protected function* raises to say "the caller's input was wrong, the dependency is
fine" (Hystrix's ``HystrixBadRequestException``).
"""

from __future__ import annotations

from tracelake.sdk.breaker.events import FailureType


class BadRequest(Exception):
    """Raise (or subclass) inside a protected call to mean "bad input, not a sick dependency".

    It is re-raised to the caller unchanged, the fallback is not run and it is not
    counted in the health counts (it is counted as ``BAD_REQUEST``). Other exception
    types can be given the same treatment with ``Policy.ignore_exceptions``.
    """


class BreakerError(Exception):
    """Base of the errors the breaker raises on its own account.

    Attributes:
        breaker: Name of the breaker.
        failure_type: Hystrix's reason for not returning the function's value.
    """

    failure_type: FailureType = FailureType.COMMAND_EXCEPTION

    def __init__(self, breaker: str, message: str) -> None:
        super().__init__(f"{breaker}: {message}")
        self.breaker = breaker


class CircuitOpenError(BreakerError):
    """The circuit is open (or half-open with its trial call in flight): call short-circuited."""

    failure_type = FailureType.SHORTCIRCUIT


class SemaphoreRejected(BreakerError):
    """All ``max_concurrent_requests`` permits of the execution semaphore were taken."""

    failure_type = FailureType.REJECTED_SEMAPHORE_EXECUTION


class ThreadPoolRejected(BreakerError):
    """The breaker's thread pool had no free thread (and no queue room)."""

    failure_type = FailureType.REJECTED_THREAD_EXECUTION


class CallTimeout(BreakerError, TimeoutError):
    """The protected call did not finish within ``Policy.timeout``."""

    failure_type = FailureType.TIMEOUT


class FallbackRejected(BreakerError):
    """The call failed and all fallback permits were taken (``FALLBACK_REJECTION``)."""

    failure_type = FailureType.REJECTED_SEMAPHORE_FALLBACK


class FallbackFailed(BreakerError):
    """The call failed and then its fallback raised; ``__cause__`` is the fallback's error.

    Attributes:
        failure_type: Why the fallback was needed in the first place.
        original: The exception of the protected call, if it raised one.
    """

    def __init__(
        self, breaker: str, failure_type: FailureType, original: BaseException | None
    ) -> None:
        super().__init__(breaker, f"{failure_type.value} and fallback failed")
        self.failure_type = failure_type
        self.original = original
