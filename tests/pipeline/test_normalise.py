"""The field mapping of docs/ingest.md: aliases, levels, ids, and attributes for the rest."""

from __future__ import annotations

import orjson
import pytest

from tracelake.errors import ConfigError
from tracelake.pipeline.normalise import declared_numberings, normalise_level, normalise_logs


def one(obj: dict) -> dict:
    cols = normalise_logs([obj], [1])
    return {
        "ts": cols.raw_timestamps[0],
        "service": cols.service[0],
        "level": cols.level[0],
        "message": cols.message[0],
        "trace_id": cols.trace_id[0],
        "span_id": cols.span_id[0],
        "host": cols.host[0],
        "logger": cols.logger[0],
        "attributes": orjson.loads(cols.attributes[0]) if cols.attributes[0] else None,
    }


def test_known_fields_go_to_columns_and_the_rest_to_attributes() -> None:
    row = one(
        {
            "@timestamp": "2026-01-01T00:00:00Z",
            "level": "warning",
            "service": "orders",
            "message": "hi",
            "trace_id": "A" * 32,
            "span_id": "b" * 16,
            "host": "h1",
            "logger": "app.db",
            "user": {"id": 7},
            "latency_ms": 12,
        }
    )
    assert row == {
        "ts": "2026-01-01T00:00:00Z",
        "service": "orders",
        "level": "WARN",
        "message": "hi",
        "trace_id": "a" * 32,
        "span_id": "b" * 16,
        "host": "h1",
        "logger": "app.db",
        "attributes": {"user": {"id": 7}, "latency_ms": 12},
    }


@pytest.mark.parametrize(
    ("obj", "field", "value"),
    [
        ({"timestamp": 5}, "ts", 5),
        ({"ts": 6}, "ts", 6),
        ({"time": 7}, "ts", 7),
        ({"severity": "ERR"}, "level", "ERROR"),
        ({"levelname": "CRITICAL"}, "level", "FATAL"),
        ({"service.name": "svc"}, "service", "svc"),
        ({"app": "svc2"}, "service", "svc2"),
        ({"logger": "only.logger"}, "service", "only.logger"),
        ({"msg": "m"}, "message", "m"),
        ({"traceId": "c" * 32}, "trace_id", "c" * 32),
        ({"X-B3-TraceId": "d" * 16}, "trace_id", "0" * 16 + "d" * 16),
        ({"spanId": "E" * 16}, "span_id", "e" * 16),
        ({"X-B3-SpanId": "f" * 16}, "span_id", "f" * 16),
        ({"hostname": "h"}, "host", "h"),
        ({"logger_name": "l"}, "logger", "l"),
    ],
)
def test_documented_aliases_fill_their_columns(obj: dict, field: str, value: object) -> None:
    assert one(obj)[field] == value


def test_ecs_style_nested_service_and_host_take_their_name_and_stay_in_attributes() -> None:
    row = one(
        {"service": {"name": "api", "version": "1"}, "host": {"name": "n1", "ip": "10.0.0.1"}}
    )
    assert row["service"] == "api" and row["host"] == "n1"
    assert row["attributes"]["service"]["version"] == "1"


def test_missing_level_is_info_and_an_unknown_one_is_kept_as_original_level() -> None:
    assert one({})["level"] == "INFO"
    row = one({"level": "chatty"})
    assert row["level"] == "INFO" and row["attributes"] == {"original_level": "chatty"}


@pytest.mark.parametrize(
    ("raw", "level"),
    [
        ("trace", "TRACE"),
        ("Debug", "DEBUG"),
        ("notice", "INFO"),
        ("WARN", "WARN"),
        ("err", "ERROR"),
        ("emerg", "FATAL"),
        (10, "DEBUG"),
        (20, "INFO"),
        (30, "WARN"),
        (40, "ERROR"),
        (50, "FATAL"),
        ("40", "ERROR"),
        (" info ", "INFO"),
    ],
)
def test_level_spellings_and_python_numbers_normalise(raw: object, level: str) -> None:
    assert normalise_level(raw) == level


def test_all_zero_or_empty_ids_mean_no_id() -> None:
    row = one({"trace_id": "0" * 32, "span_id": ""})
    assert row["trace_id"] is None and row["span_id"] is None


def test_non_string_message_is_kept_as_json_text() -> None:
    assert one({"message": {"k": 1}})["message"] == '{"k":1}'
    assert one({"message": 42})["message"] == "42"


@pytest.mark.parametrize(
    ("number", "level"),
    [(10, "TRACE"), (20, "DEBUG"), (30, "INFO"), (40, "WARN"), (50, "ERROR"), (60, "FATAL")],
)
def test_pino_and_bunyan_records_read_levels_in_node_numbering(number: int, level: str) -> None:
    pino = {"level": number, "time": 1, "pid": 7, "hostname": "h", "msg": "hi"}
    bunyan = {"name": "app", "hostname": "h", "pid": 7, "level": number, "msg": "hi", "v": 0}
    assert one(pino)["level"] == level
    assert one(bunyan)["level"] == level


def test_records_without_the_node_layout_keep_python_numbering() -> None:
    assert one({"level": 30, "message": "hi", "time": 1})["level"] == "WARN"
    assert one({"level": 30, "msg": "hi"})["level"] == "WARN"  # msg alone is not pino


def test_a_declared_numbering_wins_over_the_layout() -> None:
    pino = {"level": 30, "time": 1, "pid": 7, "hostname": "h", "msg": "hi"}
    assert normalise_logs([dict(pino)], [1], "python").level == ["WARN"]
    assert normalise_logs([{"level": 30, "message": "x"}], [1], "node").level == ["INFO"]


def test_an_unknown_declared_numbering_is_refused_with_the_choices() -> None:
    with pytest.raises(
        ConfigError, match=r"level_numbering.http is .java.: use one of python, node"
    ):
        declared_numberings({"http": "java"})


def test_a_level_sent_as_an_object_or_a_list_is_kept_and_read_as_info() -> None:
    """Any JSON value can sit under ``level``: one that names no level is kept whole."""
    objects: list[dict[str, object]] = [
        {"message": "a", "level": {"x": 1}},
        {"message": "b", "level": [1]},
    ]
    cols = normalise_logs(objects, [1, 2])
    assert cols.level == ["INFO", "INFO"]
    assert [orjson.loads(a)["original_level"] for a in cols.attributes] == [{"x": 1}, [1]]
