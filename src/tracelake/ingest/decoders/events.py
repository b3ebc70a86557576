"""Request bodies of ``POST /api/v1/events`` → validated event columns.

Sans-IO: no store, no Arrow, so every rule is tested on plain bytes. A body is a JSON
array of event objects or NDJSON (one object a line). Each item is checked on its own:
the good ones become columns, each bad one a reason with its 0-based ``index`` (the
array position, or the line number minus one in NDJSON), so a batch with a few bad
events stores the rest (partial success).

Two paths give the same answer: ``_add`` applies the rules to one item and says why it
is refused; ``_all_valid`` checks a chunk of items a column at a time with C-level
``map``/``set`` calls and only says whether all are good. Ingest speed is decided by
the second; the first runs only for a chunk that holds a bad item.
tests/events/test_fast_paths.py compares the two.

The event type becomes a directory of the lake (``events/type=order_placed/…``), so it
must match the store's partition value rule: a letter, then letters, digits, ``_``,
``.`` or ``-``, at most 128 characters. Nothing a client sends can name a path
outside the lake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import repeat
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
#: Items validated together, a column at a time: enough to pay for the per-column
#: calls, few enough that one bad item sends only its chunk down the slow path.
CHUNK = 1000
#: The lengths an id may have, by the width it is stored at (64-bit trace ids are padded).
_ID_LENGTHS = {32: (16, 32), 16: (16,)}


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

    def extend(self, other: EventColumns) -> None:
        """Append the rows of ``other``."""
        self.index += other.index
        self.timestamp += other.timestamp
        self.type += other.type
        self.key += other.key
        self.service += other.service
        self.trace_id += other.trace_id
        self.span_id += other.span_id
        self.payload += other.payload


def decode_events(body: bytes, max_payload_bytes: int) -> tuple[EventColumns, list[EventError]]:
    """Split and validate a body; returns the accepted columns and the refused items."""
    indexes, items, errors = _split(body, max_payload_bytes)
    cols = EventColumns()
    for start in range(0, len(items), CHUNK):
        chunk = items[start : start + CHUNK]
        good = _all_valid(indexes[start : start + CHUNK], chunk, max_payload_bytes)
        if good is not None:
            cols.extend(good)
            continue
        for index, item in zip(indexes[start : start + CHUNK], chunk, strict=True):
            reason = _add(cols, index, item, max_payload_bytes)  # which are bad, and why
            if reason is not None:
                errors.append(EventError(index, reason))
    errors.sort(key=lambda e: e.index)
    return cols, errors


def _split(body: bytes, max_payload_bytes: int) -> tuple[list[int], list[Any], list[EventError]]:
    """The items of a body and their indexes; lines that are not JSON are errors."""
    stripped = body.lstrip()
    if stripped[:1] == b"[":
        try:
            parsed = orjson.loads(stripped)
        except orjson.JSONDecodeError as e:
            return [], [], [EventError(0, f"body is not a valid JSON array: {e}")]
        return list(range(len(parsed))), parsed, []
    lines = body.split(b"\n")
    if lines and not lines[-1].strip():
        lines.pop()
    if all(lines):  # the common case: every line is JSON, one parse for the whole body
        try:
            parsed = orjson.loads(b"[" + b",".join(lines) + b"]")
        except orjson.JSONDecodeError:
            pass
        else:  # fewer or more values than lines: indexes would shift, so go line by line
            if len(parsed) == len(lines):
                return list(range(len(parsed))), parsed, []
    # A line holds one event: its payload plus the envelope, within twice the limit.
    max_line = 2 * max_payload_bytes + 4096
    indexes: list[int] = []
    items: list[Any] = []
    errors: list[EventError] = []
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        if len(line) > max_line:
            errors.append(EventError(index, f"line of {len(line)} bytes is too long for one event"))
            continue
        try:
            items.append(orjson.loads(line))
        except orjson.JSONDecodeError as e:
            errors.append(EventError(index, f"not JSON: {e}"))
        else:
            indexes.append(index)
    return indexes, items, errors


def _all_valid(indexes: list[int], items: list[Any], max_payload_bytes: int) -> EventColumns | None:
    """The columns of ``items`` when every one is a good event, else None.

    The same rules as ``_add``, checked a column at a time with C-level ``map``/``set``
    calls instead of a dozen Python operations per event, which decided ingest speed.
    It only has to be exact when it says yes; on None, ``_add`` decides each item.
    """
    if not items or set(map(type, items)) != _DICT:
        return None
    present = set().union(*items)
    if not EVENT_FIELDS.issuperset(present):
        return None
    types = _field(items, "type", present)
    try:  # an unhashable type (a list, an object) is a bad type too
        kinds = set(types)
    except TypeError:
        return None
    if not all(type(k) is str and PARTITION_VALUE_RE.fullmatch(k) for k in kinds):
        return None
    payloads = _field(items, "payload", present)
    if set(map(type, payloads)) != _DICT:
        return None
    encoded = list(map(orjson.dumps, payloads))
    if max(map(len, encoded)) > max_payload_bytes:
        return None
    keys = _text(_field(items, "key", present), MAX_KEY_CHARS, _KEY_TYPES)
    services = _text(_field(items, "service", present), MAX_SERVICE_CHARS, _TEXT_TYPES)
    trace_ids = _ids(_field(items, "trace_id", present), 32)
    span_ids = _ids(_field(items, "span_id", present), 16)
    timestamps = _field(items, "timestamp", present)
    if keys is None or services is None or trace_ids is None or span_ids is None:
        return None
    if not _TIMESTAMP_TYPES.issuperset(map(type, timestamps)):
        return None
    return EventColumns(
        index=indexes,
        timestamp=timestamps,
        type=types,
        key=keys,
        service=services,
        trace_id=trace_ids,
        span_id=span_ids,
        payload=encoded,
    )


_DICT: frozenset[type] = frozenset({dict})
_STR: frozenset[type] = frozenset({str})
_NONE = type(None)
_TEXT_TYPES: frozenset[type] = frozenset({str, _NONE})
_KEY_TYPES: frozenset[type] = frozenset({str, int, _NONE})
_TIMESTAMP_TYPES: frozenset[type] = frozenset({str, int, float, _NONE})


def _field(items: list[dict[str, Any]], name: str, present: set[str]) -> list[Any]:
    """One field of every item (None where absent), without a Python loop; ``present``
    is every field of the items, so a field no item has costs no pass at all."""
    if name not in present:
        return [None] * len(items)
    return list(map(dict.get, items, repeat(name)))


def _text(values: list[Any], max_chars: int, allowed: frozenset[type]) -> list[Any] | None:
    """A column of optional strings (integers become text), or None if any is bad."""
    types = set(map(type, values))
    if not allowed.issuperset(types):
        return None
    if int in types:
        values = [str(v) if type(v) is int else v for v in values]
    if max(map(len, filter(None, values)), default=0) > max_chars:
        return None
    return values


def _ids(values: list[Any], width: int) -> list[str | None] | None:
    """A column of ids as ``_hex_id`` stores them, or None if any is bad.

    When every event carries an id of the same length (what the SDK sends inside a
    span), one regex, one ``lower`` and slicing of the joined column replace a call
    of ``_hex_id`` each.
    """
    types = set(map(type, values))
    if not _TEXT_TYPES.issuperset(types):
        return None
    if not any(values):  # the common case outside spans: no ids (absent or "")
        return [None] * len(values)
    lengths = set(map(len, values)) if types == _STR else set()
    size = lengths.pop() if len(lengths) == 1 else 0
    if size in _ID_LENGTHS[width]:
        joined = "".join(values)
        if not _HEX_RE.fullmatch(joined):
            return None
        lower, pad, zero = joined.lower(), "0" * (width - size), "0" * width
        out: list[str | None] = [pad + lower[i : i + size] for i in range(0, len(lower), size)]
        return [None if v == zero else v for v in out] if zero in out else out
    out = []
    for value in values:
        good, normal = _hex_id(value, width)
        if not good:
            return None
        out.append(normal)
    return out


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
    if len(value) not in _ID_LENGTHS[width]:
        return False, None
    padded = value.lower().rjust(width, "0")
    return True, None if padded == _ZERO_TRACE[:width] else padded


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )
