"""Turbine's stale guard: a latent event is dropped and its host skipped while it catches up."""

from __future__ import annotations

from tracelake.turbine.stale import StaleGuard


def _event(sent_ms: object) -> dict[str, object]:
    return {"type": "HystrixCommand", "name": "payments", "currentTime": sent_ms}


def test_fresh_events_pass_and_old_ones_are_dropped_past_the_threshold() -> None:
    guard = StaleGuard(latency_threshold_ms=2500, catch_up_ms=500)
    now = 1_000_000
    assert guard.admit("a:1", _event(now - 2500), now)  # exactly at the threshold
    assert not guard.admit("a:1", _event(now - 2501), now)
    assert guard.discarded == 1


def test_a_host_that_fell_behind_is_skipped_for_the_catch_up_time_then_read_again() -> None:
    guard = StaleGuard(latency_threshold_ms=2500, catch_up_ms=500)
    now = 1_000_000
    assert not guard.admit("a:1", _event(now - 3000), now)
    assert not guard.admit("a:1", _event(now + 100), now + 100)  # fresh, but still skipping
    assert guard.admit("b:1", _event(now + 100), now + 100)  # other hosts are not held back
    assert guard.admit("a:1", _event(now + 500), now + 500)
    assert guard.discarded == 2


def test_events_without_a_usable_current_time_pass() -> None:
    guard = StaleGuard()
    now = 1_000_000
    for sent in (None, 0, -5, "1000", True, 12.5):
        assert guard.admit("a:1", _event(sent), now)
    assert guard.admit("a:1", {"type": "meta", "name": "meta"}, now)


def test_forgetting_a_host_ends_its_catch_up() -> None:
    guard = StaleGuard()
    now = 1_000_000
    guard.admit("a:1", _event(now - 10_000), now)
    guard.forget("a:1")
    assert guard.admit("a:1", _event(now), now)
