"""Batches close by lines, bytes and time, and carry the marks of their records."""

from __future__ import annotations

import gzip

from tracelake.ship.batcher import Batcher
from tracelake.ship.tailer import Fingerprint, Mark

FP = Fingerprint.of(b"head")


def mark(offset: int, key: str = "1:2") -> Mark:
    return Mark(key, "a.log", offset, FP)


def test_a_batch_closes_at_max_lines_as_gzip_ndjson() -> None:
    batcher = Batcher(max_lines=2)
    assert batcher.add(b'{"a":1}', mark(8), 0.0) == []
    (batch,) = batcher.add(b'{"a":2}', mark(16), 0.0)
    assert gzip.decompress(batch.payload) == b'{"a":1}\n{"a":2}\n'
    assert batch.lines == 2 and batch.raw_bytes == 16
    assert batch.marks == {"1:2": mark(16)}  # the last mark of a file wins
    assert len(batcher) == 0


def test_a_batch_closes_before_a_line_would_take_it_past_max_bytes() -> None:
    batcher = Batcher(max_bytes=20)
    assert batcher.add(b"x" * 10, None, 0.0) == []
    (batch,) = batcher.add(b"y" * 10, None, 0.0)
    assert gzip.decompress(batch.payload) == b"x" * 10 + b"\n"
    assert len(batcher) == 1


def test_a_batch_closes_interval_seconds_after_its_first_record() -> None:
    batcher = Batcher(interval=1.0)
    batcher.add(b"a", None, 5.0)
    batcher.add(b"b", None, 5.9)
    assert batcher.poll(5.99) == []
    (batch,) = batcher.poll(6.0)
    assert batch.lines == 2
    assert batcher.poll(100.0) == []


def test_a_blank_record_moves_its_mark_on_with_the_next_batch() -> None:
    batcher = Batcher()
    assert batcher.add(None, mark(3), 0.0) == []
    assert batcher.flush() == []
    batcher.add(b"a", mark(5, key="9:9"), 0.0)
    (batch,) = batcher.flush()
    assert set(batch.marks) == {"1:2", "9:9"}


def test_marks_of_several_files_travel_together() -> None:
    batcher = Batcher()
    batcher.add(b"a", mark(1, "1:1"), 0.0)
    batcher.add(b"b", mark(7, "2:2"), 0.0)
    batcher.add(b"c", mark(9, "1:1"), 0.0)
    (batch,) = batcher.flush()
    assert {k: m.offset for k, m in batch.marks.items()} == {"1:1": 9, "2:2": 7}
