"""The ``[pipeline]`` section of tracelake.toml: validated, then built into a ``Pipeline``.

Settings keep the section as the plain dict the TOML file gave; this module is the one
place that reads it. Every mistake is a ``ConfigError`` of one line naming the key, with
its position for array entries (``pipeline.drop[1].query``), raised when the server
starts, never at the first record. docs/pipeline.md describes the section.

A ``Pipeline`` pickles as its canonical config text and is rebuilt (once per process,
cached) on the other side, so ingest worker processes run the same processors without
shipping compiled regexes with every request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from tracelake.errors import ConfigError, QueryError
from tracelake.model import IngestResult, LogObject
from tracelake.pipeline.enrich import Enricher, StaticFields
from tracelake.pipeline.grok import GrokError, compile_grok
from tracelake.pipeline.multiline import STACK_TRACE_CONTINUATION, MultilineJoiner
from tracelake.pipeline.parse import (
    FORMATS,
    ParseStep,
    TextParser,
    TimestampParser,
    TimestampStep,
    merge_json_message,
)
from tracelake.pipeline.redact import (
    DEFAULT_REDACT_KEYS,
    DEFAULT_REDACT_PATTERNS,
    REDACT_PATTERNS,
    RedactConfig,
    Redactor,
)
from tracelake.pipeline.rules import Rules, compile_filter


@dataclass(frozen=True, slots=True)
class ParseRule:
    """``[[pipeline.parse]]``: a built-in ``format`` or grok ``patterns`` over ``field``."""

    where: str  # the rule's position, for messages: "pipeline.parse[0]"
    field: str | None  # None: the record's message key (message, msg)
    format: str | None
    patterns: tuple[str, ...]
    query: str | None
    tag_on_failure: bool


@dataclass(frozen=True, slots=True)
class TimestampRule:
    """``[[pipeline.timestamp]]``: ``field`` read with strptime ``formats`` → ``@timestamp``."""

    where: str
    field: str
    formats: tuple[str, ...]
    timezone: str
    query: str | None


@dataclass(frozen=True, slots=True)
class EnrichConfig:
    """``[pipeline.enrich]``: static fields added to every record."""

    fields: tuple[tuple[str, Any], ...] = ()
    override: bool = False


@dataclass(frozen=True, slots=True)
class DropRule:
    where: str
    query: str


@dataclass(frozen=True, slots=True)
class SampleRule:
    where: str
    query: str
    rate: float


@dataclass(frozen=True, slots=True)
class MultilineConfig:
    """``[pipeline.multiline]``: how stream listeners join the lines of one event."""

    start: str | None = None
    continuation: str | None = STACK_TRACE_CONTINUATION
    max_lines: int = 500
    timeout_s: float = 1.0


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """The whole ``[pipeline]`` section; the default is what an empty section means."""

    json_message: bool = False
    parse: tuple[ParseRule, ...] = ()
    timestamp: tuple[TimestampRule, ...] = ()
    enrich: EnrichConfig = field(default_factory=EnrichConfig)
    drop: tuple[DropRule, ...] = ()
    sample: tuple[SampleRule, ...] = ()
    redact: RedactConfig = field(default_factory=RedactConfig)
    multiline: MultilineConfig | None = None


# --- the pipeline ------------------------------------------------------------------


class Pipeline:
    """The configured processors, in two phases around normalisation.

    ``run`` works on the log objects, per record in order: JSON-in-message, parse rules,
    timestamp rules, enrichers, then drop/sample rules (after parsing and enrichment so
    they can test parsed fields). ``redactor`` works on the normalised batch
    (``ingest/tables/logs.py::logs_batch``), where a C++ screen makes the default cheap.
    """

    def __init__(self, raw: Mapping[str, Any] | None = None) -> None:
        raw = dict(raw or {})
        self.config = load_pipeline_config(raw)
        self._text = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS).decode()
        cfg = self.config
        self.steps: list[Callable[[LogObject], None]] = []
        if cfg.json_message:
            self.steps.append(merge_json_message)
        self.steps += [_parse_step(rule) for rule in cfg.parse]
        self.steps += [
            TimestampStep(r.field, TimestampParser(r.formats, r.timezone), _when(r.query))
            for r in cfg.timestamp
        ]
        #: The enrichment seam: callables appended here run after the static fields.
        self.enrichers: list[Enricher] = []
        if cfg.enrich.fields:
            self.enrichers.append(StaticFields(cfg.enrich.fields, cfg.enrich.override))
        self.rules = (
            Rules([d.query for d in cfg.drop], [(s.query, s.rate) for s in cfg.sample])
            if cfg.drop or cfg.sample
            else None
        )
        redactor = Redactor(cfg.redact)
        self.redactor = redactor if redactor.active else None

    def joiner(self) -> MultilineJoiner | None:
        """A fresh multiline joiner for one stream, or None when none is configured."""
        m = self.config.multiline
        if m is None:
            return None
        return MultilineJoiner(
            start=m.start, continuation=m.continuation, max_lines=m.max_lines, timeout_s=m.timeout_s
        )

    def __reduce__(self) -> tuple[Callable[[str], Pipeline], tuple[str]]:
        return _rebuild, (self._text,)

    def run(
        self, objects: list[LogObject], lines: list[int], result: IngestResult
    ) -> tuple[list[LogObject], list[int], int]:
        """Process ``objects`` in place: the kept ones, their line numbers, and how many
        rules dropped. A record a processor fails on is rejected, never stored half-done.
        """
        steps = [*self.steps, *self.enrichers]
        keep = self.rules.keep if self.rules is not None else None
        if not steps and keep is None:
            return objects, lines, 0
        if keep is None:
            return self._transform(steps, objects, lines, result)
        kept: list[LogObject] = []
        kept_lines: list[int] = []
        dropped = 0
        append, append_line = kept.append, kept_lines.append
        for obj, line in zip(objects, lines, strict=True):
            try:
                for step in steps:
                    step(obj)
                if not keep(obj):
                    dropped += 1
                    continue
            except Exception as e:  # a processor bug must not stop ingest
                result.reject(line, _failure(e))
                continue
            append(obj)
            append_line(line)
        return kept, kept_lines, dropped

    @staticmethod
    def _transform(
        steps: list[Callable[[LogObject], None]],
        objects: list[LogObject],
        lines: list[int],
        result: IngestResult,
    ) -> tuple[list[LogObject], list[int], int]:
        """No rules: change the objects in place, new lists only if one fails."""
        failed: set[int] = set()
        for i, obj in enumerate(objects):
            try:
                for step in steps:
                    step(obj)
            except Exception as e:  # a processor bug must not stop ingest
                result.reject(lines[i], _failure(e))
                failed.add(i)
        if not failed:
            return objects, lines, 0
        keep = [i for i in range(len(objects)) if i not in failed]
        return [objects[i] for i in keep], [lines[i] for i in keep], 0


def _failure(e: Exception) -> str:
    return f"pipeline failed on this record: {type(e).__name__}: {e}"


@lru_cache(maxsize=8)
def _rebuild(text: str) -> Pipeline:
    return Pipeline(orjson.loads(text))


def _when(query: str | None) -> Callable[[LogObject], bool] | None:
    return compile_filter(query) if query is not None else None


def _parse_step(rule: ParseRule) -> ParseStep:
    if rule.format is not None:
        fmt = FORMATS[rule.format]
        timestamp = (fmt.time_field, TimestampParser(fmt.time_formats)) if fmt.time_field else None
        return ParseStep(
            [fmt.parse],
            field=rule.field,
            guard=fmt.guard,
            when=_when(rule.query),
            tag_on_failure=rule.tag_on_failure,
            timestamp=timestamp,
        )
    parsers: list[TextParser] = [compile_grok(p).match for p in rule.patterns]
    return ParseStep(
        parsers, field=rule.field, when=_when(rule.query), tag_on_failure=rule.tag_on_failure
    )


# --- validation --------------------------------------------------------------------

_SECTION_KEYS = (
    "json_message",
    "parse",
    "timestamp",
    "enrich",
    "drop",
    "sample",
    "redact",
    "multiline",
)


def load_pipeline_config(raw: Mapping[str, Any]) -> PipelineConfig:
    """Validate the ``pipeline`` setting; raises ConfigError naming the bad key."""
    section = _table(raw, "pipeline", _SECTION_KEYS)
    parse_rules = tuple(
        _parse_rule(t, w, FORMATS)
        for w, t in _tables(
            section,
            "pipeline.parse",
            ("field", "format", "pattern", "patterns", "query", "tag_on_failure"),
        )
    )
    timestamp_rules = tuple(
        _timestamp_rule(t, w)
        for w, t in _tables(
            section, "pipeline.timestamp", ("field", "formats", "timezone", "query")
        )
    )
    drops = tuple(
        DropRule(w, _query(t, w, required=True) or "")
        for w, t in _tables(section, "pipeline.drop", ("query",))
    )
    samples = tuple(
        SampleRule(w, _query(t, w, required=True) or "", _rate(t, w))
        for w, t in _tables(section, "pipeline.sample", ("query", "rate"))
    )
    return PipelineConfig(
        json_message=_bool(section, "json_message", "pipeline", False),
        parse=parse_rules,
        timestamp=timestamp_rules,
        enrich=_enrich(section.get("enrich", {})),
        drop=drops,
        sample=samples,
        redact=_redact(section.get("redact", {})),
        multiline=_multiline(section["multiline"]) if "multiline" in section else None,
    )


# --- sections ----------------------------------------------------------------------


def _parse_rule(t: Mapping[str, Any], where: str, formats: Mapping[str, object]) -> ParseRule:
    fmt = _str(t, "format", where)
    if fmt is not None and fmt not in formats:
        raise ConfigError(
            f"{where}.format {fmt!r} is not a built-in format: use one of {', '.join(formats)}"
        )
    patterns = _str_list(t, "patterns", where)
    single = _str(t, "pattern", where)
    if single is not None:
        patterns = (single, *patterns)
    if (fmt is None) == (not patterns):
        raise ConfigError(f"{where} needs exactly one of 'format' or 'pattern'/'patterns'")
    for i, pattern in enumerate(patterns):
        try:
            compile_grok(pattern)
        except GrokError as e:
            raise ConfigError(f"{where}.patterns[{i}]: {e}") from e
    return ParseRule(
        where=where,
        field=_str(t, "field", where),
        format=fmt,
        patterns=patterns,
        query=_query(t, where),
        tag_on_failure=_bool(t, "tag_on_failure", where, True),
    )


def _timestamp_rule(t: Mapping[str, Any], where: str) -> TimestampRule:
    name = _str(t, "field", where)
    if name is None:
        raise ConfigError(f"{where}.field is required: the field holding the time text")
    formats = _str_list(t, "formats", where)
    if not formats:
        raise ConfigError(f"{where}.formats is required: a list of strptime formats")
    for fmt in formats:
        if "%" not in fmt:
            raise ConfigError(f"{where}.formats has {fmt!r}, which has no % directive")
    tz = _str(t, "timezone", where) or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ConfigError(f"{where}.timezone {tz!r} is not a known time zone") from e
    return TimestampRule(where, name, formats, tz, _query(t, where))


def _enrich(raw: Any) -> EnrichConfig:
    t = _table(raw, "pipeline.enrich", ("fields", "override"))
    fields = _table(t.get("fields", {}), "pipeline.enrich.fields", None)
    return EnrichConfig(
        fields=tuple(fields.items()),
        override=_bool(t, "override", "pipeline.enrich", False),
    )


def _multiline(raw: Any) -> MultilineConfig:
    where = "pipeline.multiline"
    t = _table(raw, where, ("start", "continuation", "max_lines", "timeout_s"))
    patterns: dict[str, str | None] = {}
    for key in ("start", "continuation"):
        value = _str(t, key, where)
        if value is not None:
            try:
                re.compile(value)
            except re.error as e:
                raise ConfigError(f"{where}.{key} is not a valid regular expression: {e}") from e
        patterns[key] = value
    continuation = patterns["continuation"] if "continuation" in t else STACK_TRACE_CONTINUATION
    if continuation == "":
        continuation = None  # "": only the start pattern decides
    if patterns["start"] is None and continuation is None:
        raise ConfigError(f"{where} needs a start pattern when continuation is empty")
    max_lines = t.get("max_lines", 500)
    if isinstance(max_lines, bool) or not isinstance(max_lines, int) or max_lines < 1:
        raise ConfigError(
            f"{where}.max_lines must be a whole number of at least 1, got {max_lines!r}"
        )
    timeout = t.get("timeout_s", 1.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 60:
        raise ConfigError(
            f"{where}.timeout_s must be a number of seconds from 0 to 60, got {timeout!r}"
        )
    return MultilineConfig(patterns["start"], continuation, max_lines, float(timeout))


def _redact(raw: Any) -> RedactConfig:
    where = "pipeline.redact"
    t = _table(
        raw,
        where,
        ("keys", "default_keys", "patterns", "regexes", "mode", "replacement", "hash_key"),
    )
    keys = tuple(k.lower() for k in _str_list(t, "keys", where))
    if _bool(t, "default_keys", where, True):
        keys = DEFAULT_REDACT_KEYS + tuple(k for k in keys if k not in DEFAULT_REDACT_KEYS)
    patterns = _str_list(t, "patterns", where) if "patterns" in t else DEFAULT_REDACT_PATTERNS
    for name in patterns:
        if name not in REDACT_PATTERNS:
            raise ConfigError(
                f"{where}.patterns has {name!r}: built-in patterns are {', '.join(REDACT_PATTERNS)}"
                " (put your own in regexes)"
            )
    regexes = _str_list(t, "regexes", where)
    for i, regex in enumerate(regexes):
        try:
            re.compile(regex)
        except re.error as e:
            raise ConfigError(f"{where}.regexes[{i}] is not a valid regular expression: {e}") from e
    mode = _str(t, "mode", where) or "mask"
    if mode not in ("mask", "hash"):
        raise ConfigError(f"{where}.mode must be 'mask' or 'hash', got {mode!r}")
    return RedactConfig(
        keys=keys,
        patterns=patterns,
        regexes=regexes,
        mode="hash" if mode == "hash" else "mask",
        replacement=_str(t, "replacement", where) or "[REDACTED]",
        hash_key=_str(t, "hash_key", where) or "",
    )


# --- values ------------------------------------------------------------------------


def _table(raw: Any, where: str, allowed: tuple[str, ...] | None) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a table, got {raw!r}")
    if allowed is not None:
        for key in raw:
            if key not in allowed:
                raise ConfigError(
                    f"unknown key {where}.{key}: expected one of {', '.join(allowed)}"
                )
    return raw


def _tables(
    section: Mapping[str, Any], where: str, allowed: tuple[str, ...]
) -> list[tuple[str, Mapping[str, Any]]]:
    """An array of tables (``[[pipeline.drop]]``), each with its position for messages."""
    raw = section.get(where.rsplit(".", 1)[1], [])
    if isinstance(raw, Mapping):  # one [pipeline.drop] table instead of [[...]]: accept it
        raw = [raw]
    if not isinstance(raw, list):
        raise ConfigError(f"{where} must be an array of tables ([[{where}]]), got {raw!r}")
    return [(f"{where}[{i}]", _table(t, f"{where}[{i}]", allowed)) for i, t in enumerate(raw)]


def _str(t: Mapping[str, Any], key: str, where: str) -> str | None:
    value = t.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{where}.{key} must be a string, got {value!r}")
    return value


def _str_list(t: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = t.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}.{key} must be a list of strings, got {value!r}")
    return tuple(value)


def _bool(t: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    value = t.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}.{key} must be true or false, got {value!r}")
    return value


def _rate(t: Mapping[str, Any], where: str) -> float:
    value = t.get("rate")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError(
            f"{where}.rate must be a number from 0 to 1 (the share kept), got {value!r}"
        )
    return float(value)


def _query(t: Mapping[str, Any], where: str, *, required: bool = False) -> str | None:
    text = _str(t, "query", where)
    if text is None:
        if required:
            raise ConfigError(f"{where}.query is required: the search that selects records")
        return None
    try:
        compile_filter(text)
    except QueryError as e:
        raise ConfigError(f"{where}.query {text!r}: {e.message}") from e
    return text
