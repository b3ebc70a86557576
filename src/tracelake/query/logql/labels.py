"""How a row of ``logs`` looks to LogQL: stream labels, structured metadata, line.

Stream labels are the indexed columns ``service``, ``level`` (lower case, as Loki and
Grafana spell levels) and ``host``. Everything else a row carries is structured
metadata, as Loki 3 presents what arrives beside the line: ``logger``, ``trace_id``,
``span_id`` and each key of ``attributes`` (so the labels a Loki push sent, which the
push route stores in ``attributes``). Nested objects flatten with ``_`` and names are
sanitized to ``[A-Za-z0-9_]``, as Loki's ``json`` parser does. Parsers add *parsed*
labels; a parsed name that collides with an existing label gets ``_extracted``.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

#: Stream labels: the columns Loki would index.
STREAM_LABELS: tuple[str, ...] = ("service", "level", "host")
#: Columns shown as structured metadata.
METADATA_COLUMNS: tuple[str, ...] = ("logger", "trace_id", "span_id")
#: What a log query selects per row, in this order (``ts`` is epoch nanoseconds).
ROW_COLUMNS: tuple[str, ...] = ("ts", *STREAM_LABELS, *METADATA_COLUMNS, "attributes", "message")
ERROR = "__error__"
ERROR_DETAILS = "__error_details__"
_INVALID = re.compile(r"[^A-Za-z0-9_]")


def sanitize(name: str) -> str:
    """A valid label name for ``name``, as Loki's parsers make one."""
    clean = _INVALID.sub("_", name)
    return "_" + clean if clean[:1].isdigit() else clean


def as_label_value(value: Any) -> str | None:
    """A JSON value as a label value: strings as they are, others as their JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    return orjson.dumps(value).decode()


def flatten(obj: dict[str, Any], out: dict[str, str], prefix: str = "") -> dict[str, str]:
    """Every scalar of ``obj`` under ``a_b`` names; arrays as JSON text."""
    for key, value in obj.items():
        name = prefix + sanitize(key)
        if isinstance(value, dict):
            flatten(value, out, name + "_")
        else:
            text = as_label_value(value)
            if text is not None:
                out[name] = text
    return out


class Entry:
    """One line on its way through a pipeline."""

    __slots__ = ("line", "meta", "parsed", "stream", "ts")

    def __init__(self, ts: int, line: str, stream: dict[str, str], meta: dict[str, str]) -> None:
        self.ts = ts
        self.line = line
        self.stream = stream
        self.meta = meta
        self.parsed: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        for labels in (self.parsed, self.meta, self.stream):
            value = labels.get(name)
            if value is not None:
                return value
        return None

    def has_error(self) -> bool:
        return ERROR in self.parsed

    def set_error(self, kind: str, details: str) -> None:
        if ERROR not in self.parsed:
            self.parsed[ERROR] = kind
            self.parsed[ERROR_DETAILS] = details

    def extract(self, name: str, value: str) -> None:
        """A parsed label; renamed ``name_extracted`` when a stream or metadata label
        has the name already."""
        if name in self.stream or name in self.meta:
            name += "_extracted"
        self.parsed[name] = value

    def delete(self, name: str) -> None:
        for labels in (self.parsed, self.meta, self.stream):
            labels.pop(name, None)

    def names(self) -> set[str]:
        return {*self.stream, *self.meta, *self.parsed}

    def labels(self) -> dict[str, str]:
        """Every label, the way Loki answers without ``categorize-labels``."""
        return {**self.stream, **self.meta, **self.parsed}


def entry_of(row: tuple[Any, ...]) -> Entry:
    """An entry from a row selected as ``ROW_COLUMNS``."""
    ts, service, level, host, logger, trace_id, span_id, attributes, message = row
    stream: dict[str, str] = {}
    if service:
        stream["service"] = service
    if level:
        stream["level"] = level.lower()
    if host:
        stream["host"] = host
    meta: dict[str, str] = {}
    if attributes:
        parsed = orjson.loads(attributes)
        if isinstance(parsed, dict):
            flatten(parsed, meta)
    for name, value in (("logger", logger), ("trace_id", trace_id), ("span_id", span_id)):
        if value:
            meta[name] = value
    for name in STREAM_LABELS:
        meta.pop(name, None)  # a column wins over an attribute of its name
    return Entry(int(ts), message or "", stream, meta)
