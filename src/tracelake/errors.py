"""The one exception tree of tracelake.

Every error a user can hit is one of these. Each carries the HTTP status it maps to
(``api/errors.py`` is the one place that turns them into responses) and a message that
says, in one line, what went wrong and what to do.

* TracelakeError                 500
  x ConfigError                  (start-up; the CLI exits 2)
    + DataDirInUse                 another process holds the data directory's lock
    + LakeNeedsRepair              a table's commit log is missing or unreadable
  x BadRequest                   400
    + DecodeError                400   a payload could not be decoded
    + QueryError                 400
      - QuerySyntaxError         400   carries the column of the mistake
    + SQLRejected                400   the SQL endpoint refused a statement
  x Forbidden                    403   e.g. another token's registered instance
  x NotFound                     404
  x PayloadTooLarge              413
  x Overloaded                   503   answered with Retry-After
  x QueryTimeout                 504
  x StoreError                   500

No exception stands for a missing token or scope: the access middleware
(``api/access.py``) answers those 401s and 403s before any route runs.
"""

from __future__ import annotations


class TracelakeError(Exception):
    """Base of every error tracelake raises on purpose."""

    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(TracelakeError):
    """A setting is unknown or has a value of the wrong type."""


class DataDirInUse(ConfigError):
    """Another process holds the data directory: two writers would lose each other's rows."""


class LakeNeedsRepair(ConfigError):
    """A table's commit log is missing or unreadable; ``tracelake lake repair`` rebuilds it."""


class BadRequest(TracelakeError):
    """The client sent something we cannot use."""

    status = 400


class DecodeError(BadRequest):
    """A payload is not in the format its endpoint or listener speaks."""


class QueryError(BadRequest):
    """A search query is valid syntax but cannot be run (unknown function, bad field)."""


class QuerySyntaxError(QueryError):
    """A search query does not parse; ``column`` is 1-based."""

    def __init__(self, message: str, column: int, query: str = "") -> None:
        super().__init__(f"{message} at column {column}")
        self.column = column
        self.query = query

    def caret(self) -> str:
        """The query with a caret under the offending column, for terminals."""
        return f"{self.query}\n{' ' * (self.column - 1)}^"


class SQLRejected(BadRequest):
    """The SQL endpoint accepts one read-only statement over the lake tables only."""


class Forbidden(TracelakeError):
    """The token may use the route but not change this thing (another token's instance)."""

    status = 403


class NotFound(TracelakeError):
    """The thing asked for does not exist."""

    status = 404


class PayloadTooLarge(TracelakeError):
    """A body, line or frame is over its configured limit."""

    status = 413


class Overloaded(TracelakeError):
    """The ingest queue is full; clients should retry after ``retry_after`` seconds."""

    status = 503

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QueryTimeout(TracelakeError):
    """A query ran past its time limit."""

    status = 504


class StoreError(TracelakeError):
    """The store could not do what was asked of it."""
