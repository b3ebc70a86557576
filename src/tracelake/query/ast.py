"""Syntax tree of the search language.

The parser produces these frozen nodes and the SQL compiler consumes them; nothing
else is shared between the two. Keeping the tree free of SQL means the same query can
be validated, pretty-printed or compiled for another engine without re-parsing, and
every node carries the 1-based column it came from so later stages can point at the
user's text when they reject something.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

CompareOp: TypeAlias = Literal[">", ">=", "<", "<="]
BinUnit: TypeAlias = Literal["s", "m", "h", "d"]


@dataclass(frozen=True, slots=True)
class Value:
    """A value as the user wrote it, escapes resolved.

    ``wildcards`` holds the indexes in ``text`` of the ``*`` and ``?`` that were
    written unescaped and unquoted; every other character is literal.
    """

    text: str
    column: int
    quoted: bool = False
    wildcards: frozenset[int] = frozenset()

    @property
    def has_wildcards(self) -> bool:
        return bool(self.wildcards)

    @property
    def is_star(self) -> bool:
        """True for a lone unescaped ``*`` (existence / match-all)."""
        return self.text == "*" and self.wildcards == frozenset({0})


# --- filter expressions ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MatchAll:
    """Every record (the empty query, or a bare ``*``)."""


@dataclass(frozen=True, slots=True)
class Text:
    """A free word or "phrase": case-insensitive substring of ``message``."""

    value: Value


@dataclass(frozen=True, slots=True)
class Match:
    """``field:value`` (the value may hold wildcards)."""

    field: str
    value: Value
    column: int


@dataclass(frozen=True, slots=True)
class Compare:
    """``field:>value`` and friends."""

    field: str
    op: CompareOp
    value: Value
    column: int


@dataclass(frozen=True, slots=True)
class Exists:
    """``field:*``: the field is present (not NULL)."""

    field: str
    column: int


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]


Expr: TypeAlias = MatchAll | Text | Match | Compare | Exists | Not | And | Or


# --- pipes -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Aggregate:
    """``func(field)`` in ``stats``; ``field`` is None for ``count()``."""

    func: str
    field: str | None
    alias: str | None
    column: int

    @property
    def name(self) -> str:
        """The output column name: the alias, else the canonical call text."""
        return self.alias or f"{self.func}({self.field or ''})"


@dataclass(frozen=True, slots=True)
class Bin:
    """``bin(5m)``: a time bucket of ``count`` ``unit`` (one of s m h d)."""

    count: int
    unit: BinUnit
    column: int

    @property
    def name(self) -> str:
        return f"bin({self.count}{self.unit})"


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A field named in a pipe (``by service``, ``fields http.status``)."""

    field: str
    column: int

    @property
    def name(self) -> str:
        return self.field


GroupKey: TypeAlias = FieldRef | Bin


@dataclass(frozen=True, slots=True)
class Stats:
    aggregates: tuple[Aggregate, ...]
    by: tuple[GroupKey, ...]
    column: int


@dataclass(frozen=True, slots=True)
class SortKey:
    """A sort key: a field, or for stats an output column such as ``count()``."""

    name: str
    descending: bool
    column: int


@dataclass(frozen=True, slots=True)
class Sort:
    keys: tuple[SortKey, ...]
    column: int


@dataclass(frozen=True, slots=True)
class Fields:
    fields: tuple[FieldRef, ...]
    column: int


@dataclass(frozen=True, slots=True)
class Limit:
    count: int
    column: int


Pipe: TypeAlias = Stats | Sort | Fields | Limit


@dataclass(frozen=True, slots=True)
class Query:
    """A whole query: the filter, then the pipes in the order written."""

    filter: Expr
    pipes: tuple[Pipe, ...] = ()
