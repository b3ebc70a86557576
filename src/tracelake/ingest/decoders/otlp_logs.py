"""OTLP/HTTP logs (``POST /v1/logs``) in, log objects out; the export response back.

Every OpenTelemetry SDK exports logs as ``ExportLogsServiceRequest``: protobuf from the
Python, Java and Go exporters, JSON from browsers, curl and the Collector's
``encoding: json``. OTLP/JSON is *not* proto3's JSON mapping — trace and span ids are hex,
not base64 — so JSON is mapped by hand here instead of through ``json_format``; protobuf
goes through the generated classes of ``opentelemetry-proto``. Both paths end in the same
record builder, so a record reads the same whichever encoding carried it.

A record that breaks a rule (an id of the wrong length, a severity outside 0-24, too
many attributes, a value of the wrong type) is rejected with its reason and the others
are kept: OTLP's partial success. :func:`export_response` encodes the
``ExportLogsServiceResponse`` in the encoding of the request; the spec requires the same
``Content-Type`` both ways.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
from google.protobuf.message import DecodeError as ProtobufDecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, SeverityNumber

from tracelake.errors import DecodeError
from tracelake.ingest.decoders.otlp_common import (
    INT64 as _INT64,
)
from tracelake.ingest.decoders.otlp_common import (
    JSON,
    Invalid,
    ValueReader,
    open_body,
    partial_success,
    rejection_message,
)
from tracelake.ingest.decoders.otlp_common import (
    UINT64 as _UINT64,
)
from tracelake.ingest.decoders.otlp_common import array as _array
from tracelake.ingest.decoders.otlp_common import error_response as error_response
from tracelake.ingest.decoders.otlp_common import expect_object as _expect_object
from tracelake.ingest.decoders.otlp_common import get as _get
from tracelake.ingest.decoders.otlp_common import hex_id as _hex_id
from tracelake.ingest.decoders.otlp_common import integer as _integer
from tracelake.ingest.decoders.otlp_common import json_text as _json_text
from tracelake.ingest.decoders.otlp_common import kind_of as _kind
from tracelake.ingest.decoders.otlp_common import pb_id as _pb_id
from tracelake.ingest.decoders.otlp_common import string as _string
from tracelake.ingest.decoders.otlp_common import sub_object as _object
from tracelake.ingest.decoders.otlp_common import to_int as _to_int
from tracelake.model import LEVELS, LogObject, RecordError

#: Severity number → level: 1-4 TRACE, 5-8 DEBUG, ... 21-24 FATAL.
SEVERITY_LEVELS: tuple[str, ...] = ("", *(level for level in LEVELS for _ in range(4)))

#: Keys the record builder sets itself; a log attribute with one of these names is kept
#: as ``attributes.<name>`` so that neither is lost.
CORE_KEYS = frozenset(
    {
        "timestamp", "level", "message", "service", "host", "logger", "trace_id", "span_id",
        "resource", "scope_version", "scope_attributes", "event_name", "severity_text",
        "trace_flags", "dropped_attributes_count",
    }
)  # fmt: skip

#: How many rejected records the partial-success message names before "and N more".


def decode_logs(
    body: bytes,
    content_type: str | None,
    *,
    content_encoding: str | None = None,
    max_body_bytes: int = 64 << 20,
    max_records: int = 1_000_000,
    max_attributes: int = 256,
    max_value_depth: int = 16,
    now: Callable[[], int] | None = None,
) -> tuple[list[LogObject], list[RecordError]]:
    """Decode an ``ExportLogsServiceRequest`` in the encoding ``content_type`` names.

    Returns the log objects and the rejected records (``line`` = the record's 1-based
    position in the request). Raises :class:`DecodeError` for an unknown content type or
    a body that cannot be read at all, and :class:`PayloadTooLarge` over
    ``max_body_bytes`` (after decompression) or ``max_records``. ``max_attributes`` (per
    record) and ``max_value_depth`` (nesting of arrays/kvlists) reject single records.
    ``now`` (epoch ns) stamps a record with neither time set; without it such a record
    has no ``timestamp`` and the pipeline stamps it.
    """
    media, body = open_body(body, content_type, content_encoding, max_body_bytes)
    builder = _Builder(max_records, max_attributes, max_value_depth, now)
    if media == JSON:
        builder.json(body)
    else:
        builder.protobuf(body)
    return builder.objects, builder.errors


def export_response(rejected: Sequence[RecordError], *, as_json: bool) -> bytes:
    """``ExportLogsServiceResponse``: ``partial_success`` only when some were rejected.

    ``rejected`` is every one refused, by the decoder and by the store.
    """
    return partial_success(
        ExportLogsServiceResponse(),
        rejected,
        as_json=as_json,
        count_field="rejected_log_records",
        unit="log record",
    )


def partial_success_message(rejected: Sequence[RecordError]) -> str:
    """One line naming the first few rejected log records and why."""
    return rejection_message(rejected, "log record")


class _Builder(ValueReader):
    """Walks resources → scopes → records, building objects and collecting rejects."""

    def __init__(
        self,
        max_records: int,
        max_attributes: int,
        max_depth: int,
        now: Callable[[], int] | None,
    ) -> None:
        super().__init__(max_attributes, max_depth, max_records, "log records")
        self.now = now
        self.objects: list[LogObject] = []

    # -- protobuf -------------------------------------------------------------------

    def protobuf(self, body: bytes) -> None:
        request = ExportLogsServiceRequest()
        try:
            request.ParseFromString(body)
        except ProtobufDecodeError as e:
            raise DecodeError(f"body is not a valid ExportLogsServiceRequest protobuf: {e}") from e
        for r, resource_logs in enumerate(request.resource_logs):
            where_r = f"resourceLogs[{r}]"
            try:
                resource = self.pb_attributes(resource_logs.resource.attributes, "resource")
            except Invalid as e:
                total = sum(len(s.log_records) for s in resource_logs.scope_logs)
                self._reject_all(total, where_r, str(e))
                continue
            for s, scope_logs in enumerate(resource_logs.scope_logs):
                where_s = f"{where_r}.scopeLogs[{s}]"
                scope = scope_logs.scope
                try:
                    scope_attrs = self.pb_attributes(scope.attributes, "scope")
                except Invalid as e:
                    self._reject_all(len(scope_logs.log_records), where_s, str(e))
                    continue
                for i, record in enumerate(scope_logs.log_records):
                    self._next()
                    try:
                        obj = self._pb_record(record)
                    except Invalid as e:
                        self._reject(f"{where_s}.logRecords[{i}]", str(e))
                        continue
                    self.objects.append(
                        _finish(obj, resource, scope.name, scope.version, scope_attrs)
                    )

    def _pb_record(self, record: LogRecord) -> LogObject:
        attrs = self.pb_attributes(record.attributes, "log")
        body = self.pb_value(record.body, 0, "body") if record.HasField("body") else None
        return self._record(
            attrs,
            time=record.time_unix_nano,
            observed=record.observed_time_unix_nano,
            severity=record.severity_number,
            severity_text=record.severity_text,
            body=body,
            has_body=record.HasField("body"),
            trace_id=_pb_id(record.trace_id, 16, "traceId"),
            span_id=_pb_id(record.span_id, 8, "spanId"),
            flags=record.flags,
            dropped=record.dropped_attributes_count,
            event_name=record.event_name,
        )

    # -- JSON -----------------------------------------------------------------------

    def json(self, body: bytes) -> None:
        try:
            request: Any = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise DecodeError(f"body is not valid JSON: {e}") from e
        if type(request) is not dict:
            raise DecodeError("body must be a JSON ExportLogsServiceRequest object")
        for r, resource_logs in enumerate(_array(request, "resourceLogs", "resource_logs", "")):
            where_r = f"resourceLogs[{r}]"
            _expect_object(resource_logs, where_r)
            resource_obj = _object(resource_logs, "resource", where_r)
            all_scopes = _array(resource_logs, "scopeLogs", "scope_logs", where_r)
            try:
                resource = self.json_attributes(resource_obj, "resource")
            except Invalid as e:
                total = sum(
                    len(_array(s, "logRecords", "log_records", where_r))
                    for s in all_scopes
                    if type(s) is dict
                )
                self._reject_all(total, where_r, str(e))
                continue
            for s, scope_logs in enumerate(all_scopes):
                where_s = f"{where_r}.scopeLogs[{s}]"
                _expect_object(scope_logs, where_s)
                scope = _object(scope_logs, "scope", where_s)
                records = _array(scope_logs, "logRecords", "log_records", where_s)
                try:
                    scope_attrs = self.json_attributes(scope, "scope")
                    scope_name = _string(scope, "name", "name")
                    scope_version = _string(scope, "version", "version")
                except Invalid as e:
                    self._reject_all(len(records), where_s, str(e))
                    continue
                for i, record in enumerate(records):
                    self._next()
                    try:
                        obj = self._json_record(record)
                    except Invalid as e:
                        self._reject(f"{where_s}.logRecords[{i}]", str(e))
                        continue
                    self.objects.append(
                        _finish(obj, resource, scope_name, scope_version, scope_attrs)
                    )

    def _json_record(self, record: Any) -> LogObject:
        if type(record) is not dict:
            raise Invalid(f"must be an object, got {_kind(record)}")
        body_value = _get(record, "body", "body")
        return self._record(
            self.json_attributes(record, "log"),
            time=_integer(record, "timeUnixNano", "time_unix_nano", _UINT64),
            observed=_integer(record, "observedTimeUnixNano", "observed_time_unix_nano", _UINT64),
            severity=_severity(_get(record, "severityNumber", "severity_number")),
            severity_text=_string(record, "severityText", "severity_text"),
            body=self.json_value(body_value, 0, "body") if body_value is not None else None,
            has_body=body_value is not None,
            trace_id=_hex_id(record, "traceId", "trace_id", 16),
            span_id=_hex_id(record, "spanId", "span_id", 8),
            flags=_integer(record, "flags", "flags", (0, (1 << 32) - 1)),
            dropped=_integer(
                record, "droppedAttributesCount", "dropped_attributes_count", (0, (1 << 32) - 1)
            ),
            event_name=_string(record, "eventName", "event_name"),
        )

    # -- shared ---------------------------------------------------------------------

    def _record(
        self,
        attrs: dict[str, Any],
        *,
        time: int,
        observed: int,
        severity: int,
        severity_text: str,
        body: Any,
        has_body: bool,
        trace_id: str | None,
        span_id: str | None,
        flags: int,
        dropped: int,
        event_name: str,
    ) -> LogObject:
        if not 0 <= severity <= 24:
            raise Invalid(f"severityNumber {severity} is outside 0-24")
        obj: LogObject = {}
        for key, value in attrs.items():
            obj[f"attributes.{key}" if key in CORE_KEYS else key] = value
        ts = time or observed or (self.now() if self.now is not None else 0)
        if ts > _INT64[1]:
            raise Invalid(f"timestamp {ts} is past the year 2262 (over int64 nanoseconds)")
        if ts:
            obj["timestamp"] = ts
        level = SEVERITY_LEVELS[severity]
        if level:
            obj["level"] = level
            if severity_text and severity_text.upper() != level:
                obj["severity_text"] = severity_text
        elif severity_text:
            obj["level"] = severity_text
        if has_body and body is not None:
            obj["message"] = body if type(body) is str else _json_text(body)
        if trace_id:
            obj["trace_id"] = trace_id
        if span_id:
            obj["span_id"] = span_id
        if flags:
            obj["trace_flags"] = flags
        if dropped:
            obj["dropped_attributes_count"] = dropped
        if event_name:
            obj["event_name"] = event_name
        return obj


def _finish(
    obj: LogObject,
    resource: dict[str, Any],
    scope_name: str,
    scope_version: str,
    scope_attrs: dict[str, Any],
) -> LogObject:
    """Add what the record inherits from its resource and scope.

    Each record gets its own copy of the shared dicts, so a processor that edits one
    record's ``resource`` leaves its siblings alone.
    """
    if resource:
        obj["resource"] = dict(resource)
        service = resource.get("service.name")
        if type(service) is str and service:
            obj["service"] = service
        host = resource.get("host.name")
        if type(host) is str and host:
            obj["host"] = host
    if scope_name:
        obj["logger"] = scope_name
    if scope_version:
        obj["scope_version"] = scope_version
    if scope_attrs:
        obj["scope_attributes"] = dict(scope_attrs)
    return obj


def _severity(value: Any) -> int:
    """An enum is an integer in OTLP/JSON; its name (``SEVERITY_NUMBER_WARN``) is accepted."""
    if value is None:
        return 0
    if type(value) is str and value.startswith("SEVERITY_NUMBER_"):
        try:
            return int(SeverityNumber.Value(value))
        except ValueError as e:
            raise Invalid(f"severityNumber {value!r} is not a SeverityNumber") from e
    return _to_int(value, "severityNumber", _INT64)
