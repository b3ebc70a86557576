"""Drop and sample rules: search-language filters evaluated on log objects in Python.

Rules run on the log objects before normalisation, not with DuckDB on the Arrow batch
after it: a dropped record then costs no normalising, no Arrow conversion and no
redaction; stream inputs hand over batches of one or a few records, for which a DuckDB
round trip (about a millisecond) would cost more than the record; and ingest workers
stay free of DuckDB. The price is a second evaluator of the language, kept small and
held to the SQL compiler's semantics by a parity test (tests/pipeline/test_rules.py)
that runs the same filters through ``compile_query`` on DuckDB.

Fields are read the way ``normalise`` will map them (``level`` normalised, ``service``
from its aliases, ids lower-cased); any other name is an attribute, nested by dots or
flat, as the SQL compiler resolves it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

import orjson

from tracelake.errors import QueryError, QuerySyntaxError
from tracelake.model import LEVELS, LogObject
from tracelake.pipeline.normalise import FIELD_KEYS, as_text, normalise_level, numbering_of
from tracelake.query import ast, parse

Predicate = Callable[[LogObject], bool]
Getter = Callable[[LogObject], Any]

_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_COLUMNS = ("timestamp", "level", "service", "message", "trace_id", "span_id", "host", "logger")
_ALIASES = dict(zip(_COLUMNS, FIELD_KEYS, strict=True))
_ALL_COLUMN_KEYS = frozenset(k for keys in FIELD_KEYS for k in keys)
_LEVEL_RANK = {level: i for i, level in enumerate(LEVELS)}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": float.__gt__,
    ">=": float.__ge__,
    "<": float.__lt__,
    "<=": float.__le__,
}


def compile_filter(text: str) -> Predicate:
    """A predicate for the filter ``text``; raises QueryError for what rules cannot test."""
    query = parse(text)
    if query.pipes:
        raise QueryError("rules take a filter only, without pipes ('|')")
    return _Compiler(text).expr(query.filter)


# --- drop and sample ---------------------------------------------------------------

_TRACE_KEYS = FIELD_KEYS[4]
_BOUND = 1 << 64


def trace_keeps(trace_id: str, rate: float) -> bool | None:
    """Whether a trace is in the kept ``rate`` share, or None when the id is not hex.

    The lower 64 bits of the id against ``rate * 2**64``: the rule OpenTelemetry's
    ``TraceIdRatioBased`` sampler uses, so a trace the SDK keeps at a rate is kept
    here at the same rate, and all records of one trace share one decision.
    """
    try:
        low = int(trace_id[-16:], 16)
    except ValueError:
        return None
    return low < _bound(rate)


def _bound(rate: float) -> int:
    return round(rate * _BOUND)


class Rules:
    """Drop rules, then sample rules (the first whose query matches decides)."""

    __slots__ = ("_drops", "_random", "_samples")

    def __init__(
        self,
        drops: list[str],
        samples: list[tuple[str, float]],
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._drops = [compile_filter(q) for q in drops]
        self._samples = [(compile_filter(q), rate, _bound(rate)) for q, rate in samples]
        self._random = rng

    def keep(self, obj: LogObject) -> bool:
        for matches in self._drops:
            if matches(obj):
                return False
        for matches, rate, bound in self._samples:
            if matches(obj):
                return self._sampled(obj, rate, bound)
        return True

    def _sampled(self, obj: LogObject, rate: float, bound: int) -> bool:
        trace_id = _raw_id(obj)
        if trace_id is not None:
            try:
                return int(trace_id[-16:], 16) < bound
            except ValueError:
                pass
        return self._random() < rate


def _raw_id(obj: LogObject) -> str | None:
    for key in _TRACE_KEYS:
        if key in obj:
            value = obj[key]
            if value is None or value == "":
                return None
            return (value if type(value) is str else str(value)).strip()
    return None


# --- the evaluator -----------------------------------------------------------------


class _Compiler:
    def __init__(self, text: str) -> None:
        self.src = text

    def expr(self, node: ast.Expr) -> Predicate:
        if isinstance(node, ast.And):
            return _all([self.expr(e) for e in node.items])
        if isinstance(node, ast.Or):
            return _any([self.expr(e) for e in node.items])
        if isinstance(node, ast.Not):
            inner = self.expr(node.operand)
            return lambda obj: not inner(obj)
        if isinstance(node, ast.MatchAll):
            return lambda obj: True
        if isinstance(node, ast.Text):
            return _contains(_message, node.value)
        if isinstance(node, ast.Exists):
            get = self.getter(node.field)
            return lambda obj: get(obj) is not None
        if isinstance(node, ast.Match):
            return self.match(node)
        return self.compare(node)

    def getter(self, name: str) -> Getter:
        if name in ("timestamp", "@timestamp"):
            raise QueryError("rules cannot test the timestamp: it is parsed after them")
        if name == "attributes":
            return _attributes_text
        if name == "level":
            return _level
        if name in ("trace_id", "span_id"):
            keys, width = _ALIASES[name], 32 if name == "trace_id" else 16
            return lambda obj: _hex(_first(obj, keys), width)
        if name in ("service", "host"):
            keys = _ALIASES[name]
            fallback = _ALIASES["logger"] if name == "service" else ()
            return lambda obj: _named(obj, keys, fallback)
        if name in ("message", "logger"):
            keys = _ALIASES[name]
            return lambda obj: as_text(_first(obj, keys))
        if name == "original_level":
            return _original_level
        return _attribute(name)

    def match(self, node: ast.Match) -> Predicate:
        name, value = node.field, node.value
        if name in ("message", "attributes"):
            return _contains(self.getter(name), value)
        get = self.getter(name)
        if value.has_wildcards:
            # level is ILIKE; ids are stored and matched lower-case
            fold = name in ("level", "trace_id", "span_id")
            regex = re.compile(_wildcard_regex(value), re.DOTALL | (re.IGNORECASE if fold else 0))
            return lambda obj: _like(get(obj), regex)
        if name == "level":
            wanted = value.text.upper()
        elif name in ("trace_id", "span_id"):
            wanted = value.text.lower()
        elif name not in _ALIASES and not value.quoted and _NUMBER_RE.fullmatch(value.text):
            number = float(value.text)
            return lambda obj: _number(get(obj)) == number
        else:
            wanted = value.text
        return lambda obj: get(obj) == wanted

    def compare(self, node: ast.Compare) -> Predicate:
        name, op = node.field, node.op
        get = self.getter(name)
        if name == "level":
            level = node.value.text.upper()
            if level not in _LEVEL_RANK:
                raise QuerySyntaxError(
                    f"unknown level '{node.value.text}'; expected one of {', '.join(LEVELS)}",
                    node.value.column,
                    self.src,
                )
            test = _COMPARE[op]
            rank = float(_LEVEL_RANK[level])
            return lambda obj: test(float(_LEVEL_RANK[get(obj)]), rank)
        if name in _ALIASES or name == "attributes":
            raise QueryError(
                f"'{name}' is text: comparisons (:> :>= :< :<=) apply to level and numeric "
                f"attribute fields (column {node.column})"
            )
        if not _NUMBER_RE.fullmatch(node.value.text):
            raise QuerySyntaxError(
                f"expected a number after '{name}:{op}'", node.value.column, self.src
            )
        test, bound = _COMPARE[op], float(node.value.text)

        def compare(obj: LogObject) -> bool:
            n = _number(get(obj))
            return n is not None and test(n, bound)

        return compare


def _all(items: list[Predicate]) -> Predicate:
    if len(items) == 2:
        a, b = items
        return lambda obj: a(obj) and b(obj)

    def every(obj: LogObject) -> bool:  # a loop: all() over a generator costs 2x per record
        for p in items:  # noqa: SIM110
            if not p(obj):
                return False
        return True

    return every


def _any(items: list[Predicate]) -> Predicate:
    def some(obj: LogObject) -> bool:
        for p in items:  # noqa: SIM110
            if p(obj):
                return True
        return False

    return some


# --- field access, mirroring normalise and the SQL compiler ---------------------------


def _first(obj: LogObject, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in obj:
            return obj[key]
    return None


def _message(obj: LogObject) -> str | None:
    return as_text(_first(obj, _ALIASES["message"]))


def _level(obj: LogObject) -> str:
    """As ``normalise`` reads it without a declared numbering: pino's 30 is INFO here too."""
    for key in _ALIASES["level"]:
        if key in obj:
            return normalise_level(obj[key], numbering_of(obj)) or "INFO"
    return "INFO"


def _original_level(obj: LogObject) -> str | None:
    """What normalise keeps of a level word it does not know."""
    for key in _ALIASES["level"]:
        if key in obj:
            raw = obj[key]
            if normalise_level(raw) is None:
                return _json_string(raw)
            break
    return _json_string(obj.get("original_level"))


def _named(obj: LogObject, keys: tuple[str, ...], fallback: tuple[str, ...]) -> str | None:
    value = _first(obj, keys)
    if type(value) is dict:
        value = value.get("name")
    if value is None and fallback:
        value = _first(obj, fallback)
    return as_text(value)


def _hex(value: Any, width: int) -> str | None:
    if value is None or value == "":
        return None
    text = (value if type(value) is str else str(value)).strip().lower()
    if width == 32 and len(text) == 16:
        text = "0" * 16 + text
    return None if text.strip("0") == "" else text


def _consumed(obj: LogObject) -> set[str]:
    """The keys normalise will move into columns (dict service/host stay attributes)."""
    used: set[str] = set()
    for keys in FIELD_KEYS:
        key = next((k for k in keys if k in obj), None)
        if key is not None and not (type(obj[key]) is dict and key in ("service", "host")):
            used.add(key)
    return used


def _attribute(name: str) -> Getter:
    """json_extract_string of the attributes: nested by dots first, then the flat key."""
    parts = name.split(".")

    def get(obj: LogObject) -> Any:
        value: Any = obj
        for part in parts:
            if type(value) is not dict or part not in value:
                value = None
                break
            value = value[part]
        if value is not None and parts[0] in _ALL_COLUMN_KEYS and parts[0] in _consumed(obj):
            value = None
        if value is None and len(parts) > 1 and name in obj and name not in _consumed(obj):
            value = obj[name]
        return _json_string(value)

    return get


def _json_string(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    return orjson.dumps(value).decode()


def _attributes_text(obj: LogObject) -> str | None:
    used = _consumed(obj)
    rest = {k: v for k, v in obj.items() if k not in used}
    return orjson.dumps(rest).decode() if rest else None


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _contains(get: Getter, value: ast.Value) -> Predicate:
    if value.has_wildcards:
        regex = re.compile(_wildcard_regex(value), re.IGNORECASE | re.DOTALL)
        return lambda obj: _like(get(obj), regex, anywhere=True)
    needle = value.text.lower()

    def contains(obj: LogObject) -> bool:
        text = get(obj)
        return text is not None and needle in text.lower()

    return contains


def _like(text: str | None, regex: re.Pattern[str], anywhere: bool = False) -> bool:
    if text is None:
        return False
    return (regex.search(text) if anywhere else regex.fullmatch(text)) is not None


def _wildcard_regex(value: ast.Value) -> str:
    return "".join(
        (".*" if ch == "*" else ".") if i in value.wildcards else re.escape(ch)
        for i, ch in enumerate(value.text)
    )
