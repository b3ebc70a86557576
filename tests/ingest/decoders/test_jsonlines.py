"""Golden tests of the JSON lines decoder: logback, python-logstash v0/v1, bad lines."""

from __future__ import annotations

import logging

import orjson
import pytest

from tracelake.ingest.decoders.jsonlines import (
    decode_json_datagram,
    decode_json_lines,
    epoch_to_ns,
)

LOGBACK = (
    b'{"@timestamp":"2019-11-03T10:15:30.123+01:00","@version":"1","message":"Order placed",'
    b'"logger_name":"com.shop.OrderService","thread_name":"http-nio-8080-exec-1","level":"INFO",'
    b'"level_value":20000,"traceId":"5af7183fb1d4cf5f","spanId":"6b221d5bc9e6496c",'
    b'"X-B3-TraceId":"5af7183fb1d4cf5f","appname":"shop"}'
)


def test_logstash_logback_encoder_sleuth() -> None:
    (obj,) = decode_json_lines([LOGBACK])
    assert obj == {
        "timestamp": "2019-11-03T10:15:30.123+01:00",
        "@version": "1",
        "message": "Order placed",
        "logger": "com.shop.OrderService",
        "thread_name": "http-nio-8080-exec-1",
        "level": "INFO",
        "level_value": 20000,
        "trace_id": "5af7183fb1d4cf5f",
        "span_id": "6b221d5bc9e6496c",
        "X-B3-TraceId": "5af7183fb1d4cf5f",
        "appname": "shop",
    }


def test_logback_otel_mdc_stack_trace_and_epoch_ms() -> None:
    line = orjson.dumps(
        {
            "@timestamp": 1572772530123,
            "message": "boom",
            "level": "ERROR",
            "stack_trace": "java.lang.X: boom\n\tat a.b(C.java:1)",
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "span_id": "00f067aa0ba902b7",
            "trace_flags": "01",
        }
    )
    (obj,) = decode_json_lines([line])
    assert obj["timestamp"] == 1572772530123 * 1_000_000
    assert obj["stack_trace"].startswith("java.lang.X")
    assert obj["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert obj["trace_flags"] == "01"


def _record(exc: bool = False) -> logging.LogRecord:
    rec = logging.LogRecord(
        "app.orders", logging.WARNING, "/srv/app.py", 12, "low stock %s", ("x",), None
    )
    rec.created = 1704110400.123
    rec.sku = "A-1"  # an "extra"
    if exc:
        try:
            raise ValueError("bad")
        except ValueError:
            import sys

            rec.exc_info = sys.exc_info()
    return rec


def test_python_logstash_version0_real_formatter() -> None:
    from logstash.formatter import LogstashFormatterVersion0

    line = LogstashFormatterVersion0(message_type="logstash", tags=["t1"]).format(_record())
    (obj,) = decode_json_lines([line])
    assert obj["timestamp"] == "2024-01-01T12:00:00.123Z"
    assert obj["message"] == "low stock x"
    assert obj["level"] == "WARNING"
    assert obj["logger"] == "app.orders"
    assert obj["path"] == "/srv/app.py"
    assert obj["tags"] == ["t1"]
    assert obj["type"] == "logstash"
    assert obj["sku"] == "A-1"
    assert isinstance(obj["host"], str)
    assert not any(k.startswith("@") for k in obj)


def test_python_logstash_version1_real_formatter_with_exception() -> None:
    from logstash.formatter import LogstashFormatterVersion1

    line = LogstashFormatterVersion1(message_type="svc", tags=["a"]).format(_record(exc=True))
    (obj,) = decode_json_lines([line])
    assert obj["@version"] == "1"
    assert obj["message"] == "low stock x"
    assert obj["level"] == "WARNING"
    assert obj["logger"] == "app.orders"
    assert obj["type"] == "svc"
    assert obj["tags"] == ["a"]
    assert "ValueError: bad" in obj["stack_trace"]
    assert obj["timestamp"] == "2024-01-01T12:00:00.123Z"


def test_ecs_host_object() -> None:
    (obj,) = decode_json_lines([b'{"message":"m","host":{"name":"web-1","ip":["10.0.0.1"]}}'])
    assert obj["host"] == "web-1"
    assert obj["host_fields"] == {"name": "web-1", "ip": ["10.0.0.1"]}
    (obj,) = decode_json_lines([b'{"message":"m","host":{"ip":"x"}}'])
    assert "host" not in obj and obj["host_fields"] == {"ip": "x"}


def test_existing_targets_are_not_overwritten() -> None:
    (obj,) = decode_json_lines([b'{"@timestamp":"a","timestamp":"b","level":"W","levelname":"X"}'])
    assert obj == {"@timestamp": "a", "timestamp": "b", "level": "W", "levelname": "X"}


def test_blank_keepalive_lines_are_skipped() -> None:
    assert decode_json_lines([b"", b"   ", b"\r", b'{"message":"x"}\r']) == [{"message": "x"}]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"not json at all", "not json at all"),
        (b'{"half": ', '{"half": '),
        (b"\xff\xfe\x00garbage", "\ufffd\ufffd\x00garbage"),
        (b"42", "42"),
        (b'"a string"', '"a string"'),
        (b"null", "null"),
        (b"plain text\r", "plain text"),
    ],
)
def test_non_object_lines_become_parse_failures(line: bytes, message: str) -> None:
    assert decode_json_lines([line]) == [{"message": message, "tags": ["_jsonparsefailure"]}]


def test_array_line_yields_one_object_per_element() -> None:
    out = decode_json_lines([b'[{"message":"a"},{"message":"b"},7]'])
    assert out == [
        {"message": "a"},
        {"message": "b"},
        {"message": "7", "tags": ["_jsonparsefailure"]},
    ]


def test_datagram_single_and_multi() -> None:
    assert decode_json_datagram(b'{"message":"x"}') == [{"message": "x"}]
    assert decode_json_datagram(b'{"message":"x"}\n') == [{"message": "x"}]
    assert decode_json_datagram(b'{"a":1}\n{"b":2}\n') == [{"a": 1}, {"b": 2}]


@pytest.mark.parametrize(
    ("value", "ns"),
    [
        (1700000000, 1700000000 * 10**9),
        (1700000000.5, 1700000000500000000),
        (1700000000123, 1700000000123000000),
        (1700000000123456, 1700000000123456000),
        (1700000000123456789, 1700000000123456789),
    ],
)
def test_epoch_units(value: float, ns: int) -> None:
    assert epoch_to_ns(value) == ns
