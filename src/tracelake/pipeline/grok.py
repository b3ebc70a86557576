"""Grok: ``%{PATTERN:field:type}`` text patterns compiled to one Python regex.

Grok is what Logstash, Elastic ingest pipelines and Graylog users already write, so
rules carry over. ``%{NAME}`` matches without capturing, ``%{NAME:field}`` captures
into ``field`` (dots are kept in the key: ``http.status`` is searchable as such) and
``%{NAME:field:int}`` / ``:float`` converts. Plain ``(?P<field>...)`` groups also
capture. Like Logstash, a pattern matches anywhere in the text unless anchored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from tracelake.pipeline.patterns import PATTERNS

_REF = re.compile(r"%\{(\w+)(?::([\w.@\[\]-]+))?(?::(int|float))?\}")
_NAMED_GROUP = re.compile(r"\(\?P<([A-Za-z_][\w]*)>")
_MAX_DEPTH = 32


class GrokError(ValueError):
    """A grok pattern that cannot be compiled (unknown name, recursion, bad regex)."""


@dataclass(frozen=True, slots=True)
class Capture:
    field: str
    convert: str | None  # "int", "float" or None


class Grok:
    """One compiled grok pattern; ``match`` gives the captured fields or None."""

    __slots__ = ("_groups", "captures", "pattern", "regex")

    def __init__(self, pattern: str, library: Mapping[str, str] = PATTERNS) -> None:
        self.pattern = pattern
        captures: list[Capture] = []
        expanded = _expand(pattern, library, captures, 0)
        try:
            self.regex = re.compile(expanded)
        except re.error as e:
            raise GrokError(f"pattern {pattern!r} is not a valid regular expression: {e}") from e
        self.captures = tuple(captures)
        self._groups = tuple(self.regex.groupindex[f"_g{i}"] for i in range(len(captures)))

    def match(self, text: str) -> dict[str, Any] | None:
        """Fields captured from ``text`` (groups that matched nothing are left out)."""
        m = self.regex.search(text)
        if m is None:
            return None
        out: dict[str, Any] = {}
        values = [m.group(i) for i in self._groups]
        for capture, value in zip(self.captures, values, strict=True):
            if value is None:
                continue
            if capture.convert is not None:
                try:
                    out[capture.field] = int(value) if capture.convert == "int" else float(value)
                    continue
                except ValueError:
                    pass
            out[capture.field] = value
        return out


@lru_cache(maxsize=256)
def compile_grok(pattern: str) -> Grok:
    """A compiled pattern of the default library (cached: rules share patterns)."""
    return Grok(pattern)


def _expand(pattern: str, library: Mapping[str, str], captures: list[Capture], depth: int) -> str:
    """``pattern`` with every ``%{...}`` replaced; capture N becomes group ``_gN``.

    User ``(?P<name>`` groups are renamed the same way, so field names need not be
    Python identifiers and the same field may appear in two alternatives.
    """
    if depth > _MAX_DEPTH:
        raise GrokError(f"patterns nest more than {_MAX_DEPTH} deep: is one recursive?")
    out: list[str] = []
    pos = 0
    for ref in _REF.finditer(pattern):
        out.append(_user_groups(pattern[pos : ref.start()], captures))
        pos = ref.end()
        name, field, convert = ref.groups()
        if name not in library:
            raise GrokError(f"unknown pattern %{{{name}}}: see docs/pipeline.md for the library")
        if field is None:
            out.append("(?:" + _expand(library[name], library, captures, depth + 1) + ")")
        else:
            index = len(captures)
            captures.append(Capture(_field_name(field), convert))
            inner = _expand(library[name], library, captures, depth + 1)
            out.append(f"(?P<_g{index}>{inner})")
    out.append(_user_groups(pattern[pos:], captures))
    return "".join(out)


def _user_groups(text: str, captures: list[Capture]) -> str:
    def rename(m: re.Match[str]) -> str:
        captures.append(Capture(m.group(1), None))
        return f"(?P<_g{len(captures) - 1}>"

    return _NAMED_GROUP.sub(rename, text)


def _field_name(field: str) -> str:
    """Logstash's ``[http][status]`` field syntax → ``http.status``."""
    if field.startswith("["):
        return ".".join(part for part in re.split(r"[\[\]]+", field) if part)
    return field
