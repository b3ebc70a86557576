"""Records become NDJSON lines with ``file`` and ``host``, as ``tracelake send`` shapes them."""

from __future__ import annotations

import orjson

from tracelake.ship.records import to_ndjson


def test_a_json_line_is_kept_with_file_and_host_added() -> None:
    line = to_ndjson(b'{"message":"hi","seq":1}', file="/var/log/a.log", host="web-1")
    assert line is not None
    expected = {"message": "hi", "seq": 1, "file": "/var/log/a.log", "host": "web-1"}
    assert orjson.loads(line) == expected


def test_a_record_that_names_its_own_host_keeps_it() -> None:
    line = to_ndjson(b'{"host":"app-7"}', file="a.log", host="web-1")
    assert line is not None and orjson.loads(line)["host"] == "app-7"
    other = to_ndjson(b'{"hostname":"app-8"}', file="a.log", host="web-1")
    assert other is not None and "host" not in orjson.loads(other)


def test_a_plain_line_becomes_a_message_as_send_makes_it() -> None:
    line = to_ndjson(b"plain words", file="a.log", host="h")
    assert line is not None
    obj = orjson.loads(line)
    assert obj["message"] == "plain words" and obj["file"] == "a.log" and obj["host"] == "h"
    assert obj["source"] == "a.log"


def test_a_line_that_only_looks_like_json_is_kept_as_text() -> None:
    line = to_ndjson(b"{not json", file="a.log", host="h")
    assert line is not None and orjson.loads(line)["message"] == "{not json"


def test_a_multiline_record_is_one_json_line() -> None:
    line = to_ndjson(b"Traceback:\n  File x\nValueError", file=None, host="h")
    assert line is not None and b"\n" not in line
    obj = orjson.loads(line)
    assert obj["message"] == "Traceback:\n  File x\nValueError"
    assert "file" not in obj  # stdin


def test_a_blank_record_is_not_shipped() -> None:
    assert to_ndjson(b"   ", file="a.log", host="h") is None
