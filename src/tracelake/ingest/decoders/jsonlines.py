"""JSON lines (Logstash ``json_lines``) to log objects.

One JSON object per line is what logstash-logback-encoder, python-logstash (TCP and
UDP), python-logstash-async and Logstash's own ``json_lines`` codec speak. Each family
names the same things differently, so this module maps the known spellings onto the
common log object and keeps every other field as it came:

* ``@timestamp`` → ``timestamp`` (ISO text kept as received; epoch numbers → int ns),
* python-logstash version 0: ``@message``, ``@source_host``, ``@source_path``,
  ``@tags``, ``@type``, ``@fields`` (merged to the top level, ``levelname`` → level),
* version 1 / logback: ``levelname`` → ``level``, ``logger_name`` → ``logger``,
* MDC trace ids: ``traceId``/``spanId`` (Sleuth, Micrometer), ``X-B3-TraceId``/
  ``X-B3-SpanId`` (Sleuth 2 legacy) → ``trace_id``/``span_id`` (OTel's spelling),
* ``host`` as an ECS object (``{"name": ...}``) → ``host`` = its name, the object kept
  under ``host_fields``.

A line that is not JSON is kept, not dropped, exactly as Logstash does:
``{"message": <line>, "tags": ["_jsonparsefailure"]}``. Blank lines (logback's
keep-alive) are skipped. orjson and one set intersection per line keep this fast.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from tracelake.model import LogObject

PARSE_FAILURE_TAG = "_jsonparsefailure"

#: Plain renames, applied only when the target key is absent.
_RENAMES: dict[str, str] = {
    "@message": "message",
    "@source_host": "host",
    "@source_path": "path",
    "@source": "source",
    "@tags": "tags",
    "@type": "type",
    "levelname": "level",
    "logger_name": "logger",
    "traceId": "trace_id",
    "spanId": "span_id",
    "X-B3-TraceId": "trace_id",
    "X-B3-SpanId": "span_id",
}
_SPECIAL = frozenset(("@timestamp", "@fields", "host"))
_WATCHED = frozenset(_RENAMES) | _SPECIAL
#: When two spellings of one field are present, the earlier in ``_RENAMES`` wins.
_RANK = {key: i for i, key in enumerate(_RENAMES)} | {key: -1 for key in _SPECIAL}

_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError


def epoch_to_ns(value: float) -> int:
    """Epoch seconds, ms, µs or ns (told apart by magnitude) → int nanoseconds."""
    v = abs(value)
    if v < 1e11:
        return int(value * 1_000_000_000)
    if v < 1e14:
        return int(value * 1_000_000)
    if v < 1e17:
        return int(value * 1_000)
    return int(value)


def map_fields(obj: dict[str, Any]) -> LogObject:
    """Rename the Logstash-family spellings of ``obj`` in place; return it."""
    hits = _WATCHED.intersection(obj)
    if not hits:
        return obj
    if "@fields" in hits:
        fields = obj.pop("@fields")
        if isinstance(fields, dict):
            for key, value in fields.items():
                obj.setdefault(key, value)
            hits = _WATCHED.intersection(obj)
        else:
            obj["fields"] = fields
    if "@timestamp" in hits and "timestamp" not in obj:
        ts = obj.pop("@timestamp")
        obj["timestamp"] = (
            epoch_to_ns(ts) if isinstance(ts, int | float) and not isinstance(ts, bool) else ts
        )
    for key in sorted(hits, key=_RANK.__getitem__) if len(hits) > 1 else hits:
        target = _RENAMES.get(key)
        if target is not None and target not in obj:
            obj[target] = obj.pop(key)
    host = obj.get("host")
    if isinstance(host, dict):
        obj["host_fields"] = host
        name = host.get("name") or host.get("hostname")
        if name is None:
            del obj["host"]
        else:
            obj["host"] = name
    return obj


def parse_failure(line: bytes) -> LogObject:
    """The object Logstash makes of a line that is not JSON."""
    return {
        "message": line.decode("utf-8", "replace").rstrip("\r"),
        "tags": [PARSE_FAILURE_TAG],
    }


def decode_json_lines(lines: Iterable[bytes]) -> list[LogObject]:
    """Frames (lines without their LF) → log objects; blank lines are skipped.

    A line holding a JSON array yields one object per element (as Logstash's ``json``
    codec does); a line holding a scalar, or not JSON at all, yields a parse failure.
    """
    out: list[LogObject] = []
    append = out.append
    for line in lines:
        try:
            doc = _loads(line)
        except _JSONDecodeError:
            if line.strip():
                append(parse_failure(line))
            continue
        if type(doc) is dict:
            append(map_fields(doc))
        elif type(doc) is list:
            for item in doc:
                if type(item) is dict:
                    append(map_fields(item))
                else:
                    append(parse_failure(orjson.dumps(item)))
        else:
            append(parse_failure(line))
    return out


def decode_json_datagram(data: bytes) -> list[LogObject]:
    """One UDP datagram (python-logstash, logback UDP: one JSON, maybe newline-ended)."""
    if b"\n" in data.rstrip(b"\r\n"):
        return decode_json_lines(data.split(b"\n"))
    return decode_json_lines((data,))
