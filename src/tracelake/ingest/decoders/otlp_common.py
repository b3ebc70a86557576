"""What the OTLP decoders of every signal share: AnyValue and attributes, ids, JSON fields.

OTLP/JSON is not proto3's JSON mapping (ids are hex, 64-bit integers are decimal
strings, enums are integers), so each signal's decoder walks both encodings by hand;
the rules for the parts every signal has in common live here once, so a log record
and a span read the same attribute, id or number the same way.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence
from typing import Any

import orjson
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tracelake.errors import DecodeError, PayloadTooLarge
from tracelake.ingest.decoders.compression import inflate
from tracelake.model import RecordError

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

INT64 = (-(1 << 63), (1 << 63) - 1)
UINT64 = (0, (1 << 64) - 1)


class Invalid(Exception):
    """A record (or everything under a resource or scope) cannot be used: why."""


class ValueReader:
    """Attributes and AnyValues of either encoding, bounded in count and nesting, and
    the numbering and rejection of the items (log records, spans) a request carries."""

    def __init__(self, max_attributes: int, max_depth: int, max_items: int, unit: str) -> None:
        self.max_attributes = max_attributes
        self.max_depth = max_depth
        self.max_items = max_items
        self.unit = unit
        self.errors: list[RecordError] = []
        self.ordinal = 0  # 1-based ordinal of the last item seen

    def _next(self) -> None:
        self.ordinal += 1
        if self.ordinal > self.max_items:
            raise PayloadTooLarge(
                f"request has more than {self.max_items} {self.unit}, the limit: send smaller batches"
            )

    def _reject(self, where: str, why: str) -> None:
        self.errors.append(RecordError(self.ordinal, f"{where}: {why}"))

    def _reject_all(self, count: int, where: str, why: str) -> None:
        for _ in range(count):
            self._next()
            self._reject(where, why)

    def pb_attributes(self, attributes: Sequence[KeyValue], what: str) -> dict[str, Any]:
        if len(attributes) > self.max_attributes:
            raise Invalid(
                f"{len(attributes)} {what} attributes, over max_attributes ({self.max_attributes})"
            )
        return {kv.key: self.pb_value(kv.value, 0, kv.key) for kv in attributes}

    def pb_value(self, value: AnyValue, depth: int, key: str) -> Any:
        kind = value.WhichOneof("value")
        if kind == "string_value":
            return value.string_value
        if kind == "int_value":
            return value.int_value
        if kind == "bool_value":
            return value.bool_value
        if kind == "double_value":
            return value.double_value
        if kind == "bytes_value":
            return base64.b64encode(value.bytes_value).decode()
        if kind in ("array_value", "kvlist_value"):
            if depth >= self.max_depth:
                raise Invalid(f"{key!r} is nested deeper than max_value_depth ({self.max_depth})")
            if kind == "array_value":
                return [self.pb_value(v, depth + 1, key) for v in value.array_value.values]
            return {
                kv.key: self.pb_value(kv.value, depth + 1, key) for kv in value.kvlist_value.values
            }
        return None  # unset, or a string_value_strindex we have no dictionary for

    def json_attributes(self, owner: dict[str, Any], what: str) -> dict[str, Any]:
        attributes = get(owner, "attributes", "attributes")
        if attributes is None:
            return {}
        if type(attributes) is not list:
            raise Invalid(f"{what} attributes must be an array of {{key, value}}")
        if len(attributes) > self.max_attributes:
            raise Invalid(
                f"{len(attributes)} {what} attributes, over max_attributes ({self.max_attributes})"
            )
        return self.json_kvlist(attributes, 0, what)

    def json_kvlist(self, pairs: list[Any], depth: int, what: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for kv in pairs:
            if type(kv) is not dict or type(kv.get("key")) is not str:
                raise Invalid(f"{what} attributes must be objects with a string key")
            out[kv["key"]] = self.json_value(kv.get("value"), depth, kv["key"])
        return out

    def json_value(self, value: Any, depth: int, key: str) -> Any:
        if value is None:
            return None
        if type(value) is not dict:
            raise Invalid(f"{key!r} must be an AnyValue object, got {kind_of(value)}")
        if not value:
            return None
        ((kind, v),) = list(value.items())[:1]
        if kind == "stringValue" or kind == "string_value":
            if type(v) is not str:
                raise Invalid(f"{key!r}: stringValue must be a string")
            return v
        if kind == "boolValue" or kind == "bool_value":
            if type(v) is not bool:
                raise Invalid(f"{key!r}: boolValue must be true or false")
            return v
        if kind == "intValue" or kind == "int_value":
            return to_int(v, f"{key!r}: intValue", INT64)
        if kind == "doubleValue" or kind == "double_value":
            return to_float(v, key)
        if kind == "bytesValue" or kind == "bytes_value":
            if type(v) is not str:
                raise Invalid(f"{key!r}: bytesValue must be a base64 string")
            try:
                base64.b64decode(v, validate=True)
            except binascii.Error as e:
                raise Invalid(f"{key!r}: bytesValue is not base64") from e
            return v
        if kind in ("arrayValue", "array_value", "kvlistValue", "kvlist_value"):
            if depth >= self.max_depth:
                raise Invalid(f"{key!r} is nested deeper than max_value_depth ({self.max_depth})")
            values = v.get("values", []) if type(v) is dict else None
            if type(values) is not list:
                raise Invalid(f"{key!r}: {kind} must be an object with a values array")
            if kind.startswith("array"):
                return [self.json_value(item, depth + 1, key) for item in values]
            return self.json_kvlist(values, depth + 1, key)
        raise Invalid(f"{key!r}: unknown AnyValue field {kind!r}")


def media_type(content_type: str | None) -> str | None:
    """``PROTOBUF`` or ``JSON`` for a request's ``Content-Type``, else ``None`` (→ 415)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in (PROTOBUF, "application/protobuf"):
        return PROTOBUF
    if media == JSON:
        return JSON
    return None


def open_body(
    body: bytes, content_type: str | None, content_encoding: str | None, max_body_bytes: int
) -> tuple[str, bytes]:
    """The request's encoding (``PROTOBUF`` or ``JSON``) and its body, decompressed.

    Raises:
        DecodeError: The content type is neither (or the compression is unreadable).
        PayloadTooLarge: The body is over ``max_body_bytes`` after decompression.
    """
    media = media_type(content_type)
    if media is None:
        raise DecodeError(
            f"unsupported Content-Type {content_type!r}; OTLP/HTTP takes {PROTOBUF} or {JSON}"
        )
    return media, inflate(body, content_encoding, max_body_bytes)


def error_response(message: str, *, as_json: bool, code: int = 3) -> bytes:
    """A ``google.rpc.Status`` body for a 4xx/5xx answer (``code`` 3 = INVALID_ARGUMENT)."""
    if as_json:
        return orjson.dumps({"code": code, "message": message})
    text = message.encode()
    return b"\x08" + varint(code) + b"\x12" + varint(len(text)) + text


def varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def json_text(value: Any) -> str:
    if type(value) is str:  # a bytes body, already base64 text
        return value
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # an int over 64 bits cannot come from OTLP; be safe anyway
        return str(value)


def pb_id(raw: bytes, size: int, name: str) -> str | None:
    if not raw:
        return None
    if len(raw) != size:
        raise Invalid(f"{name} must be {size} bytes, got {len(raw)}")
    return None if not any(raw) else raw.hex()


def hex_id(record: dict[str, Any], camel: str, snake: str, size: int) -> str | None:
    value = get(record, camel, snake)
    if value is None or value == "":
        return None
    if type(value) is not str or len(value) != size * 2:
        raise Invalid(
            f"{camel} must be {size * 2} hex digits (OTLP/JSON ids are hex, not base64), "
            f"got {value!r:.60}"
        )
    try:
        raw = bytes.fromhex(value)
    except ValueError as e:
        raise Invalid(f"{camel} {value!r} is not hex") from e
    return None if not any(raw) else raw.hex()


def get(owner: dict[str, Any], camel: str, snake: str) -> Any:
    """A field by its OTLP/JSON name, or by its proto name (harmless to accept)."""
    value = owner.get(camel)
    return owner.get(snake) if value is None and snake != camel else value


def kind_of(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def expect_object(value: Any, where: str) -> None:
    if type(value) is not dict:
        raise DecodeError(f"{where} must be an object, got {kind_of(value)}")


def sub_object(owner: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """An optional sub-object (``resource``, ``scope``): absent is empty."""
    value = owner.get(key)
    if value is None:
        return {}
    expect_object(value, f"{where}.{key}")
    return value


def array(owner: Any, camel: str, snake: str, where: str) -> list[Any]:
    if type(owner) is not dict:
        return []
    value = get(owner, camel, snake)
    if value is None:
        return []
    if type(value) is not list:
        path = f"{where}.{camel}" if where else camel
        raise DecodeError(f"{path} must be an array, got {kind_of(value)}")
    return value


def string(owner: dict[str, Any], camel: str, snake: str) -> str:
    value = get(owner, camel, snake)
    if value is None:
        return ""
    if type(value) is not str:
        raise Invalid(f"{camel} must be a string, got {kind_of(value)}")
    return value


def integer(owner: dict[str, Any], camel: str, snake: str, bounds: tuple[int, int]) -> int:
    value = get(owner, camel, snake)
    return 0 if value is None else to_int(value, camel, bounds)


def to_int(value: Any, name: str, bounds: tuple[int, int]) -> int:
    """A 64-bit integer: a decimal string in OTLP/JSON, a number accepted too."""
    if type(value) is int:
        number = value
    elif (type(value) is str and value.lstrip("-").isdigit()) or (
        type(value) is float and value.is_integer()
    ):
        number = int(value)
    else:
        raise Invalid(f"{name} must be an integer or a decimal string, got {value!r:.40}")
    if not bounds[0] <= number <= bounds[1]:
        raise Invalid(f"{name} {number} is out of range")
    return number


def to_float(value: Any, key: str) -> float:
    if type(value) in (int, float):
        return float(value)
    if value in ("NaN", "Infinity", "-Infinity"):
        return math.nan if value == "NaN" else math.copysign(math.inf, -1 if value[0] == "-" else 1)
    raise Invalid(f"{key!r}: doubleValue must be a number, got {value!r:.40}")


#: Rejected records named in a partial-success message; the rest are counted.
MESSAGE_ERRORS = 5


def rejection_message(rejected: Sequence[RecordError], unit: str) -> str:
    """One line naming the first few rejected records (``unit``: "log record", "span")."""
    if not rejected:
        return ""
    shown = "; ".join(e.error for e in rejected[:MESSAGE_ERRORS])
    more = len(rejected) - MESSAGE_ERRORS
    tail = f"; and {more} more" if more > 0 else ""
    return f"{len(rejected)} {unit}(s) rejected: {shown}{tail}"


def partial_success(
    response: Any, rejected: Sequence[RecordError], *, as_json: bool, count_field: str, unit: str
) -> bytes:
    """An OTLP Export*ServiceResponse in the request's encoding.

    ``partial_success`` is set only when something was rejected; ``count_field`` is the
    protobuf name of its counter (``rejected_log_records``, ``rejected_spans``).
    """
    message = rejection_message(rejected, unit)
    if as_json:
        if not rejected:
            return b"{}"
        camel = "".join(w.capitalize() if i else w for i, w in enumerate(count_field.split("_")))
        return orjson.dumps(
            {"partialSuccess": {camel: str(len(rejected)), "errorMessage": message}}
        )
    if rejected:
        setattr(response.partial_success, count_field, len(rejected))
        response.partial_success.error_message = message
    data: bytes = response.SerializeToString()
    return data
