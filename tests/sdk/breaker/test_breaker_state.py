"""The sans-IO state machine alone: Hystrix's circuit rules, time passed in."""

from __future__ import annotations

from tracelake.sdk.breaker import Admission, CircuitStateMachine, HealthCounts, Policy, State


def test_hystrix_error_percentage_is_the_truncated_double() -> None:
    # (int) ((double) errorCount / totalCount * 100): 29/100*100 = 28.999... -> 28.
    assert HealthCounts.of(100, 29).error_percentage == 28
    assert HealthCounts.of(3, 1).error_percentage == 33
    assert HealthCounts.of(0, 0).error_percentage == 0


def test_hystrix_trips_only_at_volume_and_error_thresholds() -> None:
    sm = CircuitStateMachine(Policy())
    assert sm.on_health(HealthCounts.of(19, 19), 0.0) is None  # below volume 20
    assert sm.on_health(HealthCounts.of(20, 9), 0.0) is None  # 45 % < 50 %
    tr = sm.on_health(HealthCounts.of(20, 10), 1.0)  # 20 calls, exactly 50 %
    assert tr is not None and (tr.old, tr.new, tr.reason) == (
        State.CLOSED,
        State.OPEN,
        "error_rate",
    )
    assert sm.status is State.OPEN and sm.opened_at == 1.0


def test_hystrix_sleep_window_is_strictly_greater_then_single_trial() -> None:
    sm = CircuitStateMachine(Policy(sleep_window=5.0))
    sm.on_health(HealthCounts.of(20, 20), 100.0)
    assert sm.attempt(104.0) is Admission.REJECT
    assert sm.attempt(105.0) is Admission.REJECT  # now > opened + window, strictly
    assert sm.attempt(105.001) is Admission.TRIAL
    assert sm.status is State.HALF_OPEN
    assert sm.attempt(105.002) is Admission.REJECT  # only one caller wins
    assert sm.attempt(999.0) is Admission.REJECT  # however long the trial takes


def test_hystrix_trial_success_closes_and_failure_reopens_with_new_window() -> None:
    sm = CircuitStateMachine(Policy(sleep_window=5.0))
    sm.on_health(HealthCounts.of(20, 20), 0.0)
    assert sm.attempt(6.0) is Admission.TRIAL
    tr = sm.on_trial_failure(6.5)
    assert tr is not None and tr.new is State.OPEN and sm.opened_at == 6.5
    assert sm.attempt(11.0) is Admission.REJECT
    assert sm.attempt(11.6) is Admission.TRIAL
    tr = sm.on_trial_success(11.7)
    assert tr is not None and tr.new is State.CLOSED and sm.opened_at is None
    assert sm.attempt(11.8) is Admission.ALLOW


def test_hystrix_is_open_reports_half_open_as_open() -> None:
    sm = CircuitStateMachine(Policy())
    sm.on_health(HealthCounts.of(20, 20), 0.0)
    sm.attempt(10.0)
    assert sm.status is State.HALF_OPEN and sm.is_open()


def test_hystrix_force_open_rejects_and_force_closed_admits() -> None:
    sm = CircuitStateMachine(Policy(force_open=True))
    assert sm.attempt(0.0) is Admission.REJECT and sm.is_open()
    sm.policy = Policy(force_closed=True)
    sm.on_health(HealthCounts.of(20, 20), 0.0)  # the state still moves underneath
    assert sm.status is State.OPEN
    assert sm.attempt(0.1) is Admission.ALLOW and not sm.is_open()
    sm.policy = Policy(force_open=True, force_closed=True)  # forceOpen wins
    assert sm.attempt(0.2) is Admission.REJECT


def test_hystrix_disabled_circuit_never_trips() -> None:
    sm = CircuitStateMachine(Policy(enabled=False))
    assert sm.on_health(HealthCounts.of(100, 100), 0.0) is None
    assert sm.attempt(0.0) is Admission.ALLOW and not sm.is_open()


def test_resilience4j_slow_call_rate_trips_when_enabled() -> None:
    sm = CircuitStateMachine(Policy(slow_call_duration=1.0, slow_call_rate_threshold=60))
    assert sm.on_health(HealthCounts.of(20, 0, executed=20, slow=11), 0.0) is None  # 55 %
    tr = sm.on_health(HealthCounts.of(20, 0, executed=20, slow=12), 0.0)  # 60 %
    assert tr is not None and tr.reason == "slow_call_rate"


def test_slow_calls_ignored_when_option_off() -> None:
    sm = CircuitStateMachine(Policy())
    assert sm.on_health(HealthCounts.of(20, 0, executed=20, slow=20), 0.0) is None


def test_trial_ending_in_bad_request_reopens_without_new_sleep_window() -> None:
    sm = CircuitStateMachine(Policy(sleep_window=5.0))
    sm.on_health(HealthCounts.of(20, 20), 0.0)
    assert sm.attempt(6.0) is Admission.TRIAL
    sm.on_trial_inconclusive(6.1)
    assert sm.status is State.OPEN and sm.opened_at == 0.0
    assert sm.attempt(6.2) is Admission.TRIAL  # the next caller is the trial at once
