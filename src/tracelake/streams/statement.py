"""The one DuckDB statement that computes a window of a continuous query.

Sans-IO: built once per query at start (so a bad field fails the start, not a window),
then run for each window with the window's bounds as parameters::

    WITH tl_source AS (<the source seen as log records>)
    SELECT <group keys>, <aggregates>, <ratios>
    FROM tl_source
    WHERE "timestamp" >= ? AND "timestamp" < ? AND (<filter>)
    GROUP BY ALL

The filter is compiled by the search language's compiler, so every value in it is a
bound parameter; keys and aggregates resolve fields the same way. Without group keys
the statement returns one row even for an empty window, so ``count()`` is 0 then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tracelake.errors import QueryError
from tracelake.query import compile_query
from tracelake.query.sql import Shape, Sql, ident
from tracelake.streams.aggregates import aggregate_name, aggregate_sql, group_key_sql, ratio_sql
from tracelake.streams.query import ContinuousQuery
from tracelake.streams.sources import SOURCES
from tracelake.streams.windows import Window, utc


@dataclass(frozen=True, slots=True)
class WindowStatement:
    """SQL text plus the parameters around the window bounds; result column meaning."""

    sql: str
    head_params: tuple[Any, ...]
    tail_params: tuple[Any, ...]
    labels: tuple[str, ...]
    outputs: tuple[str, ...]

    @staticmethod
    def of(query: ContinuousQuery) -> WindowStatement:
        source = SOURCES[query.source]
        keys = [group_key_sql(name, source.shape) for name in query.group_by]
        labels = [label for label, _ in keys]
        if len(set(labels)) != len(labels):
            raise QueryError(
                f"two group keys make the same label name ({', '.join(labels)}): keep one"
            )
        outputs: list[tuple[str, Sql]] = [
            (aggregate_name(agg), aggregate_sql(agg, source.shape)) for agg in query.aggregates
        ]
        outputs += [(name, ratio_sql(where_sql(text, source.shape))) for name, text in query.ratios]
        names = [name for name, _ in outputs]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate is not None:
            raise QueryError(f"two aggregates are named {duplicate!r}: name one with 'as'")

        columns = [expr.wrap("", f" AS {ident(f'k{i}')}") for i, (_, expr) in enumerate(keys)]
        columns += [expr.wrap("", f" AS {ident(f'a{i}')}") for i, (_, expr) in enumerate(outputs)]
        select = Sql.join(", ", columns)
        head = Sql(f"WITH tl_source AS ({source.sql})\nSELECT {select.text}\n", select.params)
        window = '"timestamp" >= ? AND "timestamp" < ?'
        filter_ = where_sql(query.filter, source.shape)
        sql = head.text + f"FROM tl_source\nWHERE {window} AND ({filter_.text})\nGROUP BY ALL"
        return WindowStatement(sql, head.params, filter_.params, tuple(labels), tuple(names))

    def params(self, window: Window) -> list[Any]:
        """Parameters for one window, in the order of the ``?`` in ``sql``."""
        return [*self.head_params, utc(window.start_us), utc(window.end_us), *self.tail_params]

    def split(self, row: tuple[Any, ...]) -> tuple[dict[str, str], list[tuple[str, float]]]:
        """One result row as (labels without NULL keys, [(aggregate, value)] without NULLs)."""
        n = len(self.labels)
        labels = {k: str(v) for k, v in zip(self.labels, row[:n], strict=True) if v is not None}
        values = [
            (name, float(v)) for name, v in zip(self.outputs, row[n:], strict=True) if v is not None
        ]
        return labels, values


def where_sql(text: str, shape: Shape) -> Sql:
    """A filter of the search language as a predicate over ``shape``'s columns."""
    compiled = compile_query(text, table=shape.name)
    return Sql(compiled.where_sql, tuple(compiled.where_params))
