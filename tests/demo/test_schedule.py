"""The fault schedule: a readable table that a speed factor compresses."""

from __future__ import annotations

import itertools

import pytest

from tracelake.demo.faults import Fault
from tracelake.demo.schedule import CYCLE_S, PHASES, Phase, Schedule


def test_default_story_is_steady_then_payments_degrades_at_20s_and_recovers_60s_later() -> None:
    schedule = Schedule()
    assert schedule.phase_at(0).fault.healthy
    assert schedule.phase_at(19.9).name == "steady"
    degraded = schedule.phase_at(20)
    assert degraded.fault == Fault(error_rate=0.6, latency_ms=800)
    assert schedule.phase_at(79.9) is degraded
    assert schedule.phase_at(80).fault.healthy


def test_speed_divides_every_time_of_the_schedule() -> None:
    schedule = Schedule(speed=4)
    assert schedule.phase_at(4.9).name == "steady"
    assert schedule.phase_at(5).name == "payments degraded"
    assert schedule.phase_at(20).name == "payments recovered"
    assert [at for at, _ in itertools.islice(schedule.changes(), 3)] == [0, 5, 20]


def test_the_story_repeats_every_cycle() -> None:
    schedule = Schedule()
    assert schedule.phase_at(CYCLE_S + 25) is schedule.phase_at(25)
    changes = list(itertools.islice(schedule.changes(), len(PHASES) + 1))
    assert changes[len(PHASES)] == (CYCLE_S, PHASES[0])


@pytest.mark.parametrize(
    ("phases", "cycle", "speed", "message"),
    [
        ((), 10.0, 1.0, "starts with a phase at 0"),
        ((Phase(5, "late"),), 10.0, 1.0, "starts with a phase at 0"),
        ((Phase(0, "a"), Phase(9, "b"), Phase(3, "c")), 10.0, 1.0, "increasing order"),
        ((Phase(0, "a"), Phase(10, "b")), 10.0, 1.0, "must be longer"),
        ((Phase(0, "a"),), 10.0, 0.0, "speed must be positive"),
    ],
)
def test_a_schedule_that_cannot_be_followed_is_refused(
    phases: tuple[Phase, ...], cycle: float, speed: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Schedule(phases, cycle, speed)
