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
"""

from __future__ import annotations

import re

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
        self._last_at = 0.0

    @property
    def pending(self) -> int:
        """Lines held for the event in progress."""
        return len(self._lines)

    def feed(self, line: str, now: float) -> list[str]:
        """Add one line (without its newline); returns the events it completed."""
        done: list[str] = []
        if self._lines and self._last_at + self.timeout_s <= now:
            done += self.flush()
        if self._lines and not self._continues(line):
            done += self.flush()
        if not self._lines and line == "":
            return done  # blank lines between events belong to none
        self._lines.append(line)
        self._last_at = now
        if len(self._lines) >= self.max_lines:
            done += self.flush()
        return done

    def flush_due(self, now: float) -> list[str]:
        """The event in progress, if no line has come for ``timeout_s``."""
        if self._lines and self._last_at + self.timeout_s <= now:
            return self.flush()
        return []

    def flush(self) -> list[str]:
        """The event in progress, whatever its state (end of stream)."""
        if not self._lines:
            return []
        lines = self._lines
        self._lines = []
        while lines and lines[-1].strip() == "":
            lines.pop()
        return [self.separator.join(lines)] if lines else []

    def _continues(self, line: str) -> bool:
        if self._continuation is not None and self._continuation.search(line):
            return True
        return self._start is not None and self._start.search(line) is None
