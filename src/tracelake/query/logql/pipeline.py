"""The pipeline stages SQL cannot run, over the rows SQL returned.

Each stage is compiled once into a function of an :class:`Entry` that returns False to
drop the line. Semantics follow Loki's: a parser that fails sets ``__error__`` (and
``__error_details__``) and keeps the line; a numeric label filter passes lines that
carry an error and drops lines without the label; string filters treat a missing label
as the empty string, as selectors do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from tracelake.query.logql import ast
from tracelake.query.logql.labels import (
    ERROR,
    ERROR_DETAILS,
    Entry,
    as_label_value,
    flatten,
    sanitize,
)
from tracelake.query.logql.template import Template
from tracelake.query.logql.units import bytes_value, duration_ns

StageFn = Callable[[Entry], bool]
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LOGFMT = re.compile(r'\s*([^\s=]+)(?:=("(?:[^"\\]|\\.)*"|\S*))?')
_PATTERN_PART = re.compile(r"<(_|[A-Za-z_][A-Za-z0-9_]*)>")
_JSON_PATH = re.compile(r'\.?([A-Za-z0-9_\-]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]')


def go_regex(regex: str) -> re.Pattern[str]:
    """Go's RE2 syntax as Python's ``re`` reads it (``(?<name>`` is ``(?P<name>``)."""
    try:
        return re.compile(re.sub(r"\(\?<([A-Za-z_][A-Za-z0-9_]*)>", r"(?P<\1>", regex))
    except re.error as e:
        from tracelake.query.logql.errors import LogQLError

        raise LogQLError(f"invalid regular expression {regex!r}: {e}") from e


def compile_pipeline(stages: Sequence[ast.Stage]) -> list[StageFn]:
    return [_compile(stage) for stage in stages]


def run_pipeline(fns: Sequence[StageFn], entry: Entry) -> bool:
    return all(fn(entry) for fn in fns)


def _compile(stage: ast.Stage) -> StageFn:
    if isinstance(stage, ast.LineFilter):
        test = line_test(stage)
        return lambda e: test(e.line)
    if isinstance(stage, ast.JsonParser):
        return _json(stage.params)
    if isinstance(stage, ast.LogfmtParser):
        return _logfmt(stage)
    if isinstance(stage, ast.PatternParser):
        match = pattern_matcher(stage.pattern)

        def pattern(e: Entry) -> bool:
            found = match(e.line)
            if found:
                for name, value in found.items():
                    e.extract(name, value)
            return True

        return pattern
    if isinstance(stage, ast.RegexpParser):
        regex = go_regex(stage.regex)
        names = list(regex.groupindex)
        if not names:
            from tracelake.query.logql.errors import LogQLError

            raise LogQLError("at least one named capture must be supplied in a regexp parser")

        def regexp(e: Entry) -> bool:
            m = regex.search(e.line)
            if m:
                for name in names:
                    value = m.group(name)
                    if value is not None:
                        e.extract(sanitize(name), value)
            return True

        return regexp
    if isinstance(stage, ast.Unpack):
        return _unpack
    if isinstance(stage, ast.Decolorize):

        def decolorize(e: Entry) -> bool:
            e.line = _ANSI.sub("", e.line)
            return True

        return decolorize
    if isinstance(stage, ast.LabelFilter):
        test_labels = label_test(stage.expr)
        return test_labels
    if isinstance(stage, ast.LineFormat):
        template = Template(stage.template)

        def line_format(e: Entry) -> bool:
            e.line = template.render(e.labels(), e.line, e.ts)
            return True

        return line_format
    if isinstance(stage, ast.LabelFormat):
        return _label_format(stage)
    if isinstance(stage, ast.Drop):
        return _drop_keep(stage.items, keep=False)
    return _drop_keep(stage.items, keep=True)


# --- line filters ------------------------------------------------------------------


def line_test(stage: ast.LineFilter) -> Callable[[str], bool]:
    """The line filter as a test of the line."""
    op = stage.op
    if op in ("|=", "!="):
        values = stage.values

        def found(line: str) -> bool:
            return any(v in line for v in values)

    elif op in ("|~", "!~"):
        regexes = [go_regex(v) for v in stage.values]

        def found(line: str) -> bool:
            return any(r.search(line) for r in regexes)

    else:
        matchers = [pattern_matcher(v) for v in stage.values]

        def found(line: str) -> bool:
            return any(m(line) is not None for m in matchers)

    if op.startswith("!"):
        return lambda line: not found(line)
    return found


def pattern_parts(pattern: str) -> list[tuple[bool, str]]:
    """A pattern as (is_capture, text) parts: ``<name>``/``<_>`` captures and literals."""
    parts: list[tuple[bool, str]] = []
    pos = 0
    for m in _PATTERN_PART.finditer(pattern):
        if m.start() > pos:
            parts.append((False, pattern[pos : m.start()]))
        if parts and parts[-1][0]:
            from tracelake.query.logql.errors import LogQLError

            raise LogQLError(f"invalid pattern {pattern!r}: two captures must be apart")
        parts.append((True, m.group(1)))
        pos = m.end()
    if pos < len(pattern):
        parts.append((False, pattern[pos:]))
    return parts


def pattern_matcher(pattern: str) -> Callable[[str], dict[str, str] | None]:
    """Loki's pattern match: literals in order from the line's start, each capture up
    to the next literal (the last one to the line's end); None when a literal is
    missing."""
    parts = pattern_parts(pattern)

    def match(line: str) -> dict[str, str] | None:
        pos = 0
        found: dict[str, str] = {}
        for i, (capture, text) in enumerate(parts):
            if not capture:
                if i == 0:
                    if not line.startswith(text):
                        return None
                    pos = len(text)
                continue
            if i + 1 < len(parts):
                literal = parts[i + 1][1]
                end = line.find(literal, pos)
                if end < 0:
                    return None
                value, pos = line[pos:end], end + len(literal)
            else:
                value, pos = line[pos:], len(line)
            if text != "_":
                found[text] = value
        return found

    return match


# --- parsers -----------------------------------------------------------------------


def _json_path(expr: str) -> list[str | int]:
    path: list[str | int] = []
    pos = 0
    while pos < len(expr):
        m = _JSON_PATH.match(expr, pos)
        if m is None or m.end() == pos:
            from tracelake.query.logql.errors import LogQLError

            raise LogQLError(f"invalid JSON expression {expr!r}")
        key, index, quoted = m.groups()
        path.append(int(index) if index is not None else key if key is not None else quoted)
        pos = m.end()
    return path


def _json_object(e: Entry) -> dict[str, Any] | None:
    """The line as a JSON object, or None with Loki's ``JSONParserErr`` set on the entry
    (the entry is kept: a label filter on ``__error__`` decides)."""
    try:
        doc = orjson.loads(e.line)
    except orjson.JSONDecodeError as exc:
        e.set_error("JSONParserErr", str(exc))
        return None
    if not isinstance(doc, dict):
        e.set_error("JSONParserErr", "the line is not a JSON object")
        return None
    return doc


def _json(params: tuple[tuple[str, str], ...]) -> StageFn:
    paths = [(sanitize(name), _json_path(expr)) for name, expr in params]

    def parse(e: Entry) -> bool:
        doc = _json_object(e)
        if doc is None:
            return True
        if not paths:
            for name, text in flatten(doc, {}).items():
                e.extract(name, text)
            return True
        for name, path in paths:
            node: Any = doc
            for step in path:
                if isinstance(step, int) and isinstance(node, list) and step < len(node):
                    node = node[step]
                elif isinstance(step, str) and isinstance(node, dict):
                    node = node.get(step)
                else:
                    node = None
                    break
            found = as_label_value(node)
            e.extract(name, found if found is not None else "")
        return True

    return parse


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"':
        try:
            text = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value[1:-1]
        return text if isinstance(text, str) else value[1:-1]
    return value


def _logfmt(stage: ast.LogfmtParser) -> StageFn:
    wanted = {expr: sanitize(name) for name, expr in stage.params}

    def parse(e: Entry) -> bool:
        pos, line = 0, e.line
        while pos < len(line):
            m = _LOGFMT.match(line, pos)
            if m is None or m.end() == pos:
                if stage.strict:
                    e.set_error("LogfmtParserErr", f"logfmt syntax error at pos {pos + 1}")
                    return True
                pos += 1
                continue
            pos = m.end()
            key, raw = m.group(1), m.group(2)
            if '"' in key:
                if stage.strict:
                    e.set_error("LogfmtParserErr", f"logfmt syntax error at pos {m.start() + 1}")
                    return True
                continue
            value = _unquote(raw) if raw is not None else ""
            if not value and not stage.keep_empty:
                continue
            if wanted:
                if key in wanted:
                    e.extract(wanted[key], value)
            else:
                e.extract(sanitize(key), value)
        return True

    return parse


def _unpack(e: Entry) -> bool:
    doc = _json_object(e)
    if doc is None:
        return True
    for key, value in doc.items():
        if key == "_entry" and isinstance(value, str):
            e.line = value
        elif isinstance(value, str):
            e.extract(sanitize(key), value)
    return True


# --- label stages ------------------------------------------------------------------


def _number(label: ast.LabelCompare, text: str) -> float | None:
    if label.kind == "duration":
        ns = duration_ns(text.strip())
        return None if ns is None else ns / 1e9
    if label.kind == "bytes":
        return bytes_value(text)
    try:
        return float(text)
    except ValueError:
        return None


_NUMERIC: dict[str, Callable[[float, float], bool]] = {
    "==": lambda a, b: a == b,
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def string_test(op: str, value: str) -> Callable[[str], bool]:
    """A selector-style matcher as a test of a label value ("" when absent)."""
    if op == "=":
        return lambda v: v == value
    if op == "!=":
        return lambda v: v != value
    regex = go_regex(value)
    if op == "=~":
        return lambda v: regex.fullmatch(v) is not None
    return lambda v: regex.fullmatch(v) is None


def label_test(expr: ast.LabelExpr) -> StageFn:
    if isinstance(expr, ast.LabelAnd):
        left, right = label_test(expr.left), label_test(expr.right)
        return lambda e: left(e) and right(e)
    if isinstance(expr, ast.LabelOr):
        left, right = label_test(expr.left), label_test(expr.right)
        return lambda e: left(e) or right(e)
    name = expr.name
    if expr.kind == "string":
        test = string_test(expr.op, str(expr.value))
        return lambda e: test(e.get(name) or "")
    compare = _NUMERIC[expr.op]
    bound = float(expr.value)

    def numeric(e: Entry) -> bool:
        if e.has_error():
            return True
        text = e.get(name)
        if text is None:
            return False
        number = _number(expr, text)
        if number is None:
            e.set_error("LabelFilterErr", f"{name}={text!r} is not a {expr.kind}")
            return True
        return compare(number, bound)

    return numeric


def _label_format(stage: ast.LabelFormat) -> StageFn:
    items = [(dst, Template(src) if is_template else src) for dst, src, is_template in stage.items]

    def label_format(e: Entry) -> bool:
        labels = e.labels()
        renamed: list[str] = []
        for dst, src in items:
            if isinstance(src, Template):
                e.parsed[dst] = src.render(labels, e.line, e.ts)
            else:
                value = labels.get(src)
                if value is not None:
                    e.parsed[dst] = value
                    renamed.append(src)
        for src in renamed:
            if all(src != dst for dst, _ in items):
                e.delete(src)
        return True

    return label_format


def _drop_keep(items: tuple[ast.Matcher | str, ...], *, keep: bool) -> StageFn:
    names = {item for item in items if isinstance(item, str)}
    matchers = [
        (item.name, string_test(item.op, item.value))
        for item in items
        if isinstance(item, ast.Matcher)
    ]

    def selected(e: Entry, name: str) -> bool:
        if name in names:
            return True
        value = e.get(name)
        return any(n == name and test(value or "") for n, test in matchers)

    def apply(e: Entry) -> bool:
        for name in list(e.names()):
            if selected(e, name) != keep and not (keep and name in (ERROR, ERROR_DETAILS)):
                e.delete(name)
        return True

    return apply
