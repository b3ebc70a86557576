"""NDJSON / JSON-array bodies: good lines kept, bad lines reported by number."""

from __future__ import annotations

from tracelake.ingest.decoders.ndjson import decode_ndjson


def test_all_good_lines_parse_in_order_with_line_numbers() -> None:
    objects, lines, errors = decode_ndjson(b'{"a":1}\n{"a":2}\n', 1024)
    assert objects == [{"a": 1}, {"a": 2}] and lines == [1, 2] and errors == []


def test_bad_lines_are_reported_by_number_and_good_ones_kept() -> None:
    body = b'{"a":1}\nnot json\n[1,2]\n\n{"a":\xff}\n{"a":5}'
    objects, lines, errors = decode_ndjson(body, 1024)
    assert objects == [{"a": 1}, {"a": 5}]
    assert lines == [1, 6]
    assert [e.line for e in errors] == [2, 3, 5]
    assert "invalid JSON" in errors[0].error
    assert "expected a JSON object" in errors[1].error


def test_line_over_the_limit_is_rejected_with_the_limit_in_the_message() -> None:
    objects, _, errors = decode_ndjson(b'{"m":"' + b"x" * 100 + b'"}\n{"m":1}', 50)
    assert objects == [{"m": 1}]
    assert errors[0].line == 1 and "over the limit of 50" in errors[0].error


def test_json_array_body_is_accepted_and_non_objects_rejected() -> None:
    objects, lines, errors = decode_ndjson(b' [{"a":1}, 3, {"b":2}]', 1024)
    assert objects == [{"a": 1}, {"b": 2}] and lines == [1, 3]
    assert errors[0].line == 2


def test_crlf_and_blank_lines_are_tolerated() -> None:
    objects, _, errors = decode_ndjson(b'{"a":1}\r\n\r\n{"a":2}\r\n', 1024)
    assert objects == [{"a": 1}, {"a": 2}] and errors == []
