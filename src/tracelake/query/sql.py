"""Compile a parsed query to one DuckDB statement with bound parameters.

Sans-IO on purpose: this module only produces text and a parameter list, so the store
decides where ``logs`` comes from (Parquet segments, the WAL tail, a registered Arrow
batch) and the compiler is tested without a database.

Safety rule: no user-supplied value ever reaches the SQL text. Values, JSON paths,
LIKE patterns, bin widths and limits are all ``?`` parameters; the only identifiers
emitted are the fixed column names and output aliases, which are double-quoted with
``"`` doubled (and field names are already restricted by the lexer).

Semantics are two-valued, as a search user expects: a record without the field simply
does not match, so ``-http.status:500`` keeps records that have no status at all.
SQL's NULL is made to behave that way by negating with ``IS NOT TRUE`` rather than NOT.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Literal

from tracelake.errors import QueryError, QuerySyntaxError
from tracelake.model import LEVELS, LOG_COLUMNS
from tracelake.query import ast
from tracelake.query.parser import parse

#: Relation a statement reads unless told otherwise; the store substitutes the real
#: source for the table's name.
TABLE = "logs"
#: Escape character for LIKE patterns (a literal backslash in the SQL text).
_LIKE_ESCAPE = "\\"
_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_PERCENTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99}
_BIN_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}
_FIELD_ALIASES = {"@timestamp": "timestamp"}
_COMPARE: dict[str, Callable[[int, int], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True)
class CompiledQuery:
    """A query ready to run: ``con.execute(q.sql, q.params)``.

    ``where_sql``/``where_params`` are the filter alone (time range included) for the
    live tail; ``start``/``end`` let the store skip segments outside the range.
    """

    sql: str
    params: list[Any]
    kind: Literal["rows", "stats"]
    columns: list[str]
    where_sql: str
    where_params: list[Any]
    start: datetime | None
    end: datetime | None


def compile_query(
    text: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 100,
    table: str = TABLE,
) -> CompiledQuery:
    """Compile search-language ``text`` to SQL over ``table`` (``logs`` or ``events``).

    ``start`` (inclusive) and ``end`` (exclusive) bound ``timestamp``; naive datetimes
    are taken as UTC. ``limit`` caps the rows returned, including any ``| limit N``.
    Raises QuerySyntaxError (with a column) or QueryError.
    """
    if limit < 1:
        raise QueryError(f"limit must be at least 1, got {limit}")
    start, end = _utc(start), _utc(end)
    if start is not None and end is not None and start >= end:
        raise QueryError("the time range is empty: start must be before end")
    shape = SHAPES.get(table)
    if shape is None:
        raise QueryError(
            f"cannot search table {table!r}: searchable tables are {', '.join(SHAPES)}"
        )
    return _Compiler(text, shape).compile(parse(text), start, end, limit)


# --- SQL fragments -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sql:
    """SQL text with the parameters of its ``?`` in order, so they never drift apart."""

    text: str
    params: tuple[Any, ...] = ()

    def wrap(self, before: str, after: str) -> Sql:
        return Sql(before + self.text + after, self.params)

    def bind(self, *params: Any) -> Sql:
        """The same text with ``params`` appended (for ``?`` added at the end)."""
        return Sql(self.text, (*self.params, *params))

    @staticmethod
    def join(sep: str, parts: list[Sql]) -> Sql:
        return Sql(sep.join(p.text for p in parts), tuple(x for p in parts for x in p.params))


def ident(name: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


# --- fields ------------------------------------------------------------------------


class FieldKind(Enum):
    TIME = "time"  # timestamp: ISO 8601 values, comparisons
    LEVEL = "level"  # case-insensitive, ordered by severity
    TEXT = "text"  # message, attributes: case-insensitive substring
    KEYWORD = "keyword"  # service, host, logger: exact
    ID = "id"  # trace_id, span_id: exact, stored lower-case
    ATTRIBUTE = "attribute"  # anything else: a key of the attributes JSON


COLUMN_KINDS: dict[str, FieldKind] = {
    "timestamp": FieldKind.TIME,
    "level": FieldKind.LEVEL,
    "message": FieldKind.TEXT,
    "attributes": FieldKind.TEXT,
    "service": FieldKind.KEYWORD,
    "host": FieldKind.KEYWORD,
    "logger": FieldKind.KEYWORD,
    "trace_id": FieldKind.ID,
    "span_id": FieldKind.ID,
}


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # canonical name: the output column name
    kind: FieldKind
    expr: Sql  # the value as VARCHAR (TIMESTAMPTZ for timestamp)

    @property
    def number(self) -> Sql:
        """The value as DOUBLE (NULL when it is not a number)."""
        return self.expr.wrap("TRY_CAST(", " AS DOUBLE)")


@dataclass(frozen=True, slots=True)
class Shape:
    """What the language sees of a table: its columns, the column free words search,
    and the JSON column that holds every other field.

    ``json_prefix`` is how a name must start to mean a key of that JSON column: empty
    for ``logs`` (any other name is an attribute), ``payload.`` for ``events``, whose
    payloads are the user's own documents (``payload.amount:>100``).
    """

    name: str
    columns: tuple[str, ...]  # what a row shows, in order, without a 'fields' pipe
    kinds: dict[str, FieldKind]
    text: str
    json: str
    json_prefix: str = ""


SHAPES: dict[str, Shape] = {
    "logs": Shape("logs", LOG_COLUMNS, COLUMN_KINDS, text="message", json="attributes"),
    "events": Shape(
        "events",
        ("timestamp", "type", "key", "service", "trace_id", "span_id", "payload"),
        {
            "timestamp": FieldKind.TIME,
            "type": FieldKind.KEYWORD,
            "key": FieldKind.KEYWORD,
            "service": FieldKind.KEYWORD,
            "trace_id": FieldKind.ID,
            "span_id": FieldKind.ID,
            "payload": FieldKind.TEXT,
        },
        text="payload",
        json="payload",
        json_prefix="payload.",
    ),
}


def resolve(name: str, shape: Shape = SHAPES[TABLE]) -> Field:
    """A field by the name the user typed: a column, or a key of the JSON column.

    A dotted key is looked up both nested (``{"http":{"status":..}}``) and as a flat
    key (``{"http.status":..}``), since producers write either.
    """
    name = _FIELD_ALIASES.get(name, name)
    kind = shape.kinds.get(name)
    if kind is not None:
        return Field(name, kind, Sql(ident(name)))
    if not name.startswith(shape.json_prefix):
        raise QueryError(
            f"unknown field '{name}' in {shape.name}: fields are {', '.join(shape.kinds)}, "
            f"or {shape.json_prefix}<name> for a key of {shape.json}"
        )
    key = name[len(shape.json_prefix) :]
    parts = key.split(".")
    paths = ["$" + "".join(f'."{part}"' for part in parts)]
    if len(parts) > 1:
        paths.append(f'$."{key}"')
    column = ident(shape.json)
    extracts = [Sql(f"json_extract_string({column}, ?)", (p,)) for p in paths]
    expr = extracts[0] if len(extracts) == 1 else Sql.join(", ", extracts).wrap("COALESCE(", ")")
    return Field(name, FieldKind.ATTRIBUTE, expr)


# --- the compiler ------------------------------------------------------------------


class _Compiler:
    def __init__(self, text: str, shape: Shape) -> None:
        self.src = text
        self.shape = shape

    def resolve(self, name: str) -> Field:
        return resolve(name, self.shape)

    def syntax_error(self, message: str, column: int) -> QuerySyntaxError:
        return QuerySyntaxError(message, column, self.src)

    def compile(
        self, query: ast.Query, start: datetime | None, end: datetime | None, limit: int
    ) -> CompiledQuery:
        conditions: list[Sql] = []
        if start is not None:
            conditions.append(Sql(f"{ident('timestamp')} >= ?", (start,)))
        if end is not None:
            conditions.append(Sql(f"{ident('timestamp')} < ?", (end,)))
        if not isinstance(query.filter, ast.MatchAll):
            parent: Literal["and", "top"] = "and" if conditions else "top"
            conditions.append(self.predicate(query.filter, parent))
        where = Sql.join(" AND ", conditions) if conditions else Sql("TRUE")

        plan = _Plan.of(query.pipes, self.shape)
        limit = min(limit, plan.limit) if plan.limit is not None else limit
        if plan.stats is not None:
            select, order, columns = self.stats(plan.stats, plan.sort)
            group = [Sql("GROUP BY ALL")] if plan.stats.by else []
            kind: Literal["rows", "stats"] = "stats"
        else:
            select, order, columns = self.rows(plan.fields, plan.sort)
            group = []
            kind = "rows"

        lines = [select.wrap("SELECT ", ""), Sql(f"FROM {self.shape.name}")]
        if conditions:
            lines.append(where.wrap("WHERE ", ""))
        lines += group
        lines.append(order.wrap("ORDER BY ", ""))
        lines.append(Sql("LIMIT ?", (limit,)))
        statement = Sql.join("\n", lines)
        return CompiledQuery(
            sql=statement.text,
            params=list(statement.params),
            kind=kind,
            columns=columns,
            where_sql=where.text,
            where_params=list(where.params),
            start=start,
            end=end,
        )

    # --- predicates ---------------------------------------------------------------

    def predicate(self, expr: ast.Expr, parent: Literal["and", "or", "top"]) -> Sql:
        """SQL for ``expr``; ``parent`` says whether an AND/OR needs parentheses."""
        if isinstance(expr, ast.And | ast.Or):
            op: Literal["and", "or"] = "and" if isinstance(expr, ast.And) else "or"
            inner = Sql.join(f" {op.upper()} ", [self.predicate(e, op) for e in expr.items])
            return inner if parent in (op, "top") else inner.wrap("(", ")")
        if isinstance(expr, ast.Not):
            if isinstance(expr.operand, ast.Exists):
                return self.resolve(expr.operand.field).expr.wrap("", " IS NULL")
            return self.predicate(expr.operand, "top").wrap("(", ") IS NOT TRUE")
        if isinstance(expr, ast.MatchAll):
            return Sql("TRUE")
        if isinstance(expr, ast.Text):
            return _substring(self.resolve(self.shape.text), expr.value)
        if isinstance(expr, ast.Exists):
            return self.resolve(expr.field).expr.wrap("", " IS NOT NULL")
        if isinstance(expr, ast.Match):
            return self.match(self.resolve(expr.field), expr.value)
        return self.compare(self.resolve(expr.field), expr)

    def match(self, field: Field, value: ast.Value) -> Sql:
        col = field.expr
        kind = field.kind
        if kind is FieldKind.TEXT:
            return _substring(field, value)
        if kind is FieldKind.TIME:
            if value.has_wildcards:
                raise self.syntax_error(
                    "wildcards do not apply to timestamp; use timestamp:>=... instead",
                    value.column,
                )
            return Sql(f"{col.text} = ?", (self.timestamp(value),))
        if value.has_wildcards:
            like = "ILIKE" if kind is FieldKind.LEVEL else "LIKE"
            pattern = _like_pattern(value)
            return Sql(
                f"{col.text} {like} ? ESCAPE '{_LIKE_ESCAPE}'",
                (*col.params, pattern.lower() if kind is FieldKind.ID else pattern),
            )
        # Values are folded here, not in SQL, so the comparison stays a constant that
        # DuckDB pushes into Parquet statistics and Bloom filters.
        if kind is FieldKind.LEVEL:
            return Sql(f"{col.text} = ?", (value.text.upper(),))
        if kind is FieldKind.ID:
            return Sql(f"{col.text} = ?", (value.text.lower(),))
        if kind is FieldKind.ATTRIBUTE and not value.quoted and _NUMBER_RE.fullmatch(value.text):
            # 500 must find {"status": 500}, {"status": "500"} and {"status": 500.0}
            return field.number.wrap("", " = ?").bind(float(value.text))
        return Sql(f"{col.text} = ?", (*col.params, value.text))

    def compare(self, field: Field, node: ast.Compare) -> Sql:
        value, op = node.value, node.op
        if field.kind is FieldKind.TIME:
            return Sql(f"{field.expr.text} {op} ?", (self.timestamp(value),))
        if field.kind is FieldKind.LEVEL:
            levels = self.levels(node)
            if not levels:  # level:>fatal
                return Sql("FALSE")
            marks = ", ".join("?" for _ in levels)
            return Sql(f"{field.expr.text} IN ({marks})", tuple(levels))
        if field.kind is not FieldKind.ATTRIBUTE:
            raise QueryError(
                f"'{field.name}' is text: comparisons (:> :>= :< :<=) apply to timestamp, "
                f"level and numeric attribute fields (column {node.column})"
            )
        if not _NUMBER_RE.fullmatch(value.text):
            raise self.syntax_error(f"expected a number after '{node.field}:{op}'", value.column)
        return field.number.wrap("", f" {op} ?").bind(float(value.text))

    def levels(self, node: ast.Compare) -> list[str]:
        """The levels on the ``op`` side of the named one, by severity."""
        name = node.value.text.upper()
        if name not in LEVELS:
            raise self.syntax_error(
                f"unknown level '{node.value.text}'; expected one of {', '.join(LEVELS)}",
                node.value.column,
            )
        rank = LEVELS.index(name)
        return [level for r, level in enumerate(LEVELS) if _COMPARE[node.op](r, rank)]

    def timestamp(self, value: ast.Value) -> datetime:
        try:
            return _to_utc(datetime.fromisoformat(value.text))
        except ValueError:
            raise self.syntax_error(
                f"expected an ISO 8601 time such as 2024-05-01T12:00:00Z, got '{value.text}'",
                value.column,
            ) from None
        except OverflowError:  # its offset moves it past year 1 or 9999 in UTC
            raise self.syntax_error(
                f"'{value.text}' falls outside the years 1 to 9999 once moved to UTC",
                value.column,
            ) from None

    # --- pipes --------------------------------------------------------------------

    def rows(
        self, fields: ast.Fields | None, sort: tuple[ast.SortKey, ...]
    ) -> tuple[Sql, Sql, list[str]]:
        names = [f.field for f in fields.fields] if fields else list(self.shape.columns)
        selected: list[Sql] = []
        columns: list[str] = []
        for name in names:
            field = self.resolve(name)
            if field.name in columns:
                raise QueryError(f"'fields' lists '{field.name}' twice")
            columns.append(field.name)
            if field.kind is FieldKind.ATTRIBUTE:
                selected.append(field.expr.wrap("", f" AS {ident(field.name)}"))
            else:
                selected.append(Sql(ident(field.name)))
        order: list[Sql] = []
        for key in sort:
            if "(" in key.name:
                raise QueryError(
                    f"cannot sort rows by '{key.name}' (column {key.column}): "
                    "functions are stats columns; sort rows by a field"
                )
            field = self.resolve(key.name)
            direction = " DESC" if key.descending else " ASC"
            if field.kind is FieldKind.ATTRIBUTE:  # numbers as numbers, then as text
                order.append(field.number.wrap("", direction))
            elif field.kind is FieldKind.LEVEL:  # by severity, not alphabetically
                severity = Sql(f"list_position(?, {field.expr.text})", (list(LEVELS),))
                order.append(severity.wrap("", direction))
            order.append(field.expr.wrap("", direction))
        if not any(self.resolve(k.name).name == "timestamp" for k in sort):
            order.append(Sql(f"{ident('timestamp')} DESC"))
        return Sql.join(", ", selected), Sql.join(", ", order), columns

    def stats(self, stats: ast.Stats, sort: tuple[ast.SortKey, ...]) -> tuple[Sql, Sql, list[str]]:
        selected: list[Sql] = []
        columns: list[str] = []

        def add(name: str, expr: Sql, column: int) -> None:
            if name in columns:
                raise QueryError(f"stats has two columns named '{name}' (column {column})")
            columns.append(name)
            if expr.text != ident(name):
                expr = expr.wrap("", f" AS {ident(name)}")
            selected.append(expr)

        bins = [key for key in stats.by if isinstance(key, ast.Bin)]
        if len(bins) > 1:
            raise QueryError(f"stats takes one bin(), got {len(bins)} (column {bins[1].column})")
        for key in stats.by:
            if isinstance(key, ast.Bin):
                width = f"{key.count} {_BIN_UNITS[key.unit]}{'s' if key.count > 1 else ''}"
                bucket = Sql(f"time_bucket(?::INTERVAL, {ident('timestamp')})", (width,))
                add(key.name, bucket, key.column)
            else:
                field = self.resolve(key.field)
                add(field.name, field.expr, key.column)
        for agg in stats.aggregates:
            add(agg.name, self.aggregate(agg), agg.column)

        order: list[Sql] = []
        if sort:
            for sort_key in sort:
                name = _FIELD_ALIASES.get(sort_key.name, sort_key.name)
                if name not in columns:
                    raise QueryError(
                        f"cannot sort by '{sort_key.name}' (column {sort_key.column}): "
                        f"stats columns are {', '.join(columns)}"
                    )
                direction = " DESC" if sort_key.descending else " ASC"
                order.append(Sql(ident(name) + direction))
        else:
            keys = [
                k.name if isinstance(k, ast.Bin) else self.resolve(k.field).name for k in stats.by
            ]
            if bins:
                keys.remove(bins[0].name)
                order.append(Sql(f"{ident(bins[0].name)} ASC"))
            else:
                order.append(Sql(f"{ident(stats.aggregates[0].name)} DESC"))
            order += [Sql(f"{ident(k)} ASC") for k in keys]
        return Sql.join(", ", selected), Sql.join(", ", order), columns

    def aggregate(self, agg: ast.Aggregate) -> Sql:
        if agg.field is None:
            return Sql("count(*)")
        field = self.resolve(agg.field)
        if agg.func == "count":
            return field.expr.wrap("count(", ")")
        if agg.func == "count_distinct":
            return field.expr.wrap("count(DISTINCT ", ")")
        if field.kind is FieldKind.ATTRIBUTE:
            value = field.number
        elif agg.func in ("min", "max"):
            value = field.expr
        else:
            raise QueryError(
                f"{agg.func}() needs a numeric attribute field, and '{field.name}' is not "
                f"one (column {agg.column})"
            )
        if agg.func in _PERCENTILES:
            return value.wrap("quantile_cont(", ", ?)").bind(_PERCENTILES[agg.func])
        return value.wrap(f"{agg.func}(", ")")


@dataclass(frozen=True, slots=True)
class _Plan:
    """The pipes folded into one SELECT, after checking their order makes sense."""

    stats: ast.Stats | None
    fields: ast.Fields | None
    sort: tuple[ast.SortKey, ...]
    limit: int | None

    @staticmethod
    def of(pipes: tuple[ast.Pipe, ...], shape: Shape) -> _Plan:
        stats: ast.Stats | None = None
        fields: ast.Fields | None = None
        sort: list[ast.SortKey] = []
        limit: int | None = None
        for pipe in pipes:
            if isinstance(pipe, ast.Stats):
                if stats is not None:
                    raise QueryError(f"only one 'stats' per query (column {pipe.column})")
                if fields is not None or sort or limit is not None:
                    raise QueryError(
                        f"'stats' must come before 'fields', 'sort' and 'limit' "
                        f"(column {pipe.column})"
                    )
                stats = pipe
            elif isinstance(pipe, ast.Fields):
                if stats is not None:
                    raise QueryError(
                        f"'fields' cannot follow 'stats', which already chooses the "
                        f"columns (column {pipe.column})"
                    )
                if fields is not None:
                    kept = {resolve(f.field, shape).name for f in fields.fields}
                    for ref in pipe.fields:
                        if resolve(ref.field, shape).name not in kept:
                            raise QueryError(
                                f"'{ref.field}' was dropped by an earlier 'fields' "
                                f"(column {ref.column})"
                            )
                fields = pipe
            elif isinstance(pipe, ast.Sort):
                if limit is not None:
                    raise QueryError(
                        f"'sort' after 'limit' is not supported: put 'sort' first "
                        f"(column {pipe.column})"
                    )
                # a later sort is the primary order; earlier keys break its ties
                later = {k.name for k in pipe.keys}
                sort = [*pipe.keys, *(k for k in sort if k.name not in later)]
            else:
                limit = pipe.count if limit is None else min(limit, pipe.count)
        return _Plan(stats, fields, tuple(sort), limit)


# --- helpers -----------------------------------------------------------------------


def _like_pattern(value: ast.Value) -> str:
    """LIKE pattern for ``value``: its wildcards become % and _, the rest is literal."""
    out: list[str] = []
    for i, ch in enumerate(value.text):
        if i in value.wildcards:
            out.append("%" if ch == "*" else "_")
        elif ch in ("%", "_", _LIKE_ESCAPE):
            out.append(_LIKE_ESCAPE + ch)
        else:
            out.append(ch)
    return "".join(out)


def _substring(field: Field, value: ast.Value) -> Sql:
    """Case-insensitive "contains" (with wildcards: an ILIKE anywhere in the text)."""
    col = field.expr.text
    if value.has_wildcards:
        return Sql(
            f"{col} ILIKE ? ESCAPE '{_LIKE_ESCAPE}'",
            (*field.expr.params, f"%{_like_pattern(value)}%"),
        )
    return Sql(f"contains(lower({col}), lower(?))", (*field.expr.params, value.text))


def _to_utc(moment: datetime) -> datetime:
    """Aware UTC datetime; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else _to_utc(moment)
