"""Cut a TCP byte stream into frames: LF, NUL or octet-counted (RFC 6587).

Stream listeners receive arbitrary chunks; this module turns them into whole frames and
keeps the partial tail for the next chunk. It is sans-IO so every framing gotcha is
tested on bytes alone:

* Octet counting (``"72 <34>1 ..."``) is detected per frame, as rsyslog's imtcp does: a
  frame that starts with digits followed by a space is length-prefixed; anything else is
  delimiter-terminated. One trailing LF inside a counted frame is dropped (rsyslog's
  ``RSYSLOG_SyslogProtocol23Format`` ends in ``\\n``).
* Non-transparent frames end with LF (CRLF tolerated), or with NUL: Python's
  ``SysLogHandler`` over TCP ends each message with ``\\0`` and nothing else, and its
  tracebacks contain LFs. So once a connection has sent a NUL, NUL is its delimiter.
* A frame longer than ``max_frame`` is never buffered: it is counted in ``oversize`` and
  skipped up to its end (the length is known for counted frames; otherwise up to the
  next delimiter), so one huge line cannot exhaust memory nor desynchronise the stream.
"""

from __future__ import annotations

import re

_LF = 0x0A
_NUL = 0x00
_DIGITS = frozenset(b"0123456789")
_BLANKS = frozenset(b"\r\n\x00")
#: Longest MSG-LEN we look at before deciding a frame is not octet-counted.
_MAX_LEN_DIGITS = 10
#: What stops a buffer of LF-terminated frames from being cut by one ``split``: a frame
#: that starts with a digit (maybe octet-counted) or LF (blank bytes between frames are
#: skipped one by one), or any CR. Starting with a literal, it is searched at C speed.
_NOT_PLAIN_START = re.compile(rb"\n[0-9\n]")
_PLAIN_FIRST = frozenset(range(256)) - _DIGITS - _BLANKS


class LineFramer:
    """LF-delimited frames only (JSON lines). The fast path: one ``split`` per chunk."""

    __slots__ = ("_discarding", "_tail", "max_frame", "oversize")

    def __init__(self, max_frame: int = 1 << 20) -> None:
        self.max_frame = max_frame
        #: Frames dropped for being longer than ``max_frame`` since construction.
        self.oversize = 0
        self._tail = b""
        self._discarding = False

    @property
    def pending(self) -> int:
        """Bytes held for an incomplete frame."""
        return len(self._tail)

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the frames it completed (without their LF; may be blank)."""
        if self._tail:
            data = self._tail + data
        parts = data.split(b"\n")
        tail = parts.pop()
        if self._discarding:
            if not parts:  # still inside the oversize frame: keep nothing
                self._tail = b""
                return parts
            del parts[0]
            self._discarding = False
        if len(tail) > self.max_frame:
            self.oversize += 1
            self._discarding = True
            tail = b""
        self._tail = tail
        if parts and max(map(len, parts)) > self.max_frame:
            limit = self.max_frame
            kept = [p for p in parts if len(p) <= limit]
            self.oversize += len(parts) - len(kept)
            return kept
        return parts

    def flush(self) -> bytes:
        """At end of stream: the unterminated last line (Logstash keeps it too)."""
        tail, self._tail = self._tail, b""
        self._discarding = False
        return tail


class SyslogFramer:
    """Per-frame octet counting or LF/NUL termination, as one syslog TCP port needs."""

    __slots__ = ("_buf", "_delim", "_skip", "_skip_to_delim", "max_frame", "oversize", "truncated")

    def __init__(self, max_frame: int = 1 << 20) -> None:
        self.max_frame = max_frame
        #: Frames dropped for being longer than ``max_frame`` since construction.
        self.oversize = 0
        #: Octet-counted frames cut short by the end of the stream.
        self.truncated = 0
        self._buf = b""
        self._delim = _LF
        self._skip = 0  # bytes of an oversize counted frame still to throw away
        self._skip_to_delim = False  # inside an oversize delimited frame

    @property
    def pending(self) -> int:
        """Bytes held for an incomplete frame."""
        return len(self._buf)

    @property
    def nul_delimited(self) -> bool:
        """Whether this connection has switched to NUL as its frame delimiter."""
        return self._delim == _NUL

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the non-empty frames it completed."""
        if self._delim == _LF and b"\0" in data:
            self._delim = _NUL
        buf = self._buf + data if self._buf else data
        pos = 0
        n = len(buf)
        frames: list[bytes] = []
        if self._skip:
            if self._skip >= n:
                self._skip -= n
                self._buf = b""
                return frames
            pos = self._skip
            self._skip = 0
        delim = self._delim
        limit = self.max_frame
        if delim == _LF and not self._skip_to_delim and not pos:
            lines = self._plain_lines(buf)
            if lines is not None:
                return lines
        while pos < n:
            if self._skip_to_delim:
                end = buf.find(delim, pos)
                if end == -1:
                    pos = n
                    break
                self._skip_to_delim = False
                pos = end + 1
                continue
            c = buf[pos]
            if c in _DIGITS:
                space = buf.find(b" ", pos, pos + _MAX_LEN_DIGITS + 1)
                if space == -1 and n - pos <= _MAX_LEN_DIGITS and buf.find(delim, pos) == -1:
                    break  # the length itself may still be incomplete
                digits = buf[pos:space] if space != -1 else b""
                if digits.isdigit():
                    size = int(digits)
                    start = space + 1
                    if size > limit:
                        self.oversize += 1
                        remaining = start + size - n
                        if remaining > 0:
                            self._skip = remaining
                            pos = n
                            break
                        pos = start + size
                        continue
                    if start + size > n:
                        break
                    frame = buf[start : start + size]
                    pos = start + size
                    if frame.endswith(b"\n"):
                        frame = frame[:-1]
                    if frame:
                        frames.append(frame)
                    continue
            elif c in _BLANKS:
                pos += 1  # empty frames, stray delimiters between frames
                continue
            end = buf.find(delim, pos)
            if end == -1:
                if n - pos > limit:
                    self.oversize += 1
                    self._skip_to_delim = True
                    pos = n
                break
            if end - pos > limit:
                self.oversize += 1
                pos = end + 1
                continue
            frame = buf[pos:end]
            pos = end + 1
            if frame.endswith(b"\r"):
                frame = frame[:-1]
            if delim == _NUL and frame.endswith(b"\n"):
                frame = frame[:-1]
            if frame:
                frames.append(frame)
        self._buf = buf[pos:] if pos < n else b""
        return frames

    def _plain_lines(self, buf: bytes) -> list[bytes] | None:
        """The common stream (LF-terminated, none counted, none blank): one ``split``.

        None when ``buf`` holds anything else; the frame-by-frame loop then cuts it,
        with the same result this would give when it applies.
        """
        if (
            not buf
            or buf[0] not in _PLAIN_FIRST
            or b"\r" in buf
            or _NOT_PLAIN_START.search(buf) is not None
        ):
            return None
        frames = buf.split(b"\n")
        tail = frames.pop()
        limit = self.max_frame
        if len(tail) > limit:
            self.oversize += 1
            self._skip_to_delim = True
            tail = b""
        self._buf = tail
        if frames and max(map(len, frames)) > limit:
            kept = [f for f in frames if len(f) <= limit]
            self.oversize += len(frames) - len(kept)
            return kept
        return frames

    def flush(self) -> list[bytes]:
        """At end of stream: the unterminated last frame, if it is a whole one.

        An octet-counted frame cut short is not a message: it is counted in
        ``truncated`` and dropped.
        """
        buf, self._buf = self._buf, b""
        skipping = self._skip or self._skip_to_delim
        self._skip, self._skip_to_delim = 0, False
        if skipping or not buf.strip(b"\r\n\x00"):
            return []
        head, space, _ = buf[: _MAX_LEN_DIGITS + 1].partition(b" ")
        if space and head.isdigit():
            self.truncated += 1
            return []
        return [buf.rstrip(b"\r\n\x00")]
