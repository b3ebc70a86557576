"""Every decoder fed arbitrary and half-valid bytes (hypothesis): it returns records and
per-record errors or raises a 4xx ``TracelakeError`` — never another exception, never
a hang. Bounded (``max_examples``, a deadline) so the whole file stays within seconds."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable
from typing import Any

import msgpack
import snappy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracelake.errors import TracelakeError
from tracelake.ingest.decoders.es_bulk import decode_bulk
from tracelake.ingest.decoders.forward import ForwardDecoder, heartbeat_reply
from tracelake.ingest.decoders.framing import LineFramer, SyslogFramer
from tracelake.ingest.decoders.jsonlines import decode_json_datagram, decode_json_lines
from tracelake.ingest.decoders.loki import decode_push, parse_labels
from tracelake.ingest.decoders.ndjson import decode_ndjson
from tracelake.ingest.decoders.otlp_logs import decode_logs
from tracelake.ingest.decoders.otlp_metrics import decode_metrics
from tracelake.ingest.decoders.otlp_traces import decode_traces
from tracelake.ingest.decoders.prom_text import parse_exposition
from tracelake.ingest.decoders.remote_write import decode_write_request
from tracelake.ingest.decoders.syslog import decode_syslog
from tracelake.ingest.decoders.zipkin import decode_spans

FUZZ = settings(
    max_examples=150,
    deadline=2000,  # ms per example: a decoder that loops on some input fails here
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
    database=None,
)
SMALL = 4096  # limits small enough that the fuzzer reaches them

#: JSON values nested a few levels: the shapes the JSON decoders walk.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(
            st.sampled_from(
                [
                    "timestamp",
                    "@timestamp",
                    "ts",
                    "time",
                    "level",
                    "severity",
                    "service",
                    "service.name",
                    "message",
                    "msg",
                    "trace_id",
                    "traceId",
                    "span_id",
                    "x",
                    "resourceLogs",
                    "resourceSpans",
                    "resourceMetrics",
                    "scopeLogs",
                    "logRecords",
                    "scopeSpans",
                    "spans",
                    "attributes",
                    "key",
                    "value",
                    "stringValue",
                    "intValue",
                    "body",
                    "timeUnixNano",
                    "traceId",
                    "spanId",
                    "name",
                    "kind",
                    "streams",
                    "stream",
                    "values",
                    "index",
                    "create",
                    "_index",
                    "id",
                    "localEndpoint",
                    "serviceName",
                    "duration",
                    "tags",
                    "annotations",
                    "scopeMetrics",
                    "metrics",
                    "gauge",
                    "sum",
                    "histogram",
                    "dataPoints",
                    "asDouble",
                    "asInt",
                    "bucketCounts",
                    "explicitBounds",
                ]
            ),
            inner,
            max_size=6,
        )
    ),
    max_leaves=25,
)
json_bytes = json_values.map(lambda v: json.dumps(v).encode())  # big ints too
#: Raw bytes, JSON documents, and JSON with a byte cut off or flipped.
payloads = st.one_of(
    st.binary(max_size=2048),
    json_bytes,
    st.tuples(json_bytes, st.integers(0, 64)).map(lambda t: t[0][: max(0, len(t[0]) - t[1])]),
    st.lists(json_bytes, max_size=8).map(b"\n".join),
)
encodings = st.sampled_from([None, "", "gzip", "deflate", "snappy", "identity", "br"])


def encode(body: bytes, encoding: str | None) -> bytes:
    """Compress as the header claims (sometimes the header lies; that must be a 4xx)."""
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    if encoding == "snappy":
        return bytes(snappy.compress(body))
    return body


def survives(call: Callable[[], Any]) -> None:
    """``call`` returns, or raises a client error (4xx) that says what is wrong."""
    try:
        call()
    except TracelakeError as e:
        assert 400 <= e.status < 500, f"{type(e).__name__} ({e.status}): {e}"
        assert e.message.strip(), "an error without a message"


@FUZZ
@given(payloads)
def test_ndjson_decoder(body: bytes) -> None:
    survives(lambda: decode_ndjson(body, 512))


@FUZZ
@given(payloads, st.sampled_from([None, "application/json", "application/x-protobuf"]), encodings)
def test_otlp_logs_decoder(body: bytes, content_type: str | None, encoding: str | None) -> None:
    survives(
        lambda: decode_logs(
            encode(body, encoding),
            content_type,
            content_encoding=encoding,
            max_body_bytes=SMALL,
            max_records=50,
            max_attributes=8,
        )
    )


@FUZZ
@given(payloads, st.sampled_from([None, "application/json", "application/x-protobuf"]), encodings)
def test_otlp_traces_decoder(body: bytes, content_type: str | None, encoding: str | None) -> None:
    survives(
        lambda: decode_traces(
            encode(body, encoding),
            content_type,
            content_encoding=encoding,
            max_body_bytes=SMALL,
            max_spans=50,
            max_attributes=8,
        )
    )


@FUZZ
@given(payloads, st.sampled_from([None, "application/json", "application/x-protobuf"]), encodings)
def test_otlp_metrics_decoder(body: bytes, content_type: str | None, encoding: str | None) -> None:
    survives(
        lambda: decode_metrics(
            encode(body, encoding),
            content_type,
            content_encoding=encoding,
            max_body_bytes=SMALL,
            max_points=50,
        )
    )


@FUZZ
@given(payloads, st.sampled_from([None, "application/json", "application/x-thrift"]), encodings)
def test_zipkin_decoder(body: bytes, content_type: str | None, encoding: str | None) -> None:
    survives(
        lambda: decode_spans(
            encode(body, encoding), content_type, content_encoding=encoding, max_body_bytes=SMALL
        )
    )


@FUZZ
@given(payloads, st.sampled_from([None, "application/json", "application/x-protobuf"]), encodings)
def test_loki_push_decoder(body: bytes, content_type: str | None, encoding: str | None) -> None:
    survives(
        lambda: decode_push(
            encode(body, encoding),
            content_type,
            content_encoding=encoding,
            max_body_bytes=SMALL,
            max_entries=50,
            max_line_bytes=256,
        )
    )


@FUZZ
@given(st.text(max_size=200))
def test_loki_label_parser(text: str) -> None:
    survives(lambda: parse_labels(text))


@FUZZ
@given(st.lists(st.one_of(json_bytes, st.binary(max_size=200)), max_size=10), encodings)
def test_elasticsearch_bulk_decoder(lines: list[bytes], encoding: str | None) -> None:
    body = b"\n".join(lines) + b"\n"
    survives(
        lambda: decode_bulk(
            encode(body, encoding),
            content_encoding=encoding,
            max_body_bytes=SMALL,
            max_doc_bytes=512,
            max_actions=20,
        )
    )


@FUZZ
@given(st.binary(max_size=2048), st.sampled_from([None, "snappy", "gzip", ""]))
def test_remote_write_decoder(body: bytes, encoding: str | None) -> None:
    survives(
        lambda: decode_write_request(
            encode(body, encoding), content_encoding=encoding, max_body_bytes=SMALL
        )
    )


prom_lines = st.lists(
    st.one_of(
        st.from_regex(
            r"[a-z_:][a-z0-9_:]{0,10}(\{[a-z]{1,4}=\"[^\"\n]{0,8}\"\})? -?[0-9.eE+]{1,8}"
        ),
        st.from_regex(r"# (TYPE|HELP|UNIT|EOF) [a-z_]{1,8} [a-z ]{0,12}"),
        st.text(max_size=40).filter(lambda t: "\n" not in t),
    ),
    max_size=12,
).map(lambda lines: "\n".join(lines).encode())


@FUZZ
@given(
    st.one_of(prom_lines, st.binary(max_size=1024)),
    st.sampled_from([None, "text/plain; version=0.0.4", "application/openmetrics-text"]),
)
def test_prometheus_text_parser(body: bytes, content_type: str | None) -> None:
    survives(
        lambda: parse_exposition(
            body, content_type, target_labels={"job": "fuzz"}, default_time_us=1_700_000_000
        )
    )


@FUZZ
@given(st.lists(payloads, max_size=6))
def test_json_lines_decoders(lines: list[bytes]) -> None:
    survives(lambda: decode_json_lines(lines))
    for line in lines:
        survives(lambda line=line: decode_json_datagram(line))


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=600),
        st.from_regex(rb"<[0-9]{1,3}>[0-9]? ?[A-Za-z0-9:.\- ]{0,60}", fullmatch=True),
    )
)
def test_syslog_decoder(frame: bytes) -> None:
    survives(lambda: decode_syslog(frame, now=lambda: 1_700_000_000.0))


@FUZZ
@given(st.lists(st.binary(max_size=300), max_size=8), st.integers(8, 256))
def test_line_and_syslog_framers_bound_what_they_hold(chunks: list[bytes], limit: int) -> None:
    lines, octets = LineFramer(limit), SyslogFramer(limit)
    for chunk in chunks:
        assert all(len(frame) <= limit for frame in lines.feed(chunk))
        assert all(len(frame) <= limit for frame in octets.feed(chunk))
    survives(lines.flush)
    survives(octets.flush)


forward_values = st.recursive(
    st.none() | st.integers(-(2**40), 2**40) | st.text(max_size=20) | st.binary(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["message", "log", "chunk", "size", "compressed"]), inner)
    ),
    max_leaves=15,
)
forward_messages = st.one_of(
    st.tuples(
        st.text(max_size=10),
        st.integers(0, 2**32),
        st.dictionaries(st.text(max_size=5), forward_values, max_size=4),
    ).map(list),
    st.tuples(
        st.text(max_size=10),
        forward_values,
        st.dictionaries(st.sampled_from(["chunk", "size", "compressed"]), forward_values),
    ).map(list),
    forward_values,
).map(lambda m: msgpack.packb(m, use_bin_type=True))


@FUZZ
@given(st.lists(st.one_of(forward_messages, st.binary(max_size=200)), max_size=6))
def test_forward_decoder(chunks: list[bytes]) -> None:
    decoder = ForwardDecoder(max_message_bytes=SMALL, max_decompressed_bytes=SMALL, now=lambda: 1.0)
    for chunk in chunks:
        try:
            decoder.feed(chunk)
        except TracelakeError as e:  # ForwardProtocolError: the listener closes the stream
            assert e.status == 400 and e.message
            return
        survives(lambda chunk=chunk: heartbeat_reply(chunk))
