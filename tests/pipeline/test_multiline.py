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


def test_join_records_keeps_the_first_record_and_joins_the_messages() -> None:
    import pickle

    from tracelake.pipeline.multiline import join_records

    records = [{"message": line, "n": i} for i, line in enumerate(TRACE)]
    j = MultilineJoiner()
    assert join_records(records[:2], j, 0.0) == []  # the event is still open
    j = pickle.loads(pickle.dumps(j))  # it travels to a worker process and back
    out = join_records([*records[2:], {"message": "next", "n": 9}], j, 0.1)
    assert out == [{"message": "\n".join(TRACE), "n": 0}]
    assert join_records([], j, 5.0) == [{"message": "next", "n": 9}]  # timed out


def test_join_records_passes_through_what_it_must_not_join() -> None:
    from tracelake.pipeline.multiline import join_records

    j = MultilineJoiner()
    records: list[dict[str, object]] = [
        {"message": "boom"},
        {"message": "  indented", "json": True},  # not eligible: ends the event
        {"message": ""},  # blank between events: kept as it is
        {"message": {"not": "text"}},
        {"message": "last"},
    ]
    out = join_records(records, j, 0.0, final=True, eligible=lambda o: "json" not in o)
    assert [o["message"] for o in out] == ["boom", "  indented", "", {"not": "text"}, "last"]


def test_multiline_config_is_validated_and_builds_joiners() -> None:
    from tracelake.errors import ConfigError
    from tracelake.pipeline.config import Pipeline

    assert Pipeline({}).joiner() is None
    joiner = Pipeline({"multiline": {"start": r"^\S", "max_lines": 3}}).joiner()
    assert joiner is not None and joiner.max_lines == 3
    assert joiner.feed("a", 0) == [] and joiner.feed("  b", 0) == []
    for bad, key in (
        ({"start": "("}, "pipeline.multiline.start"),
        ({"max_lines": 0}, "pipeline.multiline.max_lines"),
        ({"timeout_s": "1"}, "pipeline.multiline.timeout_s"),
        ({"continuation": ""}, "pipeline.multiline"),
        ({"every": 1}, "pipeline.multiline.every"),
    ):
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            Pipeline({"multiline": bad})
