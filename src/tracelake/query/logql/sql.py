"""LogQL's selective part as DuckDB SQL, with bound parameters only.

Stream selectors and line filters are what make a LogQL query cheap, so they run in
DuckDB where Parquet statistics and the column scan do the work: a selector matcher
is a comparison on ``service``/``level``/``host`` (or a ``json_extract_string`` of
``attributes`` for any other name), a line filter a ``contains``/``regexp_matches``/
``LIKE`` on ``message``. Every value, regex and JSON path is a ``?`` parameter; the
only identifiers written are this module's fixed column names (the safety rule of
``tracelake.query.sql``).

Line filters commute with every stage that leaves the line alone (parsers, label
filters, ``drop``/``keep``/``label_format``), so all those before the first
``line_format`` or ``decolorize`` are pushed down, wherever they stand.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from tracelake.model import LEVELS
from tracelake.query.logql import ast
from tracelake.query.logql.labels import ERROR, ERROR_DETAILS, METADATA_COLUMNS, ROW_COLUMNS
from tracelake.query.sql import Sql, ident

_COLUMNS = frozenset({"service", "host", *METADATA_COLUMNS})
_LIKE_ESCAPE = "\\"
_PLAIN_ALTERNATION = re.compile(r"[A-Za-z0-9_\-:/ ]+(?:\|[A-Za-z0-9_\-:/ ]+)*")
_LINE_CHANGERS = (ast.LineFormat, ast.Decolorize)
_PARSERS = (ast.JsonParser, ast.LogfmtParser, ast.PatternParser, ast.RegexpParser, ast.Unpack)
TS = ident("timestamp")
MESSAGE = f"COALESCE({ident('message')}, '')"


def label_sql(name: str) -> Sql:
    """The label ``name`` of a row as VARCHAR (NULL when the row has none)."""
    if name in _COLUMNS:
        return Sql(ident(name))
    if name == "level":
        return Sql(f"lower({ident('level')})")
    return Sql(f"json_extract_string({ident('attributes')}, ?)", (f'$."{name}"',))


def matcher_sql(m: ast.Matcher) -> Sql:
    """A selector matcher; an absent label matches as the empty string, as in Loki."""
    if m.name == "level" and m.op in ("=", "!=") and m.value:
        # compare the stored (upper-case) column to a constant: statistics can prune
        level = m.value.upper()
        if m.value != m.value.lower() or level not in LEVELS:
            return Sql("FALSE" if m.op == "=" else "TRUE")
        return Sql(f"{ident('level')} {'=' if m.op == '=' else 'IS DISTINCT FROM'} ?", (level,))
    expr = label_sql(m.name)
    if m.op in ("=", "!="):
        empty = m.value == ""
        test = (
            expr.wrap("COALESCE(", ", '') = ''") if empty else expr.wrap("", " = ?").bind(m.value)
        )
        return test if m.op == "=" else test.wrap("(", ") IS NOT TRUE")
    test = regex_sql(expr, m.value)
    return test if m.op == "=~" else test.wrap("(", ") IS NOT TRUE")


def regex_sql(expr: Sql, regex: str) -> Sql:
    """A fully anchored match of ``regex`` (Prometheus's matcher rule)."""
    if regex == ".*":
        return Sql("TRUE")
    if regex == ".+":
        return expr.wrap("", " <> ''")
    if _PLAIN_ALTERNATION.fullmatch(regex):
        values = regex.split("|")
        return Sql(f"{expr.text} IN ({', '.join('?' for _ in values)})", (*expr.params, *values))
    return expr.wrap("regexp_full_match(COALESCE(", ", ''), ?)").bind(regex)


def like_pattern(pattern: str) -> str:
    """A ``|>`` pattern as a LIKE pattern: captures match anything, from the line's start."""
    from tracelake.query.logql.pipeline import pattern_parts

    out: list[str] = []
    for capture, text in pattern_parts(pattern):
        if capture:
            out.append("%")
        else:
            out.append(re.sub(r"([%_\\])", r"\\\1", text))
    if not out or out[-1] != "%":
        out.append("%")
    return "".join(out)


def line_filter_sql(f: ast.LineFilter) -> Sql:
    tests: list[Sql] = []
    for value in f.values:
        if f.op in ("|=", "!="):
            if value == "":
                tests.append(Sql("TRUE"))
            else:
                tests.append(Sql(f"contains({MESSAGE}, ?)", (value,)))
        elif f.op in ("|~", "!~"):
            tests.append(Sql(f"regexp_matches({MESSAGE}, ?)", (value,)))
        else:
            tests.append(Sql(f"{MESSAGE} LIKE ? ESCAPE '{_LIKE_ESCAPE}'", (like_pattern(value),)))
    found = tests[0] if len(tests) == 1 else Sql.join(" OR ", tests).wrap("(", ")")
    return found.wrap("NOT (", ")") if f.op.startswith("!") else found


def split_stages(
    stages: Sequence[ast.Stage],
) -> tuple[list[ast.LineFilter], list[ast.Stage]]:
    """The line filters SQL can run, and the stages left for Python.

    A ``drop`` of only ``__error__``/``__error_details__`` before any parser has nothing
    to drop (Grafana adds one to every logs-volume query) and goes too.
    """
    pushed: list[ast.LineFilter] = []
    rest: list[ast.Stage] = []
    changed = parsed = False
    for stage in stages:
        if isinstance(stage, ast.LineFilter) and not changed:
            pushed.append(stage)
            continue
        if (
            isinstance(stage, ast.Drop)
            and not parsed
            and all(item in (ERROR, ERROR_DETAILS) for item in stage.items)
        ):
            continue
        changed = changed or isinstance(stage, _LINE_CHANGERS)
        parsed = parsed or not isinstance(stage, ast.LineFilter | ast.Drop | ast.Keep)
        rest.append(stage)
    return pushed, rest


def as_datetime(ns: int) -> datetime:
    """Epoch nanoseconds as the lake's microsecond UTC time (nanoseconds floored)."""
    seconds, rest = divmod(ns // 1000, 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest)


def where_sql(
    matchers: Sequence[ast.Matcher],
    filters: Sequence[ast.LineFilter],
    *,
    after_ns: int | None = None,
    from_ns: int | None = None,
    until_ns: int | None = None,
    before_ns: int | None = None,
) -> Sql:
    """The WHERE clause: time bounds (exclusive ``after``/``before``, inclusive
    ``from``/``until``), matchers, then line filters."""
    parts: list[Sql] = []
    for op, ns in ((">", after_ns), (">=", from_ns), ("<=", until_ns), ("<", before_ns)):
        if ns is not None:
            parts.append(Sql(f"{TS} {op} ?", (as_datetime(ns),)))
    parts += [matcher_sql(m) for m in matchers]
    parts += [line_filter_sql(f) for f in filters]
    return Sql.join(" AND ", parts) if parts else Sql("TRUE")


def rows_sql(where: Sql, *, forward: bool, limit: int) -> Sql:
    """The rows of a log query, newest (or oldest) first, as ``labels.ROW_COLUMNS``."""
    columns = ", ".join(ident(c) for c in ROW_COLUMNS[1:])
    order = "ASC" if forward else "DESC"
    head = Sql(f"SELECT epoch_ns({TS}) AS ts, {columns} FROM logs WHERE ")  # noqa: S608 - fixed identifiers
    return Sql.join("", [head, where, Sql(f" ORDER BY {TS} {order} LIMIT ?", (limit,))])


#: The full label set of a row, as SQL groups it when no ``by`` narrows it.
FULL_LABELS: tuple[str, ...] = ROW_COLUMNS[1:-1]


def buckets_sql(where: Sql, groups: Sequence[Sql], origin_us: int, width_us: int) -> Sql:
    """Lines and bytes per group and time bucket: bucket k holds (origin + (k-1)·width,
    origin + k·width], the right-closed windows LogQL's range aggregations use."""
    keys = [g.wrap("", f" AS g{i}") for i, g in enumerate(groups)]
    bucket = Sql(
        f"CAST(ceil((epoch_us({TS}) - ?) / ?) AS BIGINT) AS tl_bucket", (origin_us, width_us)
    )
    select = Sql.join(", ", [*keys, bucket])
    return Sql.join(
        "",
        [
            select.wrap(
                "SELECT ",
                f", count(*) AS tl_lines, sum(strlen({MESSAGE})) AS tl_bytes FROM logs WHERE ",
            ),
            where,
            Sql(" GROUP BY ALL"),
        ],
    )


def group_columns(labels: Sequence[str] | None) -> list[Sql]:
    """What to group by: the named labels, or (None) every column of the label set."""
    if labels is None:
        return [Sql(ident(c)) for c in FULL_LABELS]
    return [label_sql(name) for name in labels]


# --- the label and index endpoints -------------------------------------------------

_STREAM_COLUMNS = ", ".join(label_sql(n).text for n in ("service", "level", "host"))


_NOTHING = Sql("")


def _select(head: str, where: Sql, tail: Sql = _NOTHING) -> Sql:
    return Sql.join("", [Sql(head), where, tail])


def present_sql(where: Sql) -> Sql:
    """Whether any row has each stream label (``service``, ``level``, ``host``)."""
    return _select(
        f"SELECT count({ident('service')}), count(*), count({ident('host')}) FROM logs WHERE ",  # noqa: S608
        where,
    )


def attribute_keys_sql(where: Sql, limit: int) -> Sql:
    """The keys of ``attributes`` that hold a scalar: names a selector can match."""
    attributes = ident("attributes")
    return _select(
        "SELECT DISTINCT k FROM (SELECT unnest(json_keys(a)) AS k, a FROM "  # noqa: S608
        f"(SELECT {attributes} AS a FROM logs WHERE {attributes} IS NOT NULL AND ",
        where,
        Sql(
            ")) WHERE json_type(a, '$.\"' || k || '\"') NOT IN ('OBJECT', 'ARRAY') "
            "ORDER BY k LIMIT ?",
            (limit,),
        ),
    )


def label_values_sql(name: str, where: Sql, limit: int) -> Sql:
    return Sql.join(
        "",
        [
            label_sql(name).wrap("SELECT DISTINCT ", " AS v FROM logs WHERE "),
            where,
            Sql(" AND v IS NOT NULL ORDER BY v LIMIT ?", (limit,)),
        ],
    )


def series_sql(where: Sql, limit: int) -> Sql:
    """The distinct stream label sets of the matching rows."""
    return _select(
        f"SELECT DISTINCT {_STREAM_COLUMNS} FROM logs WHERE ",  # noqa: S608
        where,
        Sql(" ORDER BY ALL LIMIT ?", (limit,)),
    )


def index_stats_sql(where: Sql) -> Sql:
    """Streams, lines and bytes of lines of the matching rows."""
    return _select(
        f"SELECT count(DISTINCT ({_STREAM_COLUMNS})), count(*), "  # noqa: S608
        f"COALESCE(sum(strlen({ident('message')})), 0) FROM logs WHERE ",
        where,
    )
