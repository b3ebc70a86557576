"""Syntax tree of LogQL: frozen nodes the parser builds and the planner reads.

Log queries are a stream selector and a pipeline of stages; metric queries wrap a log
query in a range aggregation and then in vector aggregations, binary operations and
literals. Durations are nanoseconds (``int``), as Loki counts them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

MatchOp: TypeAlias = Literal["=", "!=", "=~", "!~"]
LineOp: TypeAlias = Literal["|=", "!=", "|~", "!~", "|>", "!>"]
CompareOp: TypeAlias = Literal["==", "=", "!=", "=~", "!~", ">", ">=", "<", "<="]
ValueKind: TypeAlias = Literal["string", "number", "duration", "bytes"]
Conversion: TypeAlias = Literal["", "duration", "duration_seconds", "bytes"]
GroupSide: TypeAlias = Literal["", "left", "right"]


@dataclass(frozen=True, slots=True)
class Matcher:
    """One ``name op "value"`` of a stream selector (also of ``drop``/``keep``)."""

    name: str
    op: MatchOp
    value: str


# --- pipeline stages ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineFilter:
    """``|= "a" or "b"``: ``values`` are alternatives (any matches for a positive op,
    none may match for a negative one)."""

    op: LineOp
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class JsonParser:
    """``| json`` (every field, flattened with ``_``) or ``| json a="x.y", b``."""

    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class LogfmtParser:
    """``| logfmt [--strict] [--keep-empty] [a="key", b]``."""

    params: tuple[tuple[str, str], ...] = ()
    strict: bool = False
    keep_empty: bool = False


@dataclass(frozen=True, slots=True)
class PatternParser:
    pattern: str


@dataclass(frozen=True, slots=True)
class RegexpParser:
    regex: str


@dataclass(frozen=True, slots=True)
class Unpack:
    """``| unpack``: the JSON object Promtail's ``pack`` stage made, ``_entry`` the line."""


@dataclass(frozen=True, slots=True)
class Decolorize:
    """``| decolorize``: strip ANSI colour codes from the line."""


@dataclass(frozen=True, slots=True)
class LabelCompare:
    """``name op value`` after a ``|``; ``kind`` says how the value was written."""

    name: str
    op: CompareOp
    value: str | float
    kind: ValueKind


@dataclass(frozen=True, slots=True)
class LabelAnd:
    left: LabelExpr
    right: LabelExpr


@dataclass(frozen=True, slots=True)
class LabelOr:
    left: LabelExpr
    right: LabelExpr


LabelExpr: TypeAlias = LabelCompare | LabelAnd | LabelOr


@dataclass(frozen=True, slots=True)
class LabelFilter:
    expr: LabelExpr


@dataclass(frozen=True, slots=True)
class LineFormat:
    template: str


@dataclass(frozen=True, slots=True)
class LabelFormat:
    """``| label_format dst=src, dst2="{{.x}}"``: (dst, source label or template,
    whether it is a template)."""

    items: tuple[tuple[str, str, bool], ...]


@dataclass(frozen=True, slots=True)
class Drop:
    """``| drop a, b="v"``: names alone, or matchers that drop a label only on a match."""

    items: tuple[Matcher | str, ...]


@dataclass(frozen=True, slots=True)
class Keep:
    items: tuple[Matcher | str, ...]


Stage: TypeAlias = (
    LineFilter
    | JsonParser
    | LogfmtParser
    | PatternParser
    | RegexpParser
    | Unpack
    | Decolorize
    | LabelFilter
    | LineFormat
    | LabelFormat
    | Drop
    | Keep
)


@dataclass(frozen=True, slots=True)
class LogQuery:
    """``{selector} stage*``: the lines of the streams the selector picks."""

    matchers: tuple[Matcher, ...]
    stages: tuple[Stage, ...] = ()


# --- metric queries ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Grouping:
    """``by (a, b)`` or ``without (a, b)``."""

    without: bool
    labels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Unwrap:
    """``| unwrap [duration|duration_seconds|bytes(]label[)]`` and the label filters after
    it (they drop samples whose conversion failed or that do not match)."""

    label: str
    conversion: Conversion = ""
    filters: tuple[LabelFilter, ...] = ()


@dataclass(frozen=True, slots=True)
class RangeAggregation:
    """``func(log query [range] [offset d])``, unwrapped or not, ``param`` for quantiles."""

    func: str
    query: LogQuery
    range_ns: int
    offset_ns: int = 0
    unwrap: Unwrap | None = None
    param: float | None = None
    grouping: Grouping | None = None


@dataclass(frozen=True, slots=True)
class VectorAggregation:
    """``op [by|without (...)] ([param,] expr)``."""

    op: str
    expr: MetricExpr
    grouping: Grouping | None = None
    param: float | None = None


@dataclass(frozen=True, slots=True)
class VectorMatching:
    on: bool
    labels: tuple[str, ...]
    group: GroupSide = ""
    include: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BinaryOp:
    op: str
    left: MetricExpr
    right: MetricExpr
    bool_modifier: bool = False
    matching: VectorMatching | None = None


@dataclass(frozen=True, slots=True)
class NumberLiteral:
    value: float


@dataclass(frozen=True, slots=True)
class VectorLiteral:
    """``vector(1)``: one series without labels, the same value at every step."""

    value: float


@dataclass(frozen=True, slots=True)
class LabelReplace:
    expr: MetricExpr
    dst: str
    replacement: str
    src: str
    regex: str


MetricExpr: TypeAlias = (
    RangeAggregation | VectorAggregation | BinaryOp | NumberLiteral | VectorLiteral | LabelReplace
)
Query: TypeAlias = LogQuery | MetricExpr
