"""The ``[[continuous_queries]]`` tables of ``tracelake.toml``, parsed and checked at start.

Example::

    [[continuous_queries]]
    name = "orders_by_status"             # [a-z_][a-z0-9_]*: table rows and metric names
    source = "events"                     # logs | spans | events
    filter = "type:order_placed"          # the search language (docs/query-language.md)
    window = "1m"                         # window length
    slide = "10s"                         # optional: a window every 10 s (sliding)
    group_by = ["payload.status"]         # fields, as in `stats ... by`
    aggregates = ["count() as orders", "sum(payload.amount)", "p95(payload.latency_ms)"]
    ratios = { failed_ratio = "payload.status:failed" }   # share of the group's records
    lateness = "10s"                      # optional: else stream_lateness_s

Everything a query can get wrong is found here, before the server listens, and reported
as one ``ConfigError`` line naming the query and the key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from tracelake.durations import parse_duration
from tracelake.errors import ConfigError, QueryError
from tracelake.query import ast, compile_query, parse
from tracelake.query.sql import Shape
from tracelake.streams.query import ContinuousQuery
from tracelake.streams.sources import SOURCES
from tracelake.streams.statement import WindowStatement
from tracelake.streams.windows import WindowSpec

NAME_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
#: A ratio's name is the tail of a metric name (aggregates get theirs from ``metric_safe``).
OUTPUT_NAME_RE = re.compile(r"[A-Za-z0-9_]+")
_KEYS = {
    "name",
    "source",
    "filter",
    "window",
    "slide",
    "group_by",
    "aggregates",
    "ratios",
    "lateness",
}
MIN_WINDOW_US = 1_000_000
MAX_WINDOW_US = 86_400_000_000
MAX_LATENESS_US = 3_600_000_000
#: Queries per server, and aggregates + ratios per query: each costs a scan per window.
MAX_QUERIES = 64
MAX_OUTPUTS = 32


def parse_continuous_queries(
    tables: Sequence[Any], default_lateness_s: float
) -> list[ContinuousQuery]:
    """Validate the ``continuous_queries`` setting; raise ConfigError on the first fault."""
    if not isinstance(tables, list | tuple):
        raise ConfigError("continuous_queries must be a list of tables: use [[continuous_queries]]")
    if len(tables) > MAX_QUERIES:
        raise ConfigError(
            f"at most {MAX_QUERIES} continuous queries, got {len(tables)}: merge some with group_by"
        )
    queries: list[ContinuousQuery] = []
    for i, table in enumerate(tables, 1):
        if not isinstance(table, Mapping):
            raise ConfigError(f"continuous query {i} must be a table with name, source, window")
        query = _parse_one(table, i, default_lateness_s)
        if any(q.name == query.name for q in queries):
            raise ConfigError(f"two continuous queries are named {query.name!r}: rename one")
        queries.append(query)
    return queries


def _parse_one(table: Mapping[str, Any], index: int, default_lateness_s: float) -> ContinuousQuery:
    name = table.get("name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ConfigError(
            f"continuous query {index}: name must match [a-z_][a-z0-9_]* (up to 63 characters), "
            f"got {name!r}"
        )
    where = f"continuous query {name!r}"
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}; keys are {', '.join(sorted(_KEYS))}"
        )
    source = table.get("source")
    if source not in SOURCES:
        raise ConfigError(f"{where}: source must be one of {', '.join(SOURCES)}, got {source!r}")

    size = _duration(table.get("window"), f"{where}: window")
    slide = size if table.get("slide") is None else _duration(table["slide"], f"{where}: slide")
    if not MIN_WINDOW_US <= size <= MAX_WINDOW_US:
        raise ConfigError(f"{where}: window must be between 1s and 1d")
    if slide > size or slide < MIN_WINDOW_US:
        raise ConfigError(f"{where}: slide must be between 1s and the window length")
    if table.get("lateness") is None:
        lateness = round(default_lateness_s * 1e6)
    else:
        lateness = _duration(table["lateness"], f"{where}: lateness")
    if not 0 <= lateness <= MAX_LATENESS_US:
        raise ConfigError(f"{where}: lateness must be between 0s and 1h")

    text = table.get("filter", "*")
    if not isinstance(text, str):
        raise ConfigError(f"{where}: filter must be a search-language string such as 'level:error'")
    shape = SOURCES[source].shape
    _check_filter(text, shape, f"{where}: filter")

    group_by = _strings(table.get("group_by", []), f"{where}: group_by")
    aggregates = _strings(table.get("aggregates", ["count()"]), f"{where}: aggregates")
    ratios = table.get("ratios", {})
    if not isinstance(ratios, Mapping) or not all(isinstance(v, str) for v in ratios.values()):
        raise ConfigError(f'{where}: ratios must be a table of name = "filter"')
    for ratio_name, ratio_filter in ratios.items():
        if not OUTPUT_NAME_RE.fullmatch(ratio_name):
            raise ConfigError(
                f"{where}: ratio name {ratio_name!r} ends a metric name: use only "
                "ASCII letters, digits and '_'"
            )
        _check_filter(ratio_filter, shape, f"{where}: ratio {ratio_name!r}")
    if not aggregates and not ratios:
        raise ConfigError(f"{where}: give at least one aggregate or ratio")
    if len(aggregates) + len(ratios) > MAX_OUTPUTS:
        raise ConfigError(
            f"{where}: at most {MAX_OUTPUTS} aggregates and ratios: split it into two queries"
        )

    stats = _stats(aggregates, group_by, where)
    query = ContinuousQuery(
        name=name,
        source=source,
        filter=text,
        windows=WindowSpec(size, slide),
        lateness_us=lateness,
        group_by=tuple(group_by),
        aggregates=stats.aggregates,
        ratios=tuple((str(k), v) for k, v in ratios.items()),
    )
    # the SQL is built once here, so a field or function it cannot use fails the start
    try:
        WindowStatement.of(query)
    except QueryError as e:
        raise ConfigError(f"{where}: {e}") from e
    return query


def _check_filter(text: str, shape: Shape, where: str) -> None:
    try:
        if parse(text).pipes:
            raise ConfigError(
                f"{where}: a filter takes no pipes ('|'); use group_by and aggregates"
            )
        compile_query(text, table=shape.name)
    except QueryError as e:
        raise ConfigError(f"{where}: {e} in {text!r}") from e


def _stats(aggregates: list[str], group_by: list[str], where: str) -> ast.Stats:
    """Parse the aggregates and keys with the search language's own ``stats`` grammar."""
    text = "* | stats " + (", ".join(aggregates) or "count()")
    if group_by:
        text += " by " + ", ".join(group_by)
    try:
        pipes = parse(text).pipes
    except QueryError as e:
        raise ConfigError(f"{where}: {e} in {text[2:]!r}") from e
    if len(pipes) != 1 or not isinstance(pipes[0], ast.Stats):
        raise ConfigError(f"{where}: aggregates and group_by take no pipes ('|')")
    stats = pipes[0]
    for key in stats.by:
        if isinstance(key, ast.Bin):
            raise ConfigError(f"{where}: group_by takes fields; the window replaces bin()")
    if not aggregates:
        return ast.Stats((), stats.by, stats.column)
    return stats


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f'{where} must be a list of strings like ["status"]')
    return list(value)


def _duration(value: Any, where: str) -> int:
    """Microseconds of a duration (``"500ms"``, ``"10s"``, ``"1m30s"``) or of a number of
    seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return round(value * 1e6)
    if isinstance(value, str):
        try:
            return round(parse_duration(value.strip()) * 1e6)
        except ValueError:
            pass
    raise ConfigError(
        f'{where} must be a duration like "30s", "1m30s" or a number of seconds, got {value!r}'
    )
