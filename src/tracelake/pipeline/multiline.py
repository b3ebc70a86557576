"""Multiline joining: the lines of one event (a stack trace) back into one message.

Stream inputs that carry plain lines (syslog over TCP, JSON lines' non-JSON fallback,
the file-shipping agent) see a Python traceback or a Java stack trace as many lines.
``MultilineJoiner`` is pure: it is fed lines with the time they arrived and returns
the events that are complete; the shell around it calls ``flush_due`` from its timer and
``flush`` at the end of the stream. Nothing here reads a clock or a socket.

A line *continues* the current event when it matches ``continuation``, or when a
``start`` pattern is set and the line does not match it; otherwise it starts a new
event. An event is also complete after ``max_lines`` lines or when no line has come for
``timeout_s`` (the last line of a trace has no successor to announce its end).

``push``/``take`` carry one item (a decoded record) with each event: the item of its
first line. ``join_records`` uses them to join the messages of consecutive records,
which is how the stream listeners apply it. A joiner pickles with its state, so it can
travel to an ingest worker with one chunk of a connection and back with the next.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from tracelake.model import LogObject

#: Continuation lines of Python tracebacks and Java stack traces: indented lines, the
#: traceback header, chained-exception separators, ``Caused by:``, ``... 12 more`` and
#: the final ``pkg.SomeError: message`` line.
STACK_TRACE_CONTINUATION = (
    r"^(?:[ \t]+\S|Traceback \(most recent call last\):|Caused by: |Suppressed: "
    r"|During handling of the above exception|The above exception was the direct cause"
    r"|\.\.\. \d+ (?:more|common frames omitted)"
    r"|[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Iteration)\b(?::|$)|$)"
)


class MultilineJoiner:
    """Joins lines into events; one joiner per stream (connection or file)."""

    def __init__(
        self,
        *,
        start: str | None = None,
        continuation: str | None = STACK_TRACE_CONTINUATION,
        max_lines: int = 500,
        timeout_s: float = 1.0,
        separator: str = "\n",
    ) -> None:
        if start is None and continuation is None:
            raise ValueError("a multiline joiner needs a start or a continuation pattern")
        if max_lines < 1:
            raise ValueError("max_lines must be at least 1")
        self._start = re.compile(start) if start is not None else None
        self._continuation = re.compile(continuation) if continuation is not None else None
        self.max_lines = max_lines
        self.timeout_s = timeout_s
        self.separator = separator
        self._lines: list[str] = []
        self._head: Any = None
        self._last_at = 0.0

    @property
    def pending(self) -> int:
        """Lines held for the event in progress."""
        return len(self._lines)

    @property
    def deadline(self) -> float | None:
        """When the event in progress times out (``None`` when there is none)."""
        return self._last_at + self.timeout_s if self._lines else None

    def feed(self, line: str, now: float) -> list[str]:
        """Add one line (without its newline); returns the events it completed."""
        return [text for text, _ in self.push(line, now)]

    def push(self, line: str, now: float, item: Any = None) -> list[tuple[str, Any]]:
        """``feed`` with an item: an event completes as (its text, its first line's item)."""
        done: list[tuple[str, Any]] = []
        if self._lines and self._last_at + self.timeout_s <= now:
            done += self.take()
        if self._lines and not self._continues(line):
            done += self.take()
        if not self._lines:
            if line == "":
                return done  # blank lines between events belong to none
            self._head = item
        self._lines.append(line)
        self._last_at = now
        if len(self._lines) >= self.max_lines:
            done += self.take()
        return done

    def flush_due(self, now: float) -> list[str]:
        """The event in progress, if no line has come for ``timeout_s``."""
        return [text for text, _ in self.take_due(now)]

    def take_due(self, now: float) -> list[tuple[str, Any]]:
        """``flush_due`` with the event's item."""
        if self._lines and self._last_at + self.timeout_s <= now:
            return self.take()
        return []

    def flush(self) -> list[str]:
        """The event in progress, whatever its state (end of stream)."""
        return [text for text, _ in self.take()]

    def take(self) -> list[tuple[str, Any]]:
        """``flush`` with the event's item."""
        if not self._lines:
            return []
        lines, head = self._lines, self._head
        self._lines, self._head = [], None
        while lines and lines[-1].strip() == "":
            lines.pop()
        return [(self.separator.join(lines), head)] if lines else []

    def _continues(self, line: str) -> bool:
        if self._continuation is not None and self._continuation.search(line):
            return True
        return self._start is not None and self._start.search(line) is None


def join_records(
    records: Iterable[LogObject],
    joiner: MultilineJoiner,
    now: float,
    *,
    final: bool = False,
    eligible: Callable[[LogObject], bool] | None = None,
) -> list[LogObject]:
    """Join the ``message`` of consecutive records into events; return the complete ones.

    An event is stored as its first record with the joined message. Records that are not
    ``eligible``, whose message is not text, or that are blank between events pass through
    unchanged (ending the event in progress). The event still open stays in ``joiner``
    unless ``final`` (end of stream) or its timeout has passed at ``now``.
    """
    out: list[LogObject] = []
    done = joiner.take_due(now)
    for obj in records:
        message = obj.get("message")
        if (
            not isinstance(message, str)
            or (eligible is not None and not eligible(obj))
            or (not joiner.pending and not message.strip())
        ):
            done += joiner.take()
            _complete(done, out)
            done = []
            out.append(obj)
            continue
        done += joiner.push(message, now, obj)
    if final:
        done += joiner.take()
    _complete(done, out)
    return out


def _complete(done: list[tuple[str, Any]], out: list[LogObject]) -> None:
    for text, head in done:
        head["message"] = text
        out.append(head)
