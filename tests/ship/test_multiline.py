"""The multiline joiner: tracebacks stay one record, nothing is ever dropped."""

from __future__ import annotations

import re

from tracelake.ship.multiline import Joiner, Line

START = re.compile(rb"^\d{4}-\d\d-\d\d ")
TRACEBACK = [
    b"2024-05-01 12:00:00 ERROR boom",
    b"Traceback (most recent call last):",
    b'  File "app.py", line 3, in <module>',
    b"ValueError: bad",
]


def feed_all(joiner: Joiner, lines: list[bytes], now: float = 0.0) -> list[bytes]:
    out = []
    end = 0
    for data in lines:
        end += len(data) + 1
        out += [r.data for r in joiner.feed(Line(data, end), now)]
    return out


def test_without_a_pattern_every_line_is_a_record() -> None:
    joiner = Joiner()
    assert feed_all(joiner, [b"a", b"b"]) == [b"a", b"b"]
    assert not joiner.pending


def test_a_traceback_is_joined_into_the_record_it_follows() -> None:
    joiner = Joiner(START)
    out = feed_all(joiner, [*TRACEBACK, b"2024-05-01 12:00:01 INFO next"])
    assert out == [b"\n".join(TRACEBACK)]
    assert [r.data for r in joiner.flush()] == [b"2024-05-01 12:00:01 INFO next"]


def test_the_record_ends_at_the_offset_after_its_last_line() -> None:
    joiner = Joiner(START)
    feed_all(joiner, TRACEBACK)
    (record,) = joiner.flush()
    assert record.end == sum(len(x) + 1 for x in TRACEBACK)
    assert record.lines == 4


def test_continuation_lines_with_nothing_before_them_make_their_own_record() -> None:
    joiner = Joiner(START)
    assert feed_all(joiner, [b"  orphan", b"  orphan 2", TRACEBACK[0]]) == [b"  orphan\n  orphan 2"]


def test_max_lines_cuts_a_record_and_the_rest_continues_as_a_new_one() -> None:
    joiner = Joiner(START, max_lines=2)
    out = feed_all(joiner, [b"2024-05-01 12:00:00 x", b"a", b"b", b"c"]) + [
        r.data for r in joiner.flush()
    ]
    assert out == [b"2024-05-01 12:00:00 x\na", b"b\nc"]


def test_max_bytes_cuts_a_record_before_it_grows_past_the_cap() -> None:
    joiner = Joiner(START, max_bytes=25)
    out = feed_all(joiner, [b"2024-05-01 12:00:00 x", b"yyyy", b"z"])
    assert out == [b"2024-05-01 12:00:00 x"]
    assert [r.data for r in joiner.flush()] == [b"yyyy\nz"]


def test_a_pending_record_is_shipped_after_the_timeout_without_new_lines() -> None:
    joiner = Joiner(START, timeout=2.0)
    feed_all(joiner, TRACEBACK, now=10.0)
    assert joiner.poll(11.9) == []
    assert [r.data for r in joiner.poll(12.0)] == [b"\n".join(TRACEBACK)]
    assert joiner.poll(20.0) == []
