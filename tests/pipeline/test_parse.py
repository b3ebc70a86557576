"""Parsers: JSON in the message, built-in formats, timestamps, failure tags."""

from __future__ import annotations

from datetime import UTC, datetime

from tracelake.pipeline.parse import (
    FORMATS,
    GROK_FAILURE_TAG,
    TIMESTAMP_FAILURE_TAG,
    ParseStep,
    TimestampParser,
    TimestampStep,
    merge_json_message,
    parse_key_values,
    parse_traceback,
)
from tracelake.pipeline.rules import compile_filter

TRACEBACK = """payment failed
Traceback (most recent call last):
  File "app.py", line 3, in <module>
    charge()
  File "app.py", line 2, in charge
    raise requests.exceptions.ConnectionError("gateway down: retry later")
requests.exceptions.ConnectionError: gateway down: retry later"""


def step(fmt: str, **kw: object) -> ParseStep:
    f = FORMATS[fmt]
    ts = (f.time_field, TimestampParser(f.time_formats)) if f.time_field else None
    return ParseStep([f.parse], guard=f.guard, timestamp=ts, **kw)  # type: ignore[arg-type]


def test_a_json_message_is_merged_and_its_keys_win() -> None:
    obj = {"message": ' {"level": "warn", "msg": "slow", "ms": 912}', "level": "info", "tag": "t"}
    merge_json_message(obj)
    assert obj == {"level": "warn", "tag": "t", "msg": "slow", "ms": 912}


def test_a_message_that_is_not_a_json_object_is_left_alone() -> None:
    for text in ("{not json", "[1, 2]", "plain", '"{}"'):
        obj = {"message": text}
        merge_json_message(obj)
        assert obj == {"message": text}


def test_nginx_format_parses_fields_and_the_time() -> None:
    obj = {
        "message": '198.51.100.4 - - [10/Oct/2023:13:55:36 -0700] "POST /pay HTTP/2.0" '
        '500 0 "-" "curl/8"'
    }
    step("nginx")(obj)
    assert obj["status"] == 500 and obj["method"] == "POST" and obj["path"] == "/pay"
    assert obj["@timestamp"] == "2023-10-10T20:55:36.000000Z"
    assert "time_local" not in obj and "referrer" not in obj
    assert obj["message"].startswith("198.51.100.4")


def test_syslog_format_makes_the_body_the_message_and_guesses_the_year() -> None:
    obj = {"msg": "<38>Jan  5 07:01:02 gw-1 sshd[4711]: Accepted publickey for deploy"}
    step("syslog")(obj)
    year = datetime.now(UTC).year
    assert obj["message"] == "Accepted publickey for deploy" and "msg" not in obj
    assert obj["host"] == "gw-1" and obj["program"] == "sshd" and obj["pid"] == 4711
    assert obj["@timestamp"][:4] in (str(year), str(year - 1))
    assert obj["@timestamp"][4:] == "-01-05T07:01:02.000000Z"


def test_a_python_traceback_becomes_error_fields_and_the_head_stays_the_message() -> None:
    fields = parse_traceback(TRACEBACK)
    assert fields is not None
    assert fields["message"] == "payment failed"
    assert fields["error.type"] == "requests.exceptions.ConnectionError"
    assert fields["error.message"] == "gateway down: retry later"
    assert fields["stack_trace"].startswith("Traceback (most recent call last):")


def test_a_bare_traceback_takes_the_exception_line_as_its_message() -> None:
    fields = parse_traceback('Traceback (most recent call last):\n  File "x"\nKeyError')
    assert fields is not None
    assert fields["message"] == "KeyError" and fields["error.type"] == "KeyError"
    assert fields["error.message"] == ""


def test_the_traceback_format_does_not_apply_to_other_messages_and_does_not_tag() -> None:
    obj = {"message": "all good"}
    step("python_traceback")(obj)
    assert obj == {"message": "all good"}


def test_logfmt_pairs_become_fields_and_msg_becomes_the_message() -> None:
    assert parse_key_values('at=info msg="request done" path=/a dur=12ms empty=') == {
        "at": "info",
        "msg": "request done",
        "path": "/a",
        "dur": "12ms",
        "empty": "",
    }
    obj = {"message": 'level=warn msg="disk \\"almost\\" full" pct=91'}
    step("logfmt")(obj)
    assert obj == {"level": "warn", "message": 'disk "almost" full', "pct": "91"}
    assert parse_key_values("no pairs here") is None


def test_a_rule_that_matches_nothing_tags_the_record() -> None:
    obj = {"message": "not an access log", "tags": ["x"]}
    step("nginx")(obj)
    assert obj["tags"] == ["x", GROK_FAILURE_TAG]


def test_a_rule_with_a_query_only_touches_matching_records() -> None:
    rule = step("nginx", when=compile_filter("service:nginx"))
    obj = {"service": "api", "message": "hello"}
    rule(obj)
    assert obj == {"service": "api", "message": "hello"}


def test_a_rule_may_parse_another_field() -> None:
    rule = step("logfmt", field="payload")
    obj = {"message": "m", "payload": "a=1 b=2"}
    rule(obj)
    assert obj == {"message": "m", "payload": "a=1 b=2", "a": "1", "b": "2"}


def test_timestamps_read_with_formats_and_a_zone_become_iso_utc() -> None:
    rule = TimestampStep("logged", TimestampParser(("%d.%m.%Y %H:%M:%S",), "Europe/Berlin"))
    obj = {"logged": "01.07.2024 14:00:00", "message": "m"}
    rule(obj)
    assert obj == {"message": "m", "@timestamp": "2024-07-01T12:00:00.000000Z"}


def test_an_unreadable_timestamp_is_tagged_and_kept() -> None:
    rule = TimestampStep("logged", TimestampParser(("%Y-%m-%d",)))
    obj = {"logged": "yesterday"}
    rule(obj)
    assert obj == {"logged": "yesterday", "tags": [TIMESTAMP_FAILURE_TAG]}
