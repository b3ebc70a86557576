"""The one retry rule of the SDK, the agent and the notifier: exponential backoff with
equal jitter under a cap, ``Retry-After`` honoured up to its own cap, and one parser for
both forms of that header. The random source and the clock are injected."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from email.utils import formatdate

import pytest

from tracelake.backoff import Backoff, parse_retry_after


def test_ceilings_double_from_base_up_to_the_cap() -> None:
    backoff = Backoff(0.5, 3.0)
    assert [backoff.ceiling(n) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff.ceiling(10_000) == 3.0  # a long outage does not overflow


@pytest.mark.parametrize(("draw", "share"), [(0.0, 0.5), (0.5, 0.75), (0.999999, 0.9999995)])
def test_each_wait_is_in_the_upper_half_of_its_ceiling(draw: float, share: float) -> None:
    backoff = Backoff(1.0, 8.0, rand=lambda: draw)
    for n, ceiling in enumerate([1, 2, 4, 8, 8]):
        assert backoff.delay(n) == pytest.approx(ceiling * share)


def test_next_counts_attempts_and_reset_starts_again() -> None:
    backoff = Backoff(base=1.0, cap=8.0, rand=random.Random(1).random)
    delays = [backoff.next() for _ in range(6)]
    for delay, full in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert full / 2 <= delay <= full
    assert len(set(delays)) == 6  # jittered, not a fixed schedule
    backoff.reset()
    assert backoff.attempt == 0 and backoff.next() <= 1.0


def test_retry_after_replaces_the_wait_up_to_its_cap() -> None:
    agent = Backoff(0.5, 1.0, retry_after_cap=300.0)
    assert agent.next(retry_after=7.0) == 7.0  # over the backoff cap, under its own
    assert agent.next(retry_after=3600.0) == 300.0
    assert agent.next(retry_after=-1.0) == 0.0
    assert agent.attempt == 3
    sdk = Backoff(0.5, 30.0)  # without its own cap, Retry-After obeys the backoff cap
    assert sdk.delay(0, retry_after=45.0) == 30.0


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        Backoff(-1.0, 1.0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2", 2.0), (" 0.5 ", 0.5), ("-3", 0.0), ("soon", None), ("", None), (None, None)],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_nan_is_unreadable() -> None:
    assert parse_retry_after("nan") is None


def test_parse_retry_after_http_date() -> None:
    seconds = parse_retry_after(formatdate(time.time() + 10, usegmt=True))
    assert seconds is not None
    assert 8 <= seconds <= 10


def test_parse_retry_after_http_date_against_an_injected_clock() -> None:
    now = time.time()
    date = formatdate(now + 120, usegmt=True)  # whole seconds
    assert parse_retry_after(date, now=lambda: int(now)) == pytest.approx(120, abs=1)
    assert parse_retry_after(date, now=lambda: now + 600) == 0.0  # already past
    # "-0000" (no zone) is read as GMT, as HTTP dates are, not as local time.
    unzoned = formatdate(now + 60, usegmt=True).replace("GMT", "-0000")
    assert parse_retry_after(unzoned, now=lambda: now) == pytest.approx(60, abs=1)


def test_importable_with_the_standard_library_only() -> None:
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import tracelake.backoff\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "assert new - set(sys.stdlib_module_names) == {'tracelake'}, new\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
