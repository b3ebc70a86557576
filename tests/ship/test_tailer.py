"""The tailer decides where to read: new files, saved offsets, rotation, truncation."""

from __future__ import annotations

import re

from tracelake.ship.multiline import Joiner
from tracelake.ship.tailer import FINGERPRINT_BYTES, FileId, Fingerprint, Mark, Tailer

A = FileId(1, 100)
B = FileId(1, 200)


def data(e: list) -> list[bytes]:  # type: ignore[type-arg]
    return [x.data for x in e]


def test_a_new_file_is_read_from_the_start_and_split_into_lines_with_offsets() -> None:
    tailer = Tailer()
    assert tailer.open("a.log", A, 12, b"one\ntwo\nthr", 0.0) == 0
    out = tailer.feed(A, b"one\ntwo\r\nthr", 0.0)
    assert data(out) == [b"one", b"two"]  # CRLF stripped; "thr" waits for its newline
    assert [e.mark.offset for e in out if e.mark] == [4, 9]
    assert tailer.position(A) == 12
    assert data(tailer.feed(A, b"ee\n", 0.0)) == [b"three"]


def test_from_end_starts_files_of_the_first_scan_at_their_end_but_later_ones_at_zero() -> None:
    tailer = Tailer(from_end=True)
    assert tailer.open("a.log", A, 500, b"x" * 500, 0.0) == 500
    tailer.scan_done({A: "a.log"}, 0.0)
    assert tailer.open("b.log", B, 50, b"y" * 50, 1.0) == 0


def test_a_saved_offset_is_resumed_when_the_fingerprint_matches() -> None:
    head = b"first line\n" * 10
    saved = {A.key: Mark(A.key, "a.log", 55, Fingerprint.of(head))}
    tailer = Tailer(saved=saved, from_end=True)
    assert tailer.open("a.log", A, len(head), head, 0.0) == 55


def test_a_reused_inode_with_other_first_bytes_is_a_new_file() -> None:
    saved = {A.key: Mark(A.key, "a.log", 55, Fingerprint.of(b"old content " * 10))}
    tailer = Tailer(saved=saved)
    assert tailer.open("a.log", A, 120, b"new content " * 10, 0.0) == 0


def test_a_file_shorter_than_its_saved_offset_was_truncated_and_restarts_at_zero() -> None:
    head = b"abc\n"
    saved = {A.key: Mark(A.key, "a.log", 400, Fingerprint.of(head))}
    assert Tailer(saved=saved).open("a.log", A, 4, head, 0.0) == 0


def test_truncation_while_following_ships_what_was_read_and_restarts_at_zero() -> None:
    tailer = Tailer()
    tailer.open("a.log", A, 0, b"", 0.0)
    tailer.feed(A, b"line 1\npartial", 0.0)
    out = tailer.check(A, 3, b"new", 1.0)
    assert data(out) == [b"partial"]
    assert all(e.mark and e.mark.offset == 0 for e in out)
    assert tailer.position(A) == 0
    assert data(tailer.feed(A, b"new\n", 1.0)) == [b"new"]


def test_first_bytes_that_changed_mean_truncated_and_refilled() -> None:
    tailer = Tailer()
    tailer.open("a.log", A, 8, b"aaa\nbbb\n", 0.0)
    tailer.feed(A, b"aaa\nbbb\n", 0.0)
    length = tailer.head_length(A)
    assert tailer.check(A, 20, b"aaa\nbbb\n"[:length], 1.0) == []
    tailer.check(A, 20, b"zzz\nyyy\n", 1.0)
    assert tailer.position(A) == 0


def test_the_fingerprint_in_marks_grows_with_the_file_up_to_its_cap() -> None:
    tailer = Tailer()
    tailer.open("a.log", A, 0, b"", 0.0)
    (first,) = tailer.feed(A, b"a\n", 0.0)
    assert first.mark and first.mark.fingerprint == Fingerprint.of(b"a\n")
    big = b"x" * (FINGERPRINT_BYTES * 2) + b"\n"
    (second,) = tailer.feed(A, big, 0.0)
    assert second.mark and second.mark.fingerprint.length == FINGERPRINT_BYTES
    assert second.mark.fingerprint.matches(b"a\n" + big)


def test_a_renamed_file_is_read_to_its_end_then_closed_after_close_inactive() -> None:
    tailer = Tailer(close_inactive=5.0)
    tailer.open("a.log", A, 4, b"old\n", 0.0)
    tailer.scan_done({A: "a.log"}, 0.0)
    tailer.open("a.log", B, 0, b"", 1.0)  # the path now holds a new inode
    assert tailer.scan_done({B: "a.log"}, 1.0) == []  # A still has unread bytes
    assert data(tailer.feed(A, b"old\nlast", 2.0)) == [b"old"]
    assert tailer.scan_done({B: "a.log"}, 6.9) == []
    assert tailer.scan_done({B: "a.log"}, 7.0) == [A]
    assert data(tailer.close(A)) == [b"last"]  # the partial last line is shipped at the end
    assert not tailer.is_tracked(A) and tailer.is_tracked(B)


def test_a_file_renamed_to_another_matching_path_keeps_its_offset_and_takes_the_new_path() -> None:
    tailer = Tailer()
    tailer.open("a.log", A, 0, b"", 0.0)
    tailer.feed(A, b"x\n", 0.0)
    tailer.scan_done({A: "a.log.1"}, 1.0)
    (e,) = tailer.feed(A, b"y\n", 1.0)
    assert e.path == "a.log.1" and e.mark and e.mark.offset == 4


def test_flush_ships_pending_records_but_keeps_the_partial_line_for_next_time() -> None:
    tailer = Tailer(joiner=lambda: Joiner(re.compile(rb"^\S")))
    tailer.open("a.log", A, 0, b"", 0.0)
    assert data(tailer.feed(A, b"Error\n  at x\npart", 0.0)) == []
    (record,) = tailer.flush()
    assert record.data == b"Error\n  at x" and record.mark and record.mark.offset == 13


def test_a_line_longer_than_max_line_is_shipped_in_pieces() -> None:
    tailer = Tailer(max_line=4)
    tailer.open("a.log", A, 0, b"", 0.0)
    assert data(tailer.feed(A, b"abcdefghij\n", 0.0)) == [b"abcd", b"efgh", b"ij"]


def test_multiline_timeouts_are_polled_across_files() -> None:
    tailer = Tailer(joiner=lambda: Joiner(re.compile(rb"^\S"), timeout=1.0))
    tailer.open("a.log", A, 0, b"", 0.0)
    tailer.feed(A, b"Error\n  at x\n", 0.0)
    assert tailer.poll(0.5) == []
    assert data(tailer.poll(1.0)) == [b"Error\n  at x"]
