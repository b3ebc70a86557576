"""OTLP/HTTP traces (``POST /v1/traces``) in, rows of the ``spans`` table out.

Every OpenTelemetry SDK exports spans as ``ExportTraceServiceRequest``: protobuf from
the Python, Java and Go exporters, JSON (hex ids, enums as integers, 64-bit integers
as decimal strings) from browsers, curl and the Collector. Protobuf goes through the
generated classes of ``opentelemetry-proto``; JSON is walked by hand with the helpers
the logs decoder uses (``otlp_common``), so an attribute reads the same in both.

A span that breaks a rule (missing or wrong-length ids, an end before its start, an
unknown kind) is rejected with its reason and the others are kept: OTLP's partial
success, reported by :func:`export_response` in the encoding of the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from google.protobuf.message import DecodeError as ProtobufDecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tracelake.errors import DecodeError
from tracelake.ingest.decoders.otlp_common import (
    JSON,
    UINT64,
    Invalid,
    ValueReader,
    array,
    expect_object,
    get,
    integer,
    kind_of,
    open_body,
    partial_success,
    rejection_message,
    string,
    sub_object,
    to_int,
)
from tracelake.ingest.decoders.span_rows import STATUS_ERROR, STATUS_OK, STATUS_UNSET, SpanRows
from tracelake.model import RecordError

#: OTLP SpanKind number → ``spans.kind`` (0 = unspecified).
KIND_NAMES: tuple[str | None, ...] = (None, "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
#: OTLP StatusCode number → ``spans.status``.
STATUS_NAMES: tuple[str, ...] = (STATUS_UNSET, STATUS_OK, STATUS_ERROR)

_UINT32 = (0, (1 << 32) - 1)


def decode_traces(
    body: bytes,
    content_type: str | None,
    *,
    content_encoding: str | None = None,
    max_body_bytes: int = 64 << 20,
    max_spans: int = 1_000_000,
    max_attributes: int = 256,
    max_value_depth: int = 16,
) -> tuple[SpanRows, list[RecordError]]:
    """Decode an ``ExportTraceServiceRequest`` in the encoding ``content_type`` names.

    Returns the rows and the rejected spans (``line`` = the span's 1-based position in
    the request). Raises :class:`DecodeError` for an unknown content type or a body that
    cannot be read at all, :class:`PayloadTooLarge` over ``max_body_bytes`` (after
    decompression) or ``max_spans``.
    """
    media, body = open_body(body, content_type, content_encoding, max_body_bytes)
    builder = _Builder(max_spans, max_attributes, max_value_depth)
    if media == JSON:
        builder.json(body)
    else:
        builder.protobuf(body)
    return builder.rows, builder.errors


def export_response(rejected: Sequence[RecordError], *, as_json: bool) -> bytes:
    """``ExportTraceServiceResponse``: ``partial_success`` only when some were rejected.

    ``rejected`` is every one refused, by the decoder and by the store.
    """
    return partial_success(
        ExportTraceServiceResponse(),
        rejected,
        as_json=as_json,
        count_field="rejected_spans",
        unit="span",
    )


def partial_success_message(rejected: Sequence[RecordError]) -> str:
    """One line naming the first few rejected spans and why."""
    return rejection_message(rejected, "span")


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # an integer over 64 bits cannot come from OTLP; be safe anyway
        return orjson.dumps(value, default=str)


class _Builder(ValueReader):
    """Walks resources → scopes → spans, appending rows and collecting rejects."""

    def __init__(self, max_spans: int, max_attributes: int, max_depth: int) -> None:
        super().__init__(max_attributes, max_depth, max_spans, "spans")
        self.rows = SpanRows()

    # -- protobuf -------------------------------------------------------------------

    def protobuf(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        try:
            request.ParseFromString(body)
        except ProtobufDecodeError as e:
            raise DecodeError(f"body is not a valid ExportTraceServiceRequest protobuf: {e}") from e
        for r, resource_spans in enumerate(request.resource_spans):
            where_r = f"resourceSpans[{r}]"
            try:
                resource = self.pb_attributes(resource_spans.resource.attributes, "resource")
            except Invalid as e:
                total = sum(len(s.spans) for s in resource_spans.scope_spans)
                self._reject_all(total, where_r, str(e))
                continue
            context = _Resource(resource)
            for s, scope_spans in enumerate(resource_spans.scope_spans):
                scope = scope_spans.scope
                scope_info = _Scope(scope.name, scope.version)
                for i, span in enumerate(scope_spans.spans):
                    self._next()
                    try:
                        self._pb_span(span, context, scope_info)
                    except Invalid as e:
                        self._reject(f"{where_r}.scopeSpans[{s}].spans[{i}]", str(e))

    def _pb_span(self, span: Span, resource: _Resource, scope: _Scope) -> None:
        trace_id = _pb_id(span.trace_id, 16, "traceId", required=True)
        span_id = _pb_id(span.span_id, 8, "spanId", required=True)
        parent_id = _pb_id(span.parent_span_id, 8, "parentSpanId", required=False)
        attrs = self.pb_attributes(span.attributes, "span")
        events = [
            _event(e.time_unix_nano, e.name, self.pb_attributes(e.attributes, "event"))
            for e in span.events
        ]
        details = dict(scope.info)
        if span.links:
            details["links"] = [
                _link(
                    _pb_id(link.trace_id, 16, "links.traceId", required=True),
                    _pb_id(link.span_id, 8, "links.spanId", required=True),
                    link.trace_state,
                    self.pb_attributes(link.attributes, "link"),
                )
                for link in span.links
            ]
        if span.trace_state:
            details["trace_state"] = span.trace_state
        _dropped(
            details,
            span.dropped_attributes_count,
            span.dropped_events_count,
            span.dropped_links_count,
        )
        self._add(
            trace_id, span_id, parent_id, span.name, span.kind,
            span.start_time_unix_nano, span.end_time_unix_nano,
            span.status.code, span.status.message, attrs, events, details, resource, scope,
        )  # fmt: skip

    # -- JSON -----------------------------------------------------------------------

    def json(self, body: bytes) -> None:
        try:
            request: Any = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise DecodeError(f"body is not valid JSON: {e}") from e
        if type(request) is not dict:
            raise DecodeError("body must be a JSON ExportTraceServiceRequest object")
        for r, resource_spans in enumerate(array(request, "resourceSpans", "resource_spans", "")):
            where_r = f"resourceSpans[{r}]"
            expect_object(resource_spans, where_r)
            all_scopes = array(resource_spans, "scopeSpans", "scope_spans", where_r)
            try:
                resource = self.json_attributes(
                    sub_object(resource_spans, "resource", where_r), "resource"
                )
            except Invalid as e:
                total = sum(len(array(s, "spans", "spans", where_r)) for s in all_scopes)
                self._reject_all(total, where_r, str(e))
                continue
            context = _Resource(resource)
            for s, scope_spans in enumerate(all_scopes):
                where_s = f"{where_r}.scopeSpans[{s}]"
                expect_object(scope_spans, where_s)
                spans = array(scope_spans, "spans", "spans", where_s)
                scope = sub_object(scope_spans, "scope", where_s)
                try:
                    scope_info = _Scope(
                        string(scope, "name", "name"), string(scope, "version", "version")
                    )
                except Invalid as e:
                    self._reject_all(len(spans), where_s, str(e))
                    continue
                for i, span in enumerate(spans):
                    self._next()
                    try:
                        self._json_span(span, context, scope_info)
                    except Invalid as e:
                        self._reject(f"{where_s}.spans[{i}]", str(e))

    def _json_span(self, span: Any, resource: _Resource, scope: _Scope) -> None:
        if type(span) is not dict:
            raise Invalid(f"must be an object, got {kind_of(span)}")
        trace_id = _json_id(span, "traceId", "trace_id", 16, required=True)
        span_id = _json_id(span, "spanId", "span_id", 8, required=True)
        parent_id = _json_id(span, "parentSpanId", "parent_span_id", 8, required=False)
        attrs = self.json_attributes(span, "span")
        events = []
        for event in _objects(span, "events"):
            events.append(
                _event(
                    integer(event, "timeUnixNano", "time_unix_nano", UINT64),
                    string(event, "name", "name"),
                    self.json_attributes(event, "event"),
                )
            )
        details = dict(scope.info)
        links = _objects(span, "links")
        if links:
            details["links"] = [
                _link(
                    _json_id(link, "traceId", "trace_id", 16, required=True),
                    _json_id(link, "spanId", "span_id", 8, required=True),
                    string(link, "traceState", "trace_state"),
                    self.json_attributes(link, "link"),
                )
                for link in links
            ]
        trace_state = string(span, "traceState", "trace_state")
        if trace_state:
            details["trace_state"] = trace_state
        _dropped(
            details,
            integer(span, "droppedAttributesCount", "dropped_attributes_count", _UINT32),
            integer(span, "droppedEventsCount", "dropped_events_count", _UINT32),
            integer(span, "droppedLinksCount", "dropped_links_count", _UINT32),
        )
        status = get(span, "status", "status")
        if status is not None and type(status) is not dict:
            raise Invalid(f"status must be an object, got {kind_of(status)}")
        status = status or {}
        self._add(
            trace_id, span_id, parent_id, string(span, "name", "name"),
            _enum(get(span, "kind", "kind"), "kind", "SPAN_KIND_", KIND_NAMES),
            integer(span, "startTimeUnixNano", "start_time_unix_nano", UINT64),
            integer(span, "endTimeUnixNano", "end_time_unix_nano", UINT64),
            _enum(status.get("code"), "status.code", "STATUS_CODE_", STATUS_NAMES),
            string(status, "message", "message"), attrs, events, details, resource, scope,
        )  # fmt: skip

    # -- shared ---------------------------------------------------------------------

    def _add(
        self,
        trace_id: str | None,
        span_id: str | None,
        parent_id: str | None,
        name: str,
        kind: int,
        start_ns: int,
        end_ns: int,
        status_code: int,
        status_message: str,
        attrs: dict[str, Any],
        events: list[dict[str, Any]],
        details: dict[str, Any],
        resource: _Resource,
        scope: _Scope,
    ) -> None:
        assert trace_id is not None and span_id is not None
        if not 0 <= kind < len(KIND_NAMES):
            raise Invalid(f"kind {kind} is not a SpanKind (0-5)")
        if not 0 <= status_code < len(STATUS_NAMES):
            raise Invalid(f"status.code {status_code} is not a StatusCode (0-2)")
        if not start_ns:
            raise Invalid("startTimeUnixNano is missing")
        if not end_ns:
            raise Invalid("endTimeUnixNano is missing (spans are exported when they end)")
        if end_ns < start_ns:
            raise Invalid(
                f"negative duration: endTimeUnixNano {end_ns} is before "
                f"startTimeUnixNano {start_ns}"
            )
        if start_ns >= 1 << 63:
            raise Invalid(f"startTimeUnixNano {start_ns} is past the year 2262")
        remote = attrs.get("peer.service")
        rows = self.rows
        rows.timestamp.append(start_ns // 1000)
        rows.trace_id.append(trace_id)
        rows.span_id.append(span_id)
        rows.parent_id.append(parent_id)
        rows.service.append(resource.service)
        rows.name.append(name)
        rows.kind.append(KIND_NAMES[kind])
        rows.duration_us.append((end_ns - start_ns) // 1000)
        rows.status.append(STATUS_NAMES[status_code])
        rows.status_message.append(status_message or None)
        rows.remote_service.append(remote if type(remote) is str and remote else None)
        rows.attributes.append(_dumps(attrs))
        rows.events.append(_dumps(events) if events else None)
        rows.resource.append(resource.json)
        rows.details.append(scope.json if len(details) == len(scope.info) else _dumps(details))


class _Resource:
    """What every span of one resource shares, worked out once."""

    __slots__ = ("json", "service")

    def __init__(self, attributes: dict[str, Any]) -> None:
        service = attributes.get("service.name")
        self.service = service if type(service) is str and service else None
        self.json = _dumps(attributes) if attributes else None


class _Scope:
    """The instrumentation scope every span of one ScopeSpans shares, for ``details``."""

    __slots__ = ("info", "json")

    def __init__(self, name: str, version: str) -> None:
        self.info: dict[str, Any] = {}
        if name:
            self.info["scope"] = name
        if version:
            self.info["scope_version"] = version
        self.json = _dumps(self.info) if self.info else None


def _event(time_ns: int, name: str, attributes: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {"timestamp": time_ns // 1000, "name": name}
    if attributes:
        event["attributes"] = attributes
    return event


def _link(
    trace_id: str | None, span_id: str | None, state: str, attributes: dict[str, Any]
) -> dict[str, Any]:
    link: dict[str, Any] = {"trace_id": trace_id, "span_id": span_id}
    if state:
        link["trace_state"] = state
    if attributes:
        link["attributes"] = attributes
    return link


def _dropped(details: dict[str, Any], attributes: int, events: int, links: int) -> None:
    for key, count in (("attributes", attributes), ("events", events), ("links", links)):
        if count:
            details[f"dropped_{key}_count"] = count


def _pb_id(raw: bytes, size: int, name: str, *, required: bool) -> str | None:
    if not raw:
        if required:
            raise Invalid(f"{name} is missing")
        return None
    if len(raw) != size:
        raise Invalid(f"{name} must be {size} bytes, got {len(raw)}")
    if not any(raw):
        if required:
            raise Invalid(f"{name} is all zeros, which is invalid")
        return None
    return raw.hex()


def _json_id(
    owner: dict[str, Any], camel: str, snake: str, size: int, *, required: bool
) -> str | None:
    value = get(owner, camel, snake)
    if value is None or value == "":
        if required:
            raise Invalid(f"{camel} is missing")
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
    return _pb_id(raw, size, camel, required=required)


def _objects(owner: dict[str, Any], key: str) -> list[dict[str, Any]]:
    values = owner.get(key)
    if values is None:
        return []
    if type(values) is not list or any(type(v) is not dict for v in values):
        raise Invalid(f"{key} must be an array of objects")
    return values


def _enum(value: Any, name: str, prefix: str, names: tuple[str | None, ...]) -> int:
    """An enum is an integer in OTLP/JSON; its proto name (``SPAN_KIND_SERVER``) is accepted."""
    if value is None:
        return 0
    if type(value) is str and value.startswith(prefix):
        wanted = value[len(prefix) :]
        for number, known in enumerate(names):
            if (known or "UNSPECIFIED").upper() == wanted or (wanted == "UNSET" and number == 0):
                return number
        raise Invalid(f"{name} {value!r} is not a known value")
    return to_int(value, name, (-(1 << 31), (1 << 31) - 1))
