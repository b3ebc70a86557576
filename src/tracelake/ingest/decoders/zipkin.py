"""Zipkin v2 spans (``POST /api/v2/spans``) in, rows of the ``spans`` table out.

Brave, Spring Sleuth, Micrometer Tracing, py_zipkin and OpenTelemetry's Zipkin
exporters post a list of v2 spans as JSON (the default) or as proto3 ``ListOfSpans``.
The proto3 messages are declared here from ``zipkin.proto``'s field numbers through
``descriptor_pb2`` (no generated code to vendor), so parsing is protobuf's own.

Zipkin's reader rules are kept (``traceId`` of up to 32 hex digits left-padded, span
and service names lower-cased, annotations need a timestamp and a value, ``null`` tag
values are refused) except one: a negative ``duration`` rejects the span instead of
being coerced to 0. A bad span is rejected with its reason and the others are kept.
Trace ids are stored as 32 hex digits, 64-bit ids left-padded as in ``logs``.
"""

from __future__ import annotations

import ipaddress
import time
from typing import Any

import orjson
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError as ProtobufDecodeError
from google.protobuf.message import Message

from tracelake.errors import DecodeError
from tracelake.ingest.decoders.compression import inflate
from tracelake.ingest.decoders.span_rows import (
    STATUS_ERROR,
    STATUS_OK,
    STATUS_UNSET,
    SpanRows,
    hex_id,
    is_zero,
    trace_id_128,
)
from tracelake.model import RecordError

JSON = "application/json"
PROTOBUF = "application/x-protobuf"

#: Zipkin's ``Span.Kind``; proto3 numbers them 1-4 (0 = unspecified).
KINDS = ("CLIENT", "SERVER", "PRODUCER", "CONSUMER")


class _Invalid(Exception):
    """A span cannot be used: why."""


def _list_of_spans() -> type[Message]:
    """``zipkin2.proto3.ListOfSpans``, built from its field numbers."""
    f = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="tracelake/zipkin2.proto", package="zipkin2.proto3", syntax="proto3"
    )

    def message(name: str, *fields: tuple[str, int, int, int, str]) -> None:
        m = file.message_type.add(name=name)
        for field_name, number, kind, label, type_name in fields:
            m.field.add(name=field_name, number=number, type=kind, label=label,
                        type_name=type_name or None)  # fmt: skip

    one, many = f.LABEL_OPTIONAL, f.LABEL_REPEATED
    message("Endpoint",
            ("service_name", 1, f.TYPE_STRING, one, ""), ("ipv4", 2, f.TYPE_BYTES, one, ""),
            ("ipv6", 3, f.TYPE_BYTES, one, ""), ("port", 4, f.TYPE_INT32, one, ""))  # fmt: skip
    message("Annotation", ("timestamp", 1, f.TYPE_FIXED64, one, ""),
            ("value", 2, f.TYPE_STRING, one, ""))  # fmt: skip
    span = file.message_type.add(name="Span")
    tags = span.nested_type.add(name="TagsEntry")
    tags.options.map_entry = True
    tags.field.add(name="key", number=1, type=f.TYPE_STRING, label=one)
    tags.field.add(name="value", number=2, type=f.TYPE_STRING, label=one)
    for field_name, number, kind, label, type_name in (
        ("trace_id", 1, f.TYPE_BYTES, one, ""), ("parent_id", 2, f.TYPE_BYTES, one, ""),
        ("id", 3, f.TYPE_BYTES, one, ""), ("kind", 4, f.TYPE_INT32, one, ""),
        ("name", 5, f.TYPE_STRING, one, ""), ("timestamp", 6, f.TYPE_FIXED64, one, ""),
        ("duration", 7, f.TYPE_UINT64, one, ""),
        ("local_endpoint", 8, f.TYPE_MESSAGE, one, ".zipkin2.proto3.Endpoint"),
        ("remote_endpoint", 9, f.TYPE_MESSAGE, one, ".zipkin2.proto3.Endpoint"),
        ("annotations", 10, f.TYPE_MESSAGE, many, ".zipkin2.proto3.Annotation"),
        ("tags", 11, f.TYPE_MESSAGE, many, ".zipkin2.proto3.Span.TagsEntry"),
        ("debug", 12, f.TYPE_BOOL, one, ""), ("shared", 13, f.TYPE_BOOL, one, ""),
    ):  # fmt: skip
        span.field.add(name=field_name, number=number, type=kind, label=label,
                       type_name=type_name or None)  # fmt: skip
    message("ListOfSpans", ("spans", 1, f.TYPE_MESSAGE, many, ".zipkin2.proto3.Span"))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("zipkin2.proto3.ListOfSpans"))


ListOfSpans = _list_of_spans()


def media_type(content_type: str | None) -> str:
    """Zipkin picks the decoder by ``Content-Type``; anything but protobuf is JSON."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return PROTOBUF if media in (PROTOBUF, "application/protobuf") else JSON


def decode_spans(
    body: bytes,
    content_type: str | None,
    *,
    content_encoding: str | None = None,
    max_body_bytes: int = 64 << 20,
    now_us: int | None = None,
) -> tuple[SpanRows, list[RecordError]]:
    """Decode a Zipkin v2 list of spans; the rows and the rejected spans (1-based index).

    Raises :class:`DecodeError` when the body as a whole cannot be read (not JSON, not
    a list, Zipkin v1 JSON, garbage protobuf). A span without a timestamp (Zipkin allows
    them: a late piece, a span still open) keeps none: its row is filed under its first
    annotation, else ``now_us``, and marked ``details.no_timestamp`` so that answers
    leave the field out and trace searches do not match it by that time.
    """
    body = inflate(body, content_encoding, max_body_bytes)
    builder = _Builder(int(time.time() * 1e6) if now_us is None else now_us)
    if not body.strip():
        return builder.rows, builder.errors
    if media_type(content_type) == PROTOBUF:
        builder.protobuf(body)
    else:
        builder.json(body)
    return builder.rows, builder.errors


class _Builder:
    def __init__(self, now_us: int) -> None:
        self.now_us = now_us
        self.rows = SpanRows()
        self.errors: list[RecordError] = []

    # -- JSON -----------------------------------------------------------------------

    def json(self, body: bytes) -> None:
        try:
            spans: Any = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise DecodeError(f"body is not valid JSON: {e}") from e
        if type(spans) is not list:
            raise DecodeError("body must be a JSON array of Zipkin v2 spans")
        if b'yAnnotations"' in body:
            raise DecodeError("Expected a JSON_V2 encoded list, but received: JSON_V1")
        for index, span in enumerate(spans, 1):
            try:
                self._json_span(span)
            except _Invalid as e:
                self.errors.append(RecordError(index, f"spans[{index - 1}]: {e}"))

    def _json_span(self, span: Any) -> None:
        if type(span) is not dict:
            raise _Invalid(f"must be an object, got {_kind(span)}")
        trace_id = _id(span.get("traceId"), "traceId", 32, required=True)
        span_id = _id(span.get("id"), "id", 16, required=True)
        parent_id = _id(span.get("parentId"), "parentId", 16, required=False)
        kind = span.get("kind")
        if kind is not None and kind not in KINDS:
            raise _Invalid(f"kind {kind!r} is not one of {', '.join(KINDS)}")
        annotations = []
        for a in _list(span, "annotations"):
            if type(a) is not dict:
                raise _Invalid("annotations must be objects with timestamp and value")
            ts, value = a.get("timestamp"), a.get("value")
            if type(ts) is not int or type(value) is not str:
                raise _Invalid("an annotation needs an integer timestamp and a string value")
            annotations.append({"timestamp": ts, "name": value})
        tags = span.get("tags") or {}
        if type(tags) is not dict:
            raise _Invalid(f"tags must be an object of strings, got {_kind(tags)}")
        for key, value in tags.items():
            if value is None:
                raise _Invalid(f"tag {key!r} is null; tag values are strings")
            if type(value) is not str:
                if type(value) in (dict, list):
                    raise _Invalid(f"tag {key!r} must be a string, got {_kind(value)}")
                tags[key] = orjson.dumps(value).decode()
        local = _json_endpoint(span.get("localEndpoint"), "localEndpoint")
        remote = _json_endpoint(span.get("remoteEndpoint"), "remoteEndpoint")
        self._add(
            trace_id, span_id, parent_id, kind, _text(span.get("name"), "name"),
            _micros(span.get("timestamp"), "timestamp"), _micros(span.get("duration"), "duration"),
            local, remote, annotations, tags, span.get("debug") is True, span.get("shared") is True,
        )  # fmt: skip

    # -- protobuf -------------------------------------------------------------------

    def protobuf(self, body: bytes) -> None:
        request = ListOfSpans()
        try:
            request.ParseFromString(body)
        except ProtobufDecodeError as e:
            raise DecodeError(f"body is not a valid zipkin2.proto3 ListOfSpans: {e}") from e
        for index, span in enumerate(request.spans, 1):
            try:
                self._pb_span(span)
            except _Invalid as e:
                self.errors.append(RecordError(index, f"spans[{index - 1}]: {e}"))

    def _pb_span(self, span: Any) -> None:
        trace_id = _bytes_id(span.trace_id, "trace_id", (8, 16), required=True)
        span_id = _bytes_id(span.id, "id", (8,), required=True)
        parent_id = _bytes_id(span.parent_id, "parent_id", (8,), required=False)
        if not 0 <= span.kind <= len(KINDS):
            raise _Invalid(f"kind {span.kind} is not a Span.Kind (0-4)")
        kind = KINDS[span.kind - 1] if span.kind else None
        annotations = [{"timestamp": a.timestamp, "name": a.value} for a in span.annotations]
        duration = span.duration
        if duration >= 1 << 63:
            raise _Invalid(f"duration {duration} is out of range")
        local = _pb_endpoint(span, "local_endpoint")
        remote = _pb_endpoint(span, "remote_endpoint")
        self._add(
            trace_id, span_id, parent_id, kind, span.name, span.timestamp or None,
            duration or None, local, remote, annotations, dict(span.tags), span.debug, span.shared,
        )  # fmt: skip

    # -- shared ---------------------------------------------------------------------

    def _add(
        self,
        trace_id: str,
        span_id: str,
        parent_id: str | None,
        kind: str | None,
        name: str,
        timestamp: int | None,
        duration: int | None,
        local: dict[str, Any],
        remote: dict[str, Any],
        annotations: list[dict[str, Any]],
        tags: dict[str, str],
        debug: bool,
        shared: bool,
    ) -> None:
        if duration is not None and duration < 0:
            raise _Invalid(f"negative duration {duration}; durations are microseconds >= 0")
        if timestamp is not None and timestamp < 0:
            raise _Invalid(f"negative timestamp {timestamp}")
        untimed = timestamp is None
        if timestamp is None:
            timestamp = min((a["timestamp"] for a in annotations), default=self.now_us)
        service = local.pop("serviceName", None)
        remote_service = remote.pop("serviceName", None)
        details: dict[str, Any] = {}
        if local:
            details["local"] = local
        if remote:
            details["remote"] = remote
        if shared:
            details["shared"] = True
        if debug:
            details["debug"] = True
        if untimed:
            details["no_timestamp"] = True
        error = tags.get("error")
        otel_status = tags.get("otel.status_code", "").upper()
        if error is not None or otel_status == "ERROR":
            status = STATUS_ERROR
        else:
            status = STATUS_OK if otel_status == "OK" else STATUS_UNSET
        rows = self.rows
        rows.timestamp.append(timestamp)
        rows.trace_id.append(trace_id_128(trace_id))
        rows.span_id.append(span_id)
        rows.parent_id.append(parent_id or None)
        rows.service.append(service)
        rows.name.append(name.lower() or None)
        rows.kind.append(kind)
        rows.duration_us.append(duration)
        rows.status.append(status)
        rows.status_message.append(error or tags.get("otel.status_description") or None)
        rows.remote_service.append(remote_service)
        rows.attributes.append(orjson.dumps(tags))
        rows.events.append(orjson.dumps(annotations) if annotations else None)
        rows.resource.append(orjson.dumps({"service.name": service}) if service else None)
        rows.details.append(orjson.dumps(details) if details else None)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _id(value: Any, name: str, max_digits: int, *, required: bool) -> str:
    if value is None or value == "":
        if required:
            raise _Invalid(f"{name} is missing")
        return ""
    if type(value) is not str:
        raise _Invalid(f"{name} must be a hex string, got {_kind(value)}")
    normal = hex_id(value, max_digits)
    if normal is None:
        raise _Invalid(f"{name} {value!r:.50} must be 1 to {max_digits} hex digits")
    if is_zero(normal):
        if required:
            raise _Invalid(f"{name} is all zeros, which is invalid")
        return ""
    return normal


def _bytes_id(raw: bytes, name: str, sizes: tuple[int, ...], *, required: bool) -> str:
    if not raw:
        if required:
            raise _Invalid(f"{name} is missing")
        return ""
    if len(raw) not in sizes:
        wanted = " or ".join(str(s) for s in sizes)
        raise _Invalid(f"{name} must be {wanted} bytes, got {len(raw)}")
    if not any(raw):
        if required:
            raise _Invalid(f"{name} is all zeros, which is invalid")
        return ""
    return raw.hex()


def _list(span: dict[str, Any], key: str) -> list[Any]:
    value = span.get(key)
    if value is None:
        return []
    if type(value) is not list:
        raise _Invalid(f"{key} must be an array, got {_kind(value)}")
    return value


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if type(value) is not str:
        raise _Invalid(f"{name} must be a string, got {_kind(value)}")
    return value


def _micros(value: Any, name: str) -> int | None:
    if value is None or value == 0:
        return None
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is not int:
        raise _Invalid(f"{name} must be an integer of microseconds, got {value!r:.40}")
    if abs(value) >= 1 << 63:
        raise _Invalid(f"{name} {value} is out of range")
    return value


def _json_endpoint(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if type(value) is not dict:
        raise _Invalid(f"{name} must be an object, got {_kind(value)}")
    out: dict[str, Any] = {}
    service = value.get("serviceName")
    if service is not None:
        if type(service) is not str:
            raise _Invalid(f"{name}.serviceName must be a string")
        if service:
            out["serviceName"] = service.lower()
    for key in ("ipv4", "ipv6"):
        address = value.get(key)
        if address:
            if type(address) is not str:
                raise _Invalid(f"{name}.{key} must be a string")
            out[key] = address
    port = value.get("port")
    if port:
        if type(port) is not int or not 0 < port <= 65535:
            raise _Invalid(f"{name}.port must be a port number, got {port!r:.20}")
        out["port"] = port
    return out


def _pb_endpoint(span: Any, field: str) -> dict[str, Any]:
    if not span.HasField(field):
        return {}
    endpoint = getattr(span, field)
    out: dict[str, Any] = {}
    if endpoint.service_name:
        out["serviceName"] = endpoint.service_name.lower()
    if endpoint.ipv4:
        if len(endpoint.ipv4) != 4:
            raise _Invalid(f"{field}.ipv4 must be 4 bytes, got {len(endpoint.ipv4)}")
        out["ipv4"] = str(ipaddress.IPv4Address(endpoint.ipv4))
    if endpoint.ipv6:
        if len(endpoint.ipv6) != 16:
            raise _Invalid(f"{field}.ipv6 must be 16 bytes, got {len(endpoint.ipv6)}")
        out["ipv6"] = str(ipaddress.IPv6Address(endpoint.ipv6))
    if endpoint.port:
        out["port"] = endpoint.port & 0xFFFF
    return out
