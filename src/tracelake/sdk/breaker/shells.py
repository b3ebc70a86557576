"""The thin sync and async shells that run protected code through the breaker's flow.

Why shaped like this: the decisions are made once, in ``attempt.py``; a shell only runs
the code, reads the clock and (for coroutines) awaits. Each flavour has one fast path,
``sync_shell`` / ``async_shell``: a closure over the breaker's books that a decorator
returns for its function and ``call`` / ``acall`` use with ``operator.call`` as the
function (it calls its first argument, in C), so every way in costs one Python frame.
When the circuit is closed, there is no timeout and no per-call listener (and, for sync
code, isolation is a semaphore), a call costs two clock reads, a lock-free permit and
one append to the lock-free success log (see ``circuit.py``). Everything else takes the
general path: circuit -> semaphore / thread pool -> timeout -> run -> fallback.
"""

from __future__ import annotations

import asyncio
import inspect
import operator
from collections.abc import Awaitable, Callable
from typing import Any

from tracelake.sdk.breaker.attempt import Attempt, Failure
from tracelake.sdk.breaker.circuit import TRIAL_OK, Circuit
from tracelake.sdk.breaker.deadline import ABANDONED, Deadline
from tracelake.sdk.breaker.events import Event
from tracelake.sdk.breaker.policy import Isolation

Args = tuple[Any, ...]
Kwargs = dict[str, Any]


def _unpack(target: Callable[..., Any], args: Args) -> tuple[Callable[..., Any], Args]:
    """The function and its arguments (``call``/``acall`` pass the function first)."""
    if target is not operator.call:
        return target, args
    if not args:
        raise TypeError("call() / acall() need the function to run as first argument")
    return args[0], args[1:]


# -- sync ---------------------------------------------------------------------------------
def sync_shell(c: Circuit, fn: Callable[..., Any] | None) -> Callable[..., Any]:
    """The sync entry: runs ``fn`` (or, if None, the callable passed first)."""
    target: Callable[..., Any] = operator.call if fn is None else fn

    def shell(*args: Any, **kwargs: Any) -> Any:
        permits = c.gate
        if not permits:  # gate shut or no permit: the general path decides
            return general_sync(c, target, args, kwargs)
        try:
            permits.pop()
        except IndexError:  # another thread took the last permit
            return general_sync(c, target, args, kwargs)
        left = len(permits)
        clock = c.clock
        t0 = clock()
        try:
            result = target(*args, **kwargs)
        except BaseException as exc:
            t1 = clock()
            permits.append(None)
            return failed_sync(Attempt(c, t0, c.sem_limit - left), exc, t1, target, args, kwargs)
        t1 = clock()
        permits.append(None)
        lat = t1 - t0
        if lat > c.slow or t1 >= c.next_fold:
            c.after_ok(t1, lat, c.sem_limit - left)
        else:
            c.ok(lat)
            if left < c.low:
                c.low = left
        return result

    return shell


def failed_sync(
    at: Attempt,
    exc: BaseException,
    t1: float,
    target: Callable[..., Any],
    args: Args,
    kwargs: Kwargs,
) -> Any:
    """A fast-path call raised ``exc`` at ``t1``."""
    _, args = _unpack(target, args)
    failure = at.raised(exc, t1 - at.t0)
    if failure is None:
        raise exc
    return fallback_sync(failure, args, kwargs)


def general_sync(c: Circuit, target: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
    """The full Hystrix flow for sync code."""
    fn, args = _unpack(target, args)
    clock = c.clock
    at = Attempt(c, clock())
    policy = c.policy
    thread = policy.isolation is Isolation.THREAD
    failure = at.admit(semaphore=not thread)
    if failure is not None:
        return fallback_sync(failure, args, kwargs)
    if thread:
        return in_pool(at, fn, args, kwargs, policy.timeout)
    sem = c.sem if at.sem is None else at.sem
    at.t0 = clock()
    try:
        result = fn(*args, **kwargs)
    except BaseException as exc:
        t1 = clock()
        sem.release()
        failure = at.raised(exc, t1 - at.t0)
        if failure is None:
            raise
        return fallback_sync(failure, args, kwargs)
    t1 = clock()
    sem.release()
    failure = at.returned(t1, policy.timeout)
    if failure is None:
        return result
    return fallback_sync(failure, args, kwargs)


def in_pool(
    at: Attempt, fn: Callable[..., Any], args: Args, kwargs: Kwargs, timeout: float | None
) -> Any:
    """THREAD isolation: run on the pool, wait at most ``timeout``, abandon a late call."""
    c = at.c
    job = c.thread_pool().try_submit(fn, args, kwargs)
    if job is None:
        return fallback_sync(at.pool_rejected(), args, kwargs)
    with c.lock:
        c.in_pool += 1
        at.concurrency = c.sem.in_use + c.in_pool
    fut = job.future
    try:
        try:
            result = fut.result(timeout=timeout)
        except BaseException as exc:
            failed_itself = fut.done() and not fut.cancelled() and fut.exception() is exc
            if not failed_itself:
                if not isinstance(exc, TimeoutError):
                    raise  # the *caller* was interrupted (KeyboardInterrupt)
                fut.cancel()  # succeeds only if it never started; else it is abandoned
                return fallback_sync(at.timed_out(c.clock() - at.start), args, kwargs)
            at.t0 = job.t0
            failure = at.raised(exc, job.t1 - job.t0)
            if failure is None:
                raise
            return fallback_sync(failure, args, kwargs)
    finally:
        with c.lock:
            c.in_pool -= 1
    end = c.clock()
    lat = job.t1 - job.t0
    c.settle(
        end,
        [Event.SUCCESS],
        lat,
        end - at.start,
        at.concurrency,
        lat > c.slow,
        TRIAL_OK if at.trial else None,
        None,
    )
    return result


def fallback_sync(failure: Failure, args: Args, kwargs: Kwargs) -> Any:
    """Run the fallback with the call's arguments, or raise what the caller gets."""
    fb = failure.fallback()
    try:
        value = fb(*args, **kwargs) if callable(fb) else fb
    except Exception as fexc:
        error = failure.fallback_failed(fexc)
    except BaseException:
        failure.release()
        raise
    else:
        return failure.fallback_returned(value)
    raise error


# -- async --------------------------------------------------------------------------------
def async_shell(
    c: Circuit, fn: Callable[..., Awaitable[Any]] | None
) -> Callable[..., Awaitable[Any]]:
    """The async entry: awaits ``fn`` (or, if None, the coroutine function passed first).

    Coroutines run on the caller's loop, bounded by the execution semaphore whatever the
    isolation, so only the circuit, the timeout and listeners shut this gate.
    """
    target: Callable[..., Any] = operator.call if fn is None else fn

    async def shell(*args: Any, **kwargs: Any) -> Any:
        permits = c.agate
        if not permits:  # (a raised IndexError would cost the general path 0.3 us)
            return await general_async(c, target, args, kwargs)
        try:
            permits.pop()
        except IndexError:
            return await general_async(c, target, args, kwargs)
        left = len(permits)
        clock = c.clock
        t0 = clock()
        try:
            result = await target(*args, **kwargs)
        except BaseException as exc:
            t1 = clock()
            permits.append(None)
            at = Attempt(c, t0, c.sem_limit - left)
            return await failed_async(at, exc, t1, target, args, kwargs)
        t1 = clock()
        permits.append(None)
        lat = t1 - t0
        if lat > c.slow or t1 >= c.next_fold:
            c.after_ok(t1, lat, c.sem_limit - left)
        else:
            c.ok(lat)
            if left < c.low:
                c.low = left
        return result

    return shell


async def failed_async(
    at: Attempt,
    exc: BaseException,
    t1: float,
    target: Callable[..., Any],
    args: Args,
    kwargs: Kwargs,
) -> Any:
    """A fast-path coroutine raised ``exc`` at ``t1``."""
    _, args = _unpack(target, args)
    failure = at.raised(exc, t1 - at.t0)
    if failure is None:
        raise exc
    return await fallback_async(failure, args, kwargs)


async def general_async(c: Circuit, target: Callable[..., Any], args: Args, kwargs: Kwargs) -> Any:
    """The full Hystrix flow for coroutines: the timeout cancels (or abandons) them."""
    fn, args = _unpack(target, args)
    clock = c.clock
    at = Attempt(c, clock())
    policy = c.policy
    failure = at.admit(semaphore=True)
    if failure is not None:
        return await fallback_async(failure, args, kwargs)
    sem = c.sem if at.sem is None else at.sem
    timeout = policy.timeout
    at.t0 = clock()
    timed_out = False
    try:
        if timeout is None:
            result = await fn(*args, **kwargs)
        elif policy.interrupt_on_timeout:
            deadline = Deadline(timeout)
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
                ABANDONED.add(task)
                task.add_done_callback(ABANDONED.discard)
    except BaseException as exc:
        t1 = clock()
        sem.release()
        failure = at.raised(exc, t1 - at.t0)
        if failure is None:
            raise
        return await fallback_async(failure, args, kwargs)
    t1 = clock()
    sem.release()
    if timed_out:
        return await fallback_async(at.timed_out(t1 - at.t0), args, kwargs)
    at.succeeded(t1)
    return result


async def fallback_async(failure: Failure, args: Args, kwargs: Kwargs) -> Any:
    """``fallback_sync`` that awaits a fallback returning an awaitable."""
    fb = failure.fallback()
    try:
        value = fb(*args, **kwargs) if callable(fb) else fb
        if inspect.isawaitable(value):
            value = await value
    except Exception as fexc:
        error = failure.fallback_failed(fexc)
    except BaseException:
        failure.release()
        raise
    else:
        return failure.fallback_returned(value)
    raise error
