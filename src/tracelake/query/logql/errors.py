"""LogQL's errors, worded the way Loki words them (clients show them as they come)."""

from __future__ import annotations

from tracelake.errors import QueryError


class LogQLError(QueryError):
    """A query Loki would run but tracelake cannot, or one that fails on the data."""


class LogQLSyntaxError(LogQLError):
    """The text does not parse; the message says where, as Loki's parser says it."""

    def __init__(self, message: str, src: str, index: int) -> None:
        line = src.count("\n", 0, index) + 1
        col = index - (src.rfind("\n", 0, index) + 1) + 1
        super().__init__(f"parse error at line {line}, col {col}: {message}")
        self.index = index


def unsupported(what: str) -> LogQLError:
    """The one wording of a refusal: what is not supported, and that the rest is."""
    return LogQLError(f"not supported by tracelake's LogQL: {what} (docs/loki.md lists what is)")
