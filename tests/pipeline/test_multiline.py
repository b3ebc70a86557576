"""The multiline joiner: stack traces back into one event, by pattern, count and time."""

from __future__ import annotations

import pytest

from tracelake.pipeline.multiline import MultilineJoiner

TRACE = [
    "2024-05-01 12:00:00 ERROR payment failed",
    "Traceback (most recent call last):",
    '  File "app.py", line 3, in <module>',
    "    charge()",
    "ValueError: card declined",
]


def feed(joiner: MultilineJoiner, lines: list[str], now: float = 0.0) -> list[str]:
    out: list[str] = []
    for line in lines:
        out += joiner.feed(line, now)
    return out


def test_a_python_traceback_is_joined_to_the_line_before_it() -> None:
    j = MultilineJoiner()
    assert feed(j, [*TRACE, "2024-05-01 12:00:01 INFO next"]) == ["\n".join(TRACE)]
    assert j.flush() == ["2024-05-01 12:00:01 INFO next"]


def test_a_java_stack_trace_with_causes_is_one_event() -> None:
    java = [
        "Exception in thread main java.lang.IllegalStateException: boom",
        "\tat com.shop.Pay.charge(Pay.java:42)",
        "Caused by: java.io.IOException: reset",
        "\tat com.shop.Net.read(Net.java:7)",
        "\t... 12 more",
    ]
    j = MultilineJoiner()
    assert feed(j, java) == []
    assert j.flush() == ["\n".join(java)]


def test_chained_python_exceptions_stay_together() -> None:
    chained = [
        "boom",
        "Traceback (most recent call last):",
        '  File "a.py", line 1',
        "KeyError: 'x'",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        '  File "a.py", line 3',
        "RuntimeError: wrapped",
    ]
    j = MultilineJoiner()
    assert feed(j, chained) == []
    assert j.flush() == ["\n".join(chained)]


def test_a_start_pattern_makes_every_other_line_a_continuation() -> None:
    j = MultilineJoiner(start=r"^\d{4}-\d\d-\d\d ", continuation=None)
    out = feed(j, ["2024-05-01 a", "more", "and more", "2024-05-01 b"])
    assert out == ["2024-05-01 a\nmore\nand more"]
    assert j.flush() == ["2024-05-01 b"]


def test_max_lines_cuts_an_event() -> None:
    j = MultilineJoiner(max_lines=2)
    assert feed(j, ["head", "  one", "  two"]) == ["head\n  one"]
    assert j.pending == 1


def test_an_event_is_flushed_after_the_timeout_without_a_line() -> None:
    j = MultilineJoiner(timeout_s=1.0)
    assert feed(j, TRACE, now=10.0) == []
    assert j.flush_due(10.5) == []
    assert j.flush_due(11.0) == ["\n".join(TRACE)]
    assert j.flush_due(20.0) == []


def test_a_late_continuation_after_the_timeout_starts_a_new_event() -> None:
    j = MultilineJoiner(timeout_s=1.0)
    assert j.feed("head", 0.0) == []
    assert j.feed("  late", 5.0) == ["head"]
    assert j.flush() == ["  late"]


def test_blank_lines_between_events_are_skipped() -> None:
    j = MultilineJoiner(start="^[A-Z]", continuation=None)
    assert feed(j, ["", "A one", "", "B two"]) == ["A one"]
    assert j.flush() == ["B two"]


def test_a_joiner_needs_a_pattern() -> None:
    with pytest.raises(ValueError):
        MultilineJoiner(start=None, continuation=None)
