"""The limits every query shares, whatever its language: how deep it may nest and which
times it may name.

Why a limit on nesting: both parsers and the PromQL evaluator recurse once a level, and
the Rust PromQL parser overflows its stack (killing the server) a few thousand levels
down, so a query that nests deeper than any person writes is refused, with a 400,
before anything recurses. Why one range of times: every time a route reads (search's
``from``, Prometheus's ``time``, Zipkin's ``endTs``, an ``@`` modifier) ends up as a
``datetime`` and as epoch microseconds in DuckDB; between 1970 and the end of the year
9999 both hold it, and no observability data lies outside.
"""

from __future__ import annotations

from datetime import UTC, datetime

#: Levels of parentheses, ``NOT``s, function calls or chained operators a query may nest.
MAX_DEPTH = 100

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
EARLIEST_S = 0.0
LATEST_S = LATEST.timestamp()  # 253402300799
#: How the accepted times are named in error messages.
TIME_RANGE = "1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"


def too_deep(advice: str) -> str:
    """The one-line message for a query past ``MAX_DEPTH``; ``advice`` says what to do."""
    return f"query nests deeper than {MAX_DEPTH} levels: {advice}"
