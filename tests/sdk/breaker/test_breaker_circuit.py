"""The breaker end to end on a fake clock: Hystrix's circuit rules through real calls."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tracelake.sdk.breaker import (
    BadRequest,
    CircuitOpenError,
    Event,
    State,
    StateTransition,
)

from .conftest import FakeClock, boom, ok, run


def test_hystrix_trips_at_request_volume_and_error_percentage(make: Any) -> None:
    b = make()
    for _ in range(10):
        assert run(b) == "ok"
    for _ in range(9):
        assert isinstance(run(b, boom), ConnectionError)
    assert b.state is State.CLOSED  # 19 calls: below requestVolumeThreshold
    assert isinstance(run(b, boom), ConnectionError)  # 20 calls, 50 %
    assert b.state is State.OPEN and b.is_open
    h = b.health()
    assert (h.total, h.errors, h.error_percentage) == (20, 10, 50)


def test_hystrix_below_error_threshold_stays_closed(make: Any) -> None:
    b = make()
    for _ in range(11):
        run(b)
    for _ in range(9):
        run(b, boom)  # 9 / 20 = 45 %
    assert b.state is State.CLOSED
    for _ in range(100):
        run(b)
    assert b.state is State.CLOSED


def test_hystrix_health_rechecked_on_successes_at_each_tick(make: Any, clock: FakeClock) -> None:
    b = make()
    for _ in range(10):
        run(b, boom)  # only 10 calls when the last failure was judged
    for _ in range(10):
        run(b)
    assert b.state is State.CLOSED
    clock.advance(0.05)  # the periodic health check (Hystrix: every 500 ms)
    run(b)
    assert b.state is State.OPEN


def test_hystrix_short_circuits_while_open(make: Any) -> None:
    b = make(request_volume_threshold=1)
    run(b, boom)
    calls: list[int] = []
    out = run(b, lambda: calls.append(1))
    assert isinstance(out, CircuitOpenError) and calls == []
    snap = b.snapshot()
    assert snap.rolling[Event.SHORT_CIRCUITED] == 1
    assert snap.health.total == 1  # short-circuits are not in health counts


def test_hystrix_single_trial_in_half_open(make: Any, clock: FakeClock) -> None:
    b = make(request_volume_threshold=1, sleep_window=5.0)
    run(b, boom)
    clock.advance(5.001)
    started, release = threading.Event(), threading.Event()

    def slow_trial() -> str:
        started.set()
        release.wait(5)
        return "trial"

    result: list[Any] = []
    t = threading.Thread(target=lambda: result.append(run(b, slow_trial)))
    t.start()
    assert started.wait(5)
    assert b.state is State.HALF_OPEN and b.is_open
    for _ in range(5):  # everyone else is short-circuited while the trial runs
        assert isinstance(run(b), CircuitOpenError)
    release.set()
    t.join(5)
    assert result == ["trial"]
    assert b.state is State.CLOSED


def test_hystrix_trial_success_closes_and_resets_health(make: Any, clock: FakeClock) -> None:
    b = make()
    for _ in range(20):
        run(b, boom)
    assert b.state is State.OPEN
    clock.advance(5.001)
    assert run(b) == "ok"
    assert b.state is State.CLOSED
    assert b.health().total == 0  # old errors must not re-trip it
    run(b, boom)
    assert b.state is State.CLOSED


def test_hystrix_trial_failure_reopens_for_a_new_sleep_window(make: Any, clock: FakeClock) -> None:
    b = make(request_volume_threshold=1)
    run(b, boom)
    clock.advance(5.001)
    assert isinstance(run(b, boom), ConnectionError)
    assert b.state is State.OPEN
    clock.advance(4.0)
    assert isinstance(run(b), CircuitOpenError)  # new window counts from the trial
    clock.advance(1.01)
    assert run(b) == "ok" and b.state is State.CLOSED


def test_hystrix_rolling_window_forgets_old_buckets(make: Any, clock: FakeClock) -> None:
    b = make()
    for _ in range(19):
        run(b, boom)
    clock.advance(10.0)  # the 10 s / 10 bucket window rolled past them
    run(b, boom)
    assert b.state is State.CLOSED
    assert b.health().total == 1


def test_hystrix_rolling_window_keeps_recent_buckets(make: Any, clock: FakeClock) -> None:
    b = make()
    for _ in range(10):
        run(b, boom)
    clock.advance(8.0)
    for _ in range(10):
        run(b, boom)
    assert b.state is State.OPEN


def test_hystrix_rolling_counts_are_bucketed(make: Any, clock: FakeClock) -> None:
    b = make()
    for _ in range(3):
        run(b)
    clock.advance(4.0)
    for _ in range(2):
        run(b)
    assert b.snapshot().rolling[Event.SUCCESS] == 5
    clock.advance(6.5)  # first three fall out, last two stay
    assert b.snapshot().rolling[Event.SUCCESS] == 2
    assert b.snapshot().totals[Event.SUCCESS] == 5


def test_hystrix_force_open_short_circuits_everything(make: Any) -> None:
    b = make()
    b.force_open()
    assert isinstance(run(b), CircuitOpenError) and b.is_open
    b.clear_forced()
    assert run(b) == "ok"


def test_hystrix_force_closed_ignores_health(make: Any) -> None:
    b = make(force_closed=True)
    for _ in range(50):
        assert isinstance(run(b, boom), ConnectionError)
    assert not b.is_open and run(b) == "ok"
    assert b.state is State.OPEN  # the underlying circuit moved, as in Hystrix
    b.clear_forced()
    assert isinstance(run(b), CircuitOpenError)


def test_hystrix_disabled_breaker_never_opens(make: Any) -> None:
    b = make(enabled=False)
    for _ in range(50):
        run(b, boom)
    assert run(b) == "ok" and not b.is_open


def test_hystrix_bad_request_is_reraised_and_not_counted_in_health(make: Any) -> None:
    fallback_calls: list[int] = []
    b = make(request_volume_threshold=1, fallback=lambda: fallback_calls.append(1))

    def bad() -> None:
        raise BadRequest("no such user")

    for _ in range(30):
        assert isinstance(run(b, bad), BadRequest)
    assert b.state is State.CLOSED and fallback_calls == []
    snap = b.snapshot()
    assert snap.rolling[Event.BAD_REQUEST] == 30 and snap.health.total == 0


def test_hystrix_bad_request_types_are_configurable(make: Any) -> None:
    b = make(request_volume_threshold=1, ignore_exceptions=(KeyError,))

    def missing() -> None:
        raise KeyError("k")

    for _ in range(5):
        assert isinstance(run(b, missing), KeyError)
    assert b.state is State.CLOSED
    assert b.snapshot().rolling[Event.BAD_REQUEST] == 5


def test_reset_closes_and_forgets_health(make: Any) -> None:
    b = make(request_volume_threshold=1)
    run(b, boom)
    b.reset()
    assert b.state is State.CLOSED and b.health().total == 0


def test_listeners_get_transitions_and_call_outcomes(make: Any, clock: FakeClock) -> None:
    b = make(request_volume_threshold=2)
    seen: list[Any] = []
    b.add_listener(seen.append)
    run(b)
    run(b, boom)
    clock.advance(5.001)
    run(b)
    kinds = [
        (e.old.value, e.new.value, e.reason)
        if isinstance(e, StateTransition)
        else tuple(ev.name for ev in e.events)
        for e in seen
    ]
    assert kinds == [
        ("SUCCESS",),
        ("closed", "open", "error_rate"),
        ("FAILURE", "FALLBACK_MISSING", "EXCEPTION_THROWN"),
        ("open", "half_open", "sleep_window_elapsed"),
        ("half_open", "closed", "trial_succeeded"),
        ("SUCCESS",),
    ]


def test_transition_only_listener_keeps_fast_path(make: Any) -> None:
    b = make(request_volume_threshold=1)
    seen: list[Any] = []
    b.add_listener(seen.append, calls=False)
    assert b._fast
    run(b, boom)
    assert [type(e).__name__ for e in seen] == ["StateTransition"]


def test_a_broken_listener_does_not_break_calls(make: Any) -> None:
    b = make()

    def broken(event: object) -> None:
        raise RuntimeError("listener bug")

    b.add_listener(broken)
    assert run(b) == "ok"


def test_registry_listener_sees_every_breaker(make: Any, registry: Any) -> None:
    a, c = make("a", request_volume_threshold=1), make("c", request_volume_threshold=1)
    seen: list[Any] = []
    registry.add_listener(seen.append, calls=False)
    run(a, boom)
    run(c, boom)
    assert [e.breaker.name for e in seen] == ["a", "c"]
    registry.remove_listener(seen.append)
    run(a)
    assert len(seen) == 2 and registry.listeners() == []


def test_registry_call_listener_reaches_breakers_created_later(make: Any, registry: Any) -> None:
    seen: list[Any] = []
    registry.add_listener(seen.append)
    b = make("later")
    assert not b._fast
    run(b)
    assert [tuple(e.events) for e in seen] == [(Event.SUCCESS,)]


def test_fast_path_counts_and_latency_match_general_path(make: Any, clock: FakeClock) -> None:
    b = make()
    assert b._fast

    def take(seconds: float) -> Any:
        def fn() -> str:
            clock.advance(seconds)
            return "ok"

        return fn

    for ms in (1, 2, 3, 4, 100):
        b.call(take(ms / 1000))
    snap = b.snapshot()
    assert snap.rolling[Event.SUCCESS] == 5
    assert snap.execution.count == 5
    p = snap.execution.percentiles
    assert p["0"] == pytest.approx(0.001, rel=0.03)
    assert p["50"] == pytest.approx(0.003, rel=0.03)
    assert p["100"] == pytest.approx(0.1, rel=0.03)
    assert snap.execution.mean == pytest.approx(0.022, rel=1e-6)


def test_percentile_window_is_60s_in_6_buckets(make: Any, clock: FakeClock) -> None:
    b = make()
    b.call(ok)
    clock.advance(30.0)
    b.call(ok)
    assert b.snapshot().execution.count == 2
    clock.advance(35.0)
    assert b.snapshot().execution.count == 1
