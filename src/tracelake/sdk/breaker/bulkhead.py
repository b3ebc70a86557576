"""Bulkheads: cap how much of the process one dependency may tie up.

Why hand-made: ``threading.Semaphore`` is written in Python around a Condition (about a
microsecond per acquire, and it can block), while Hystrix's semaphore is a non-blocking
try-acquire. A ``deque`` of permits gives exactly that with two atomic C calls
(``pop`` / ``append``), usable from threads and coroutines alike.
``concurrent.futures.ThreadPoolExecutor`` queues without bound and joins its threads at
interpreter exit -- a call abandoned after a timeout would then hang shutdown. Hystrix's
pool rejects instead of queueing (``maxQueueSize=-1``) and must never block exit, so the
pool here is small, bounded and runs daemon threads.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from queue import SimpleQueue
from typing import Any

from tracelake.sdk.breaker.events import Clock
from tracelake.sdk.breaker.policy import ThreadPoolPolicy
from tracelake.sdk.breaker.window import RollingCounts

_EXECUTED, _REJECTED = 0, 1


class Semaphore:
    """A non-blocking counting semaphore (Hystrix ``TryableSemaphore``), lock-free.

    Args:
        limit: Number of permits.
    """

    __slots__ = ("_permits", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._permits: deque[None] = deque([None] * limit)

    def try_acquire(self) -> bool:
        """Take a permit if one is free; never blocks."""
        try:
            self._permits.pop()
        except IndexError:
            return False
        return True

    def release(self) -> None:
        """Give a permit back."""
        self._permits.append(None)

    @property
    def in_use(self) -> int:
        """Permits currently taken (= concurrent executions)."""
        return self.limit - len(self._permits)


@dataclass(frozen=True, slots=True)
class ThreadPoolStats:
    """One pool's numbers, named after the ``HystrixThreadPool`` stream fields."""

    name: str
    current_active_count: int
    current_completed_task_count: int
    current_core_pool_size: int
    current_largest_pool_size: int
    current_maximum_pool_size: int
    current_pool_size: int
    current_queue_size: int
    current_task_count: int
    rolling_count_threads_executed: int
    rolling_max_active_threads: int
    rolling_count_command_rejections: int
    queue_size_rejection_threshold: int
    rolling_window_ms: int
    executed_total: int
    rejected_total: int


class _Job:
    __slots__ = ("args", "ctx", "fn", "future", "kwargs", "t0", "t1")

    def __init__(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.ctx = contextvars.copy_context()
        self.future: Future[Any] = Future()
        self.t0 = 0.0
        self.t1 = 0.0


class ThreadPoolBulkhead:
    """A bounded pool of daemon threads that rejects rather than queues (Hystrix THREAD).

    Calls run with a copy of the caller's ``contextvars`` (so tracing context follows).
    A call abandoned by a timeout keeps its thread until it returns: Python threads
    cannot be interrupted.

    Args:
        key: Thread-pool key (Hystrix: the group key unless overridden).
        policy: Size and queue settings.
        clock: Monotonic seconds, injectable for tests.
    """

    def __init__(
        self,
        key: str,
        policy: ThreadPoolPolicy | None = None,
        clock: Clock = time.perf_counter,
    ) -> None:
        self.key = key
        self.policy = policy or ThreadPoolPolicy()
        self._clock = clock
        self._lock = threading.Lock()
        self._queue: SimpleQueue[_Job | None] = SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._admitted = 0
        self._active = 0
        self._completed = 0
        self._submitted = 0
        self._closed = False
        self._counts = RollingCounts(
            self.policy.rolling_window, self.policy.rolling_buckets, n_events=2
        )

    def try_submit(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> _Job | None:
        """Hand ``fn(*args, **kwargs)`` to a thread, or return None if the pool is full."""
        policy = self.policy
        spawn: threading.Thread | None = None
        with self._lock:
            if self._closed:
                raise RuntimeError(f"thread pool {self.key!r} is shut down")
            if self._admitted >= policy.core_size + policy.queue_capacity:
                self._counts.add(self._clock(), _REJECTED)
                return None
            self._admitted += 1
            self._submitted += 1
            waiting = self._admitted - self._active
            if waiting > self._idle and len(self._threads) < policy.core_size:
                spawn = threading.Thread(
                    target=self._work,
                    name=f"breaker-{self.key}-{len(self._threads)}",
                    daemon=True,
                )
                self._threads.append(spawn)
                self._idle += 1
        job = _Job(fn, args, kwargs)
        self._queue.put(job)
        if spawn is not None:
            spawn.start()
        return job

    def _work(self) -> None:
        clock = self._clock
        while True:
            job = self._queue.get()
            if job is None:
                return
            with self._lock:
                self._idle -= 1
                self._active += 1
                active = self._active
            ran = job.future.set_running_or_notify_cancel()
            if ran:
                job.t0 = clock()
                try:
                    result = job.ctx.run(job.fn, *job.args, **job.kwargs)
                except BaseException as exc:
                    job.t1 = clock()
                    job.future.set_exception(exc)
                else:
                    job.t1 = clock()
                    job.future.set_result(result)
            with self._lock:
                self._active -= 1
                self._admitted -= 1
                self._idle += 1
                self._completed += 1
                if ran:
                    self._counts.add(job.t1, _EXECUTED, 1, active)

    def stats(self) -> ThreadPoolStats:
        """The pool's current and rolling numbers."""
        now = self._clock()
        with self._lock:
            sums = self._counts.sums(now)
            size = len(self._threads)
            return ThreadPoolStats(
                name=self.key,
                current_active_count=self._active,
                current_completed_task_count=self._completed,
                current_core_pool_size=self.policy.core_size,
                current_largest_pool_size=size,
                current_maximum_pool_size=self.policy.core_size,
                current_pool_size=size,
                current_queue_size=max(self._admitted - self._active, 0),
                current_task_count=self._submitted,
                rolling_count_threads_executed=sums[_EXECUTED],
                rolling_max_active_threads=self._counts.max_concurrency(now),
                rolling_count_command_rejections=sums[_REJECTED],
                queue_size_rejection_threshold=self.policy.queue_size_rejection_threshold,
                rolling_window_ms=int(self.policy.rolling_window * 1000),
                executed_total=self._counts.totals[_EXECUTED],
                rejected_total=self._counts.totals[_REJECTED],
            )

    @property
    def active(self) -> int:
        """Threads running a call right now."""
        return self._active

    def shutdown(self, wait: bool = False) -> None:
        """Stop the threads once they finish their current call; reject new calls."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)
        if wait:
            for t in threads:
                t.join()
