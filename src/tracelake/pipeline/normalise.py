"""Log objects → columns of the ``logs`` table: the field mapping of docs/ingest.md.

This is the hottest loop of the server (every log line of every input passes here
once), so it is written as one flat pass over plain lists; timestamps given as
ISO 8601 strings are parsed in bulk by Arrow's C++ parser afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from tracelake.errors import ConfigError
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


#: How a producer numbers its levels: the highest number of each level, in order; above
#: the last, FATAL. Python's ``logging`` (10 DEBUG … 50 CRITICAL) and Node's pino and
#: bunyan (10 trace … 60 fatal) disagree by one step, so a number means nothing without it.
NUMBERINGS: dict[str, tuple[tuple[int, str], ...]] = {
    "python": ((5, "TRACE"), (10, "DEBUG"), (20, "INFO"), (30, "WARN"), (40, "ERROR")),
    "node": ((10, "TRACE"), (20, "DEBUG"), (30, "INFO"), (40, "WARN"), (50, "ERROR")),
}
#: What the ``level_numbering`` setting may name: ``auto`` tells pino/bunyan records
#: (``NODE_RECORD_KEYS``) from the rest, which are read as Python's.
LEVEL_NUMBERINGS = ("auto", *NUMBERINGS)
#: A record with ``level`` and ``msg`` and any of these is pino's or bunyan's: both write
#: ``msg``, ``pid``, ``hostname`` and ``time`` (bunyan also ``v``); Python's JSON
#: formatters write ``message`` (or ``levelname``/``levelno``), never this layout.
NODE_RECORD_KEYS = frozenset({"pid", "hostname", "time", "v"})
#: Each numbering's cache: every spelling met so far (numbers included) → normal form.
#: Level values the per-numbering caches take (hashable JSON scalars).
_SCALARS = frozenset({str, int, float, bool})
_CACHES: dict[str, dict[Any, str]] = {"python": _LEVELS, "node": dict(_LEVELS)}


def declared_numberings(setting: dict[str, str]) -> dict[str, str]:
    """The ``level_numbering`` setting, checked: ``{input: numbering}``."""
    for source, numbering in setting.items():
        if numbering not in NUMBERINGS:
            raise ConfigError(
                f"level_numbering.{source} is {numbering!r}: use one of {', '.join(NUMBERINGS)}"
            )
    return dict(setting)


def normalise_level(value: Any, numbering: str = "python") -> str | None:
    """The normal level of any spelling, or None when the value names no level.

    Numbers (and numeric strings) are read in ``numbering`` (``NUMBERINGS``); words are
    the same in every numbering.
    """
    if type(value) not in _SCALARS:  # an object or a list names no level
        return None
    cache = _CACHES[numbering]
    level = cache.get(value)
    if level is not None:
        return level
    if isinstance(value, str):
        text = value.strip()
        level = cache.get(text.lower())
        if level is None and text.isdigit():
            level = _level_of_number(int(text), numbering)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        level = _level_of_number(int(value), numbering)
    if level is not None and len(cache) < _LEVEL_CACHE_MAX:
        cache[value] = level
    return level


def _level_of_number(n: int, numbering: str) -> str:
    for bound, level in NUMBERINGS[numbering]:
        if n <= bound:
            return level
    return "FATAL"


def numbering_of(keys: Any) -> str:
    """``node`` for a pino/bunyan record's keys (``NODE_RECORD_KEYS``), else ``python``."""
    return (
        "node"
        if "level" in keys and "msg" in keys and not NODE_RECORD_KEYS.isdisjoint(keys)
        else "python"
    )


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
#: Which key feeds each column of ``FIELD_KEYS`` (None: the column is empty), then the
#: numbering the layout's levels are read in when the source declares none.
_Plan = tuple[Any, ...]
_PLANS: dict[tuple[str, ...], _Plan] = {}
_PLANS_MAX = 4096


def _plan(keys: tuple[str, ...]) -> _Plan:
    """For one key layout, which key feeds each column and which numbering its levels use.

    Producers send the same layout line after line, so the plan is computed once per
    layout and the hot loop pops exactly the keys it needs.
    """
    present = set(keys)
    plan = (
        *(next((k for k in aliases if k in present), None) for aliases in FIELD_KEYS),
        numbering_of(present),
    )
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


def normalise_logs(
    objects: list[LogObject], lines: list[int], numbering: str = "auto"
) -> LogColumns:
    """Map each log object onto the fixed columns; what is left becomes ``attributes``.

    Numeric levels are read in ``numbering`` (``LEVEL_NUMBERINGS``): a source's declared
    one, or ``auto``: each record's layout decides (``numbering_of``).

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
    caches = _CACHES
    fixed = None if numbering == "auto" else numbering
    plans = _PLANS
    for obj in objects:
        keys = tuple(obj)
        plan = plans.get(keys) or _plan(keys)
        k_ts, k_level, k_service, k_message, k_trace, k_span, k_host, k_logger, layout = plan
        pop = obj.pop
        ts_append(pop(k_ts) if k_ts else None)

        if k_level:
            raw_level = pop(k_level)
            read_as = fixed or layout
            # only scalars are cached: a level sent as an object or a list is not hashable
            cached = caches[read_as].get(raw_level) if type(raw_level) in _SCALARS else None
            level = cached or normalise_level(raw_level, read_as)
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
