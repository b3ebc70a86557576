"""The event decoder on plain bytes: what is accepted, and the reason for each refusal."""

from __future__ import annotations

import orjson
import pytest

from tracelake.ingest.decoders.events import decode_events

LIMIT = 1024


def decode(*items: object) -> tuple[list[str], dict[int, str]]:
    body = b"\n".join(orjson.dumps(i) for i in items)
    cols, errors = decode_events(body, LIMIT)
    return cols.type, {e.index: e.reason for e in errors}


def test_a_full_event_becomes_columns_with_normalised_ids() -> None:
    event = {
        "type": "order_placed",
        "payload": {"amount": 120.5, "items": [1, 2]},
        "key": 42,
        "timestamp": "2026-01-02T03:04:05Z",
        "service": "orders",
        "trace_id": "ABCDEF0123456789",
        "span_id": "00f067aa0ba902b7",
    }
    cols, errors = decode_events(orjson.dumps(event), LIMIT)
    assert errors == []
    assert cols.type == ["order_placed"] and cols.key == ["42"] and cols.service == ["orders"]
    assert cols.trace_id == ["0000000000000000abcdef0123456789"]
    assert cols.span_id == ["00f067aa0ba902b7"]
    assert orjson.loads(cols.payload[0]) == event["payload"]
    assert cols.timestamp == ["2026-01-02T03:04:05Z"]


def test_a_json_array_and_ndjson_give_the_same_events() -> None:
    items = [{"type": "a", "payload": {}}, {"type": "b", "payload": {"x": 1}}]
    from_array, _ = decode_events(orjson.dumps(items), LIMIT)
    from_lines, _ = decode_events(b"\n".join(orjson.dumps(i) for i in items) + b"\n", LIMIT)
    assert from_array.type == from_lines.type == ["a", "b"]


def test_lines_that_are_not_json_are_refused_by_index_and_the_rest_kept() -> None:
    body = b'{"type":"a","payload":{}}\nnot json\n\n{"type":"b","payload":{}}\n'
    cols, errors = decode_events(body, LIMIT)
    assert cols.type == ["a", "b"] and cols.index == [0, 3]
    assert [(e.index, e.reason.split(":")[0]) for e in errors] == [(1, "not JSON")]


def test_a_broken_json_array_is_one_error_at_index_zero() -> None:
    cols, errors = decode_events(b'[{"type":"a","payload":{}},', LIMIT)
    assert len(cols) == 0 and errors[0].index == 0 and "JSON array" in errors[0].reason


def test_an_event_without_a_type_is_refused() -> None:
    _, errors = decode({"payload": {"a": 1}})
    assert 'missing "type"' in errors[0]


@pytest.mark.parametrize(
    "bad_type",
    ["../etc", "a/b", "..", ".hidden", "type=x", "1starts_with_digit", "", "x" * 129, "a b", 7],
)
def test_type_names_with_path_or_odd_characters_are_refused(bad_type: object) -> None:
    types, errors = decode({"type": bad_type, "payload": {}})
    assert types == [] and "not a valid event type" in errors[0]


@pytest.mark.parametrize("good_type", ["order_placed", "Order.Placed-v2", "x" * 128])
def test_type_names_in_the_safe_charset_are_accepted(good_type: str) -> None:
    assert decode({"type": good_type, "payload": {}})[0] == [good_type]


def test_a_payload_over_the_limit_is_refused_with_its_size() -> None:
    _, errors = decode({"type": "big", "payload": {"blob": "x" * LIMIT}})
    assert "over the limit of 1024" in errors[0] and "payload of" in errors[0]


@pytest.mark.parametrize(
    ("event", "words"),
    [
        ({"type": "a"}, '"payload" must be a JSON object'),
        ({"type": "a", "payload": [1]}, '"payload" must be a JSON object, got an array'),
        ({"type": "a", "payload": {}, "key": {"k": 1}}, '"key" must be'),
        ({"type": "a", "payload": {}, "trace_id": "xyz"}, '"trace_id" must be'),
        ({"type": "a", "payload": {}, "span_id": "abc"}, '"span_id" must be'),
        ({"type": "a", "payload": {}, "timestamp": True}, '"timestamp" must be'),
        ({"type": "a", "payload": {}, "amount": 3}, "unknown field 'amount'"),
        ("just a string", "expected an event object, got a string"),
    ],
)
def test_each_malformed_field_is_named_in_the_reason(event: object, words: str) -> None:
    _, errors = decode(event)
    assert words in errors[0]
