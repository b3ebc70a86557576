"""Faults as payments' ``POST /fault`` reads them and as each request draws from one."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tracelake.demo.faults import Fault, FaultError


def test_fault_is_read_from_json_with_absent_fields_meaning_none() -> None:
    assert Fault.from_json({"error_rate": 0.6, "latency_ms": 800}) == Fault(0.6, 800)
    assert Fault.from_json({"latency_ms": 50}) == Fault(0.0, 50)
    assert Fault.from_json({}).healthy


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "JSON object"),
        ({"error_rate": 1.5}, "error_rate must be from 0 to 1"),
        ({"latency_ms": -1}, "latency_ms must be from 0"),
        ({"error_rate": "half"}, "error_rate must be a number"),
        ({"error_rate": True}, "error_rate must be a number"),
        ({"errors": 0.5}, "unknown field 'errors'"),
    ],
)
def test_a_bad_fault_is_refused_with_the_field_named(data: Any, message: str) -> None:
    with pytest.raises(FaultError, match=message):
        Fault.from_json(data)


def test_draws_fail_at_the_error_rate_and_wait_about_the_latency() -> None:
    rng = random.Random(7)
    draws = [Fault(error_rate=0.6, latency_ms=800).draw(rng) for _ in range(2000)]
    failures = sum(failed for _, failed in draws) / len(draws)
    assert 0.55 < failures < 0.65
    assert all(0.64 <= delay <= 0.96 for delay, _ in draws)


def test_a_healthy_fault_never_fails_and_never_waits() -> None:
    rng = random.Random(1)
    assert {Fault().draw(rng) for _ in range(100)} == {(0.0, False)}
