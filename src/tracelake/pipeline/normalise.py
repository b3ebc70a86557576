"""Log objects → columns of the ``logs`` table: the field mapping of docs/ingest.md.

This is the hottest loop of the server (every log line of every input passes here
once), so it is written as one flat pass over plain lists; timestamps given as
ISO 8601 strings are parsed in bulk by Arrow's C++ parser afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from tracelake.model import LogObject

TIMESTAMP_KEYS = ("@timestamp", "timestamp", "ts", "time")
LEVEL_KEYS = ("level", "severity", "levelname", "log.level")
SERVICE_KEYS = ("service", "service.name", "service_name", "app")
MESSAGE_KEYS = ("message", "msg")
TRACE_KEYS = ("trace_id", "traceId", "X-B3-TraceId", "trace.id")
SPAN_KEYS = ("span_id", "spanId", "X-B3-SpanId", "span.id")
HOST_KEYS = ("host", "hostname", "host.name")
LOGGER_KEYS = ("logger", "logger_name", "log.logger")

_LEVEL_WORDS = {
    "TRACE": ("trace", "finest", "finer", "verbose"),
    "DEBUG": ("debug", "fine", "config", "dbg"),
    "INFO": ("info", "information", "informational", "notice", "log", "inf"),
    "WARN": ("warn", "warning", "wrn"),
    "ERROR": ("error", "err", "severe", "exception", "eror"),
    "FATAL": ("fatal", "critical", "crit", "alert", "emerg", "emergency", "panic"),
}
#: Every spelling we know, in any case, to its normal form; grows a little as new
#: spellings are met (bounded by ``_LEVEL_CACHE_MAX``).
_LEVELS: dict[Any, str] = {
    spelling: level
    for level, words in _LEVEL_WORDS.items()
    for word in words
    for spelling in (word, word.upper(), word.capitalize())
}
_LEVEL_CACHE_MAX = 4096


def normalise_level(value: Any) -> str | None:
    """The normal level of any spelling, or None when the value names no level.

    Numbers follow Python's logging levels (10 DEBUG, 20 INFO, 30 WARN, 40 ERROR,
    50 CRITICAL); numeric strings are read the same way.
    """
    level = _LEVELS.get(value)
    if level is not None:
        return level
    if isinstance(value, str):
        text = value.strip()
        level = _LEVELS.get(text.lower())
        if level is None and text.isdigit():
            level = _level_of_number(int(text))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        level = _level_of_number(int(value))
    if level is not None and len(_LEVELS) < _LEVEL_CACHE_MAX:
        _LEVELS[value] = level
    return level


def _level_of_number(n: int) -> str:
    for bound, level in ((5, "TRACE"), (10, "DEBUG"), (20, "INFO"), (30, "WARN"), (40, "ERROR")):
        if n <= bound:
            return level
    return "FATAL"


@dataclass(slots=True)
class LogColumns:
    """The ``logs`` table as Python lists, one entry per accepted record.

    ``raw_timestamps`` still holds what the client sent; ``pipeline.timestamps``
    turns it into microseconds and may reject some rows.
    """

    raw_timestamps: list[Any] = field(default_factory=list)
    service: list[str | None] = field(default_factory=list)
    level: list[str] = field(default_factory=list)
    message: list[str | None] = field(default_factory=list)
    trace_id: list[str | None] = field(default_factory=list)
    span_id: list[str | None] = field(default_factory=list)
    host: list[str | None] = field(default_factory=list)
    logger: list[str | None] = field(default_factory=list)
    attributes: list[bytes | None] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.level)


_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16

#: Candidate keys of each column, in order of preference.
FIELD_KEYS = (
    TIMESTAMP_KEYS,
    LEVEL_KEYS,
    SERVICE_KEYS,
    MESSAGE_KEYS,
    TRACE_KEYS,
    SPAN_KEYS,
    HOST_KEYS,
    LOGGER_KEYS,
)
_Plan = tuple[str | None, ...]
_PLANS: dict[tuple[str, ...], _Plan] = {}
_PLANS_MAX = 4096


def _plan(keys: tuple[str, ...]) -> _Plan:
    """For one key layout, which key feeds each column (None: the column is empty).

    Producers send the same layout line after line, so the plan is computed once per
    layout and the hot loop pops exactly the keys it needs.
    """
    present = set(keys)
    plan = tuple(next((k for k in aliases if k in present), None) for aliases in FIELD_KEYS)
    if len(_PLANS) >= _PLANS_MAX:
        _PLANS.clear()
    _PLANS[keys] = plan
    return plan


def as_text(value: Any) -> str | None:
    """A column value as text: strings as they are, anything else as its JSON."""
    if value is None or type(value) is str:
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return orjson.dumps(value).decode()


def _hex_id(value: Any, width: int) -> str | None:
    """Lower-case hex ids; 64-bit trace ids are left-padded to 128 bits (Zipkin's rule)."""
    if value is None or value == "":
        return None
    text = (value if type(value) is str else str(value)).strip().lower()
    if len(text) < width and width == 32 and len(text) == 16:
        text = "0" * 16 + text
    if text.strip("0") == "":
        return None
    return text


def normalise_logs(objects: list[LogObject], lines: list[int]) -> LogColumns:
    """Map each log object onto the fixed columns; what is left becomes ``attributes``.

    The objects are consumed (keys are popped). This pass rejects nothing: records
    that are not objects were rejected by the decoders, bad timestamps are rejected by
    the timestamp pass.
    """
    cols = LogColumns()
    ts_append = cols.raw_timestamps.append
    svc_append = cols.service.append
    lvl_append = cols.level.append
    msg_append = cols.message.append
    tid_append = cols.trace_id.append
    sid_append = cols.span_id.append
    host_append = cols.host.append
    logger_append = cols.logger.append
    attr_append = cols.attributes.append
    dumps = orjson.dumps
    levels = _LEVELS
    plans = _PLANS
    for obj in objects:
        keys = tuple(obj)
        plan = plans.get(keys) or _plan(keys)
        k_ts, k_level, k_service, k_message, k_trace, k_span, k_host, k_logger = plan
        pop = obj.pop
        ts_append(pop(k_ts) if k_ts else None)

        if k_level:
            raw_level = pop(k_level)
            level = levels.get(raw_level) or normalise_level(raw_level)
            if level is None:
                obj["original_level"] = raw_level
                level = "INFO"
            lvl_append(level)
        else:
            lvl_append("INFO")

        service = pop(k_service) if k_service else None
        if type(service) is dict and k_service:
            obj[k_service] = service  # ECS style {"service": {"name": …}}: keep it whole
            service = service.get("name")
        if service is not None and type(service) is not str:
            service = as_text(service)

        message = pop(k_message) if k_message else None
        msg_append(message if type(message) is str else as_text(message))

        trace_id = pop(k_trace) if k_trace else None
        if trace_id is not None:
            trace_id = (
                trace_id.lower()
                if type(trace_id) is str and len(trace_id) == 32 and trace_id != _ZERO_TRACE
                else _hex_id(trace_id, 32)
            )
        tid_append(trace_id)

        span_id = pop(k_span) if k_span else None
        if span_id is not None:
            span_id = (
                span_id.lower()
                if type(span_id) is str and len(span_id) == 16 and span_id != _ZERO_SPAN
                else _hex_id(span_id, 16)
            )
        sid_append(span_id)

        host = pop(k_host) if k_host else None
        if type(host) is dict and k_host:
            obj[k_host] = host
            host = host.get("name")
        host_append(host if host is None or type(host) is str else as_text(host))

        logger = pop(k_logger) if k_logger else None
        if logger is not None and type(logger) is not str:
            logger = as_text(logger)
        logger_append(logger)
        svc_append(service if service is not None else logger)

        attr_append(dumps(obj) if obj else None)
    cols.lines = lines
    return cols
