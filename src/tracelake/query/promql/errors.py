"""The one PromQL error that is not the query's syntax: it parsed, but cannot be run.

Prometheus answers these with 422 and ``errorType`` ``execution`` (many-to-many
matching, duplicate label sets), distinct from ``bad_data`` for a query that does not
parse; the API module maps this class to that answer.
"""

from __future__ import annotations

from tracelake.errors import QueryError


class EvaluationError(QueryError):
    """A valid PromQL expression whose evaluation failed on the data it met."""

    status = 422
