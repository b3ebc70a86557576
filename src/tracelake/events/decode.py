"""Request bodies of ``POST /api/v1/events`` → validated event columns.

Sans-IO: no store, no Arrow, so every rule is tested on plain bytes. A body is a JSON
array of event objects or NDJSON (one object a line). Each item is checked on its own:
the good ones become columns, each bad one a reason with its 0-based ``index`` (the
array position, or the line number minus one in NDJSON), so a batch with a few bad
events stores the rest (partial success).

The event type becomes a directory of the lake (``events/type=order_placed/…``), so it
must match the store's partition value rule: a letter, then letters, digits, ``_``,
``.`` or ``-``, at most 128 characters. Nothing a client sends can name a path
outside the lake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from tracelake.store.segments import PARTITION_VALUE_RE

#: The fields an event object may have; anything else is refused (never dropped quietly).
EVENT_FIELDS: frozenset[str] = frozenset(
    {"type", "payload", "key", "timestamp", "service", "trace_id", "span_id"}
)
MAX_KEY_CHARS = 512
MAX_SERVICE_CHARS = 256
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
_ZERO_TRACE = "0" * 32


@dataclass(frozen=True, slots=True)
class EventError:
    """One refused item: its 0-based position in the request and why."""

    index: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "reason": self.reason}


@dataclass(slots=True)
class EventColumns:
    """Accepted events as columns of the ``events`` table (timestamps still raw)."""

    index: list[int] = field(default_factory=list)
    timestamp: list[Any] = field(default_factory=list)
    type: list[str] = field(default_factory=list)
    key: list[str | None] = field(default_factory=list)
    service: list[str | None] = field(default_factory=list)
    trace_id: list[str | None] = field(default_factory=list)
    span_id: list[str | None] = field(default_factory=list)
    payload: list[bytes] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.index)


def decode_events(body: bytes, max_payload_bytes: int) -> tuple[EventColumns, list[EventError]]:
    """Split and validate a body; returns the accepted columns and the refused items."""
    items, errors = _split(body, max_payload_bytes)
    cols = EventColumns()
    for index, item in items:
        reason = _add(cols, index, item, max_payload_bytes)
        if reason is not None:
            errors.append(EventError(index, reason))
    errors.sort(key=lambda e: e.index)
    return cols, errors


def _split(body: bytes, max_payload_bytes: int) -> tuple[list[tuple[int, Any]], list[EventError]]:
    """The items of a body with their indexes; lines that are not JSON are errors."""
    stripped = body.lstrip()
    if stripped[:1] == b"[":
        try:
            parsed = orjson.loads(stripped)
        except orjson.JSONDecodeError as e:
            return [], [EventError(0, f"body is not a valid JSON array: {e}")]
        return list(enumerate(parsed)), []
    lines = body.split(b"\n")
    if lines and not lines[-1].strip():
        lines.pop()
    if all(lines):  # the common case: every line is JSON, one parse for the whole body
        try:
            return list(enumerate(orjson.loads(b"[" + b",".join(lines) + b"]"))), []
        except orjson.JSONDecodeError:
            pass
    # A line holds one event: its payload plus the envelope, within twice the limit.
    max_line = 2 * max_payload_bytes + 4096
    items: list[tuple[int, Any]] = []
    errors: list[EventError] = []
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        if len(line) > max_line:
            errors.append(EventError(index, f"line of {len(line)} bytes is too long for one event"))
            continue
        try:
            items.append((index, orjson.loads(line)))
        except orjson.JSONDecodeError as e:
            errors.append(EventError(index, f"not JSON: {e}"))
    return items, errors


def _add(cols: EventColumns, index: int, item: Any, max_payload_bytes: int) -> str | None:
    """Append one event to ``cols``, or return why it is refused (``cols`` unchanged)."""
    if type(item) is not dict:
        return f"expected an event object, got {_kind(item)}"
    unknown = item.keys() - EVENT_FIELDS
    if unknown:
        return (
            f"unknown field {sorted(unknown)[0]!r}: an event has type, payload, key, "
            "timestamp, service, trace_id, span_id (put the rest in payload)"
        )
    kind = item.get("type")
    if kind is None:
        return 'missing "type": name the event, e.g. "order_placed"'
    if type(kind) is not str or not PARTITION_VALUE_RE.fullmatch(kind):
        return (
            f"type {str(kind)[:80]!r} is not a valid event type: use a letter, then letters, "
            "digits, '_', '.' or '-' (at most 128 characters)"
        )
    payload = item.get("payload")
    if type(payload) is not dict:
        return f'"payload" must be a JSON object, got {_kind(payload)}'
    encoded = orjson.dumps(payload)
    if len(encoded) > max_payload_bytes:
        return (
            f"payload of {len(encoded)} bytes is over the limit of {max_payload_bytes} "
            "(max_event_bytes): store large documents elsewhere and send a reference"
        )
    key = item.get("key")
    if key is not None:
        if type(key) is int:
            key = str(key)
        elif type(key) is not str or len(key) > MAX_KEY_CHARS:
            return f'"key" must be a string of at most {MAX_KEY_CHARS} characters or an integer'
    service = item.get("service")
    if service is not None and (type(service) is not str or len(service) > MAX_SERVICE_CHARS):
        return f'"service" must be a string of at most {MAX_SERVICE_CHARS} characters'
    good_trace, trace_id = _hex_id(item.get("trace_id"), 32)
    if not good_trace:
        return '"trace_id" must be 16 or 32 hex digits'
    good_span, span_id = _hex_id(item.get("span_id"), 16)
    if not good_span:
        return '"span_id" must be 16 hex digits'
    timestamp = item.get("timestamp")
    if timestamp is not None and (
        type(timestamp) is bool or not isinstance(timestamp, str | int | float)
    ):
        return '"timestamp" must be ISO 8601 text or epoch seconds/ms/µs/ns'
    cols.index.append(index)
    cols.timestamp.append(timestamp)
    cols.type.append(kind)
    cols.key.append(key)
    cols.service.append(service)
    cols.trace_id.append(trace_id)
    cols.span_id.append(span_id)
    cols.payload.append(encoded)
    return None


def _hex_id(value: Any, width: int) -> tuple[bool, str | None]:
    """(valid, the lower-hex id left-padded to ``width``: 64-bit trace ids to 128).

    An all-zero id means "no id" in W3C and B3, so it is stored as absent.
    """
    if value is None or value == "":
        return True, None
    if type(value) is not str or not _HEX_RE.fullmatch(value):
        return False, None
    if len(value) not in ((16, 32) if width == 32 else (width,)):
        return False, None
    padded = value.lower().rjust(width, "0")
    return True, None if padded == _ZERO_TRACE[:width] else padded


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )
