"""Byte-level tests of stream framing: LF, CRLF, NUL, octet counting, oversize, tails."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracelake.ingest.decoders.framing import LineFramer, SyslogFramer


def feed_bytewise(framer: LineFramer | SyslogFramer, data: bytes) -> list[bytes]:
    out: list[bytes] = []
    for i in range(len(data)):
        out += framer.feed(data[i : i + 1])
    return out


class TestLineFramer:
    def test_lines_and_tail(self) -> None:
        f = LineFramer()
        assert f.feed(b'{"a":1}\n{"b"') == [b'{"a":1}']
        assert f.pending == 4
        assert f.feed(b":2}\n\n") == [b'{"b":2}', b""]
        assert f.pending == 0

    def test_bytewise_equals_whole(self) -> None:
        data = b"one\ntwo\r\nthree\n"
        assert feed_bytewise(LineFramer(), data) == LineFramer().feed(data)

    def test_oversize_line_inside_chunk_is_dropped(self) -> None:
        f = LineFramer(max_frame=5)
        assert f.feed(b"ok\n" + b"x" * 50 + b"\nfine\n") == [b"ok", b"fine"]
        assert f.oversize == 1

    def test_oversize_tail_is_not_buffered(self) -> None:
        f = LineFramer(max_frame=8)
        assert f.feed(b"a\n" + b"y" * 20) == [b"a"]
        assert f.pending == 0 and f.oversize == 1
        assert f.feed(b"y" * 100) == []  # still the same huge line
        assert f.pending == 0
        assert f.feed(b"yyy\nnext\n") == [b"next"]
        assert f.oversize == 1


class TestSyslogFramer:
    def test_lf_and_crlf(self) -> None:
        f = SyslogFramer()
        assert f.feed(b"<13>a\n<13>b\r\n<13>c") == [b"<13>a", b"<13>b"]
        assert f.feed(b"\n") == [b"<13>c"]

    def test_octet_counted(self) -> None:
        msg = b"<34>1 2003-10-11T22:14:15.003Z host app - - - hello"
        frame = str(len(msg)).encode() + b" " + msg
        assert SyslogFramer().feed(frame * 3) == [msg] * 3

    def test_octet_counted_keeps_embedded_newlines_and_strips_one_trailing_lf(self) -> None:
        msg = b"<13>1 - - - - - - line1\nline2\n"
        frame = str(len(msg)).encode() + b" " + msg
        assert SyslogFramer().feed(frame) == [msg[:-1]]

    def test_octet_counted_split_anywhere(self) -> None:
        msg = b"<13>1 - h a - - - x y z"
        data = (str(len(msg)).encode() + b" " + msg) * 4 + b"<14>tail\n"
        assert feed_bytewise(SyslogFramer(), data) == [msg] * 4 + [b"<14>tail"]

    def test_mixed_framing_per_frame(self) -> None:
        data = b"<13>lf framed\n11 <13>counted<13>again\n"
        assert SyslogFramer().feed(data) == [b"<13>lf framed", b"<13>counted", b"<13>again"]

    def test_nul_terminated_python_sysloghandler(self) -> None:
        tb = b"<11>boom\nTraceback (most recent call last):\n  File x\x00<14>next\x00"
        f = SyslogFramer()
        assert f.feed(tb) == [
            b"<11>boom\nTraceback (most recent call last):\n  File x",
            b"<14>next",
        ]
        assert f.nul_delimited

    def test_digits_without_space_are_not_a_length(self) -> None:
        assert SyslogFramer().feed(b"12345\n2024abc def\n") == [b"12345", b"2024abc def"]

    def test_blank_frames_skipped(self) -> None:
        assert SyslogFramer().feed(b"\n\n\r\n<13>x\n\n") == [b"<13>x"]

    def test_oversize_counted_frame_is_skipped_exactly(self) -> None:
        f = SyslogFramer(max_frame=10)
        big = b"<13>" + b"z" * 100
        data = str(len(big)).encode() + b" " + big + b"<13>small\n"
        out = feed_bytewise(f, data)
        assert out == [b"<13>small"]
        assert f.oversize == 1 and f.pending == 0

    def test_oversize_delimited_frame_skipped_to_next_delimiter(self) -> None:
        f = SyslogFramer(max_frame=10)
        assert f.feed(b"<13>" + b"q" * 40) == []
        assert f.pending == 0
        assert f.feed(b"qqq\n<13>ok\n") == [b"<13>ok"]
        assert f.oversize == 1

    @pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
    def test_chunking_does_not_change_frames(self, chunk: int) -> None:
        msg = b'<165>1 2003-10-11T22:14:15.003Z host app - ID47 [a b="1"] event'
        data = b"<13>one\n" + str(len(msg)).encode() + b" " + msg + b"<13>two\n"
        f = SyslogFramer()
        out: list[bytes] = []
        for i in range(0, len(data), chunk):
            out += f.feed(data[i : i + chunk])
        assert out == [b"<13>one", msg, b"<13>two"]


def test_flush_returns_unterminated_tail() -> None:
    f = LineFramer()
    f.feed(b'{"a":1}\n{"b":2}')
    assert f.flush() == b'{"b":2}'
    assert f.flush() == b""


def test_syslog_flush_whole_tail_and_truncated_counted_frame() -> None:
    f = SyslogFramer()
    f.feed(b"<13>no newline at end")
    assert f.flush() == [b"<13>no newline at end"]
    f.feed(b"50 <13>1 - - - - - - cut")
    assert f.flush() == []
    assert f.truncated == 1


class _LoopOnly(SyslogFramer):
    """The framer with its one-``split`` fast path for plain LF streams switched off."""

    def _plain_lines(self, buf: bytes) -> None:
        return None


_PIECES = st.sampled_from(
    [b"<13>a line", b"<14>1 - - - - - - x", b"", b"\r", b"\0", b"12 <13>counted", b"x" * 30]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_PIECES, st.sampled_from([b"\n", b"\n", b"\r\n", b""])), max_size=12),
    st.lists(st.integers(1, 40), min_size=1, max_size=8),
    st.sampled_from([16, 1 << 20]),
)
def test_the_plain_lines_fast_path_frames_exactly_as_the_loop_does(
    pieces: list[tuple[bytes, bytes]], cuts: list[int], max_frame: int
) -> None:
    """Same frames after every read and at the end, and the same oversize count."""
    stream = b"".join(p + end for p, end in pieces)
    fast, loop = SyslogFramer(max_frame), _LoopOnly(max_frame)
    pos, i = 0, 0
    while pos < len(stream):
        chunk = stream[pos : pos + cuts[i % len(cuts)]]
        pos, i = pos + len(chunk), i + 1
        assert fast.feed(chunk) == loop.feed(chunk)
    assert fast.flush() == loop.flush()
    assert fast.oversize == loop.oversize
