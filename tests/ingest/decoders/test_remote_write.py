"""The remote_write decoder: snappy+protobuf WriteRequests become samples; bad input is named."""

from __future__ import annotations

import math
import random
import struct

import orjson
import pytest
import snappy

from tracelake.errors import DecodeError, PayloadTooLarge
from tracelake.ingest.decoders.prompb import WriteRequest
from tracelake.ingest.decoders.remote_write import (
    SeriesCache,
    _series_by_series,
    decode_write_request,
    protocol_of,
    rejection_message,
)
from tracelake.ingest.decoders.sample_rows import DEFAULT_LIMITS, STALE_NAN, SeriesLimits

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms


def request(*series: tuple[dict[str, str], list[tuple[int, float]]]) -> bytes:
    """A snappy-compressed WriteRequest of ``(labels, [(ms, value)])`` series."""
    message = WriteRequest()
    for labels, samples in series:
        ts = message.timeseries.add()
        for name, value in sorted(labels.items()):
            label = ts.labels.add()
            label.name, label.value = name, value
        for ms, value in samples:
            sample = ts.samples.add()
            sample.timestamp, sample.value = ms, value
    return bytes(snappy.compress(message.SerializeToString()))


def test_series_become_rows_with_name_canonical_labels_service_and_microseconds() -> None:
    body = request(
        ({"__name__": "http_requests_total", "job": "api", "instance": "h:1", "code": "200"},
         [(T0, 1.0), (T0 + 15_000, 3.0)]),
        ({"__name__": "up", "service": "orders", "job": "prom"}, [(T0, 1.0)]),
    )  # fmt: skip
    rows, errors = decode_write_request(body)
    assert errors == []
    assert rows.name == ["http_requests_total", "http_requests_total", "up"]
    assert rows.timestamp == [T0 * 1000, (T0 + 15_000) * 1000, T0 * 1000]
    assert rows.value == [1.0, 3.0, 1.0]
    assert orjson.loads(rows.labels[0]) == {"code": "200", "instance": "h:1", "job": "api"}
    assert rows.labels[0] == b'{"code":"200","instance":"h:1","job":"api"}'
    assert rows.service == ["api", "api", "orders"]  # service label wins over job


def test_nan_infinities_and_the_stale_marker_are_stored_bit_for_bit() -> None:
    body = request(
        ({"__name__": "g"}, [(T0, math.nan), (T0 + 1, math.inf), (T0 + 2, -math.inf)]),
        ({"__name__": "gone"}, [(T0, STALE_NAN)]),
    )
    rows, errors = decode_write_request(body)
    assert errors == []
    assert math.isnan(rows.value[0]) and rows.value[1:3] == [math.inf, -math.inf]
    assert struct.pack("<d", rows.value[3]) == struct.pack("<Q", 0x7FF0000000000002)


def test_bad_series_are_rejected_with_reasons_and_the_good_ones_kept() -> None:
    many = {"__name__": "wide", **{f"l{i}": "v" for i in range(70)}}
    body = request(
        ({"job": "nameless"}, [(T0, 1.0)]),
        ({"__name__": "ok"}, [(T0, 2.0)]),
        (many, [(T0, 3.0)]),
        ({"__name__": "long", "v": "x" * 5000}, [(T0, 4.0)]),
        ({"__name__": "past"}, [(-5, 4.0)]),
    )
    rows, errors = decode_write_request(body, limits=SeriesLimits(64, 2048))
    assert rows.name == ["ok"]
    assert [e.line for e in errors] == [1, 3, 4, 5]
    assert "no metric name" in errors[0].error
    assert "71 labels, over max_series_labels (64)" in errors[1].error
    assert "over max_label_length" in errors[2].error
    assert "outside 1970..2262" in errors[3].error
    message = rejection_message(errors, shown=2)
    assert message.startswith("4 series rejected: series 1: no metric name")
    assert message.endswith("; and 2 more")


def test_repeated_label_names_and_native_histograms_are_rejected() -> None:
    message = WriteRequest()
    ts = message.timeseries.add()
    for name, value in (("__name__", "x"), ("a", "1"), ("a", "2")):
        label = ts.labels.add()
        label.name, label.value = name, value
    ts.samples.add(timestamp=T0, value=1.0)
    native = message.timeseries.add()
    native.labels.add(name="__name__", value="latency")
    native.histograms.append(b"\x08\x01")  # an opaque prompb.Histogram
    rows, errors = decode_write_request(bytes(snappy.compress(message.SerializeToString())))
    assert len(rows) == 0
    assert "repeated" in errors[0].error
    assert "native histograms are not supported" in errors[1].error


def test_empty_label_values_mean_no_label() -> None:
    rows, _ = decode_write_request(request(({"__name__": "m", "a": "", "b": "1"}, [(T0, 1)])))
    assert rows.labels == [b'{"b":"1"}']


@pytest.mark.parametrize(
    ("body", "encoding", "error"),
    [
        (b"this is not snappy at all", "snappy", "not valid snappy"),
        (b"\xff\xff\xff\xff\xff\xff\xff", "snappy", "bad length header"),
        (bytes(snappy.compress(b"\x0a\x05garbage-protobuf")), "snappy", "not a valid"),
        (bytes(snappy.compress(b"")), "gzip", "unsupported Content-Encoding"),
    ],
)
def test_garbage_bodies_are_decode_errors_that_say_what_is_wrong(
    body: bytes, encoding: str, error: str
) -> None:
    with pytest.raises(DecodeError, match=error):
        decode_write_request(body, content_encoding=encoding)


def test_a_body_declaring_more_than_the_limit_is_refused_before_inflating() -> None:
    body = request(({"__name__": "m", "pad": "x" * 1000}, [(T0, 1.0)]))
    with pytest.raises(PayloadTooLarge, match="over the limit of 100"):
        decode_write_request(body, max_body_bytes=100)


@pytest.mark.parametrize(
    ("content_type", "protocol"),
    [
        ("application/x-protobuf", "1.0"),
        (None, "1.0"),
        ("application/x-protobuf;proto=prometheus.WriteRequest", "1.0"),
        ("application/x-protobuf;proto=io.prometheus.write.v2.Request", None),
        ("application/json", None),
    ],
)
def test_content_types_of_remote_write_1_are_accepted_and_2_0_is_not(
    content_type: str | None, protocol: str | None
) -> None:
    assert protocol_of(content_type) == protocol


def test_a_series_seen_before_decodes_the_same_from_the_cache_and_limits_are_kept_apart() -> None:
    labels = {"__name__": "cached", "job": "a", **{f"l{i}": "v" for i in range(5)}}
    body = request((labels, [(T0, 1.0)]), ({"job": "x"}, [(T0, 1.0)]))
    first = decode_write_request(body)
    again = decode_write_request(body)  # every series a cache hit now
    assert first[0].columns() == again[0].columns()
    assert [e.error for e in first[1]] == [e.error for e in again[1]]
    rows, errors = decode_write_request(body, limits=SeriesLimits(max_labels=4))
    assert len(rows) == 0 and "over max_series_labels (4)" in errors[0].error


def test_one_sample_series_decode_the_same_as_series_by_series() -> None:
    """Prometheus's shape (one sample per series) takes the columnar path; it must give
    exactly the rows of the series-by-series path, zero values and times included."""
    rng = random.Random(5)
    series = []
    for i in range(300):
        labels = {
            "__name__": rng.choice(("up", "http_requests_total", "ünïcode_total")),
            "job": f"svc-{i % 7}",
            "instance": rng.choice(("", "h:1", "h:2")),  # "" means no label
            "le": rng.choice(("0.1", "+Inf")),
        }
        value = rng.choice((0.0, -0.0, 1.5, math.inf, math.nan, STALE_NAN))
        series.append((labels, [(rng.choice((0, T0, T0 + i)), value)]))
    body = request(*series)
    fast, errors = decode_write_request(body)
    assert errors == []
    slow, _ = _series_by_series(
        snappy.uncompress(body), SeriesCache().get(DEFAULT_LIMITS), DEFAULT_LIMITS
    )
    assert len(fast) == 300
    assert fast.columns()[:3] == slow.columns()[:3] and fast.service == slow.service
    assert [struct.pack("<d", v) for v in fast.value] == [struct.pack("<d", v) for v in slow.value]


def test_a_request_with_a_series_of_no_samples_and_one_of_two_is_decoded_series_by_series() -> None:
    body = request(({"__name__": "a"}, []), ({"__name__": "b"}, [(T0, 1.0), (T0 + 1, 2.0)]))
    rows, errors = decode_write_request(body)
    assert errors == [] and rows.name == ["b", "b"] and rows.value == [1.0, 2.0]
