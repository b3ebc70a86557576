"""Golden tests of the syslog decoder: RFC 5424, RFC 3164 and what real senders emit."""

from __future__ import annotations

import calendar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracelake.ingest.decoders.syslog import SyslogDecoder, decode_syslog

NOW = calendar.timegm((2025, 11, 25, 12, 0, 0))  # injected clock: 2025-11-25T12:00:00Z
NS = 1_000_000_000


def decode(frame: bytes, now: float = NOW) -> dict[str, object]:
    return SyslogDecoder(lambda: now).decode(frame)


def test_rfc5424_rfc_example_with_bom() -> None:
    obj = decode(
        b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
        b"\xef\xbb\xbf'su root' failed for lonvick on /dev/pts/8"
    )
    assert obj == {
        "timestamp": "2003-10-11T22:14:15.003Z",
        "level": "FATAL",
        "message": "'su root' failed for lonvick on /dev/pts/8",
        "facility": "auth",
        "severity": "crit",
        "host": "mymachine.example.com",
        "service": "su",
        "msgid": "ID47",
    }


def test_rfc5424_structured_data_to_attributes() -> None:
    obj = decode(
        b'<165>1 2003-10-11T22:14:15.003Z host evntslog 42 ID47 [exampleSDID@32473 iut="3" '
        b'eventSource="Application" eventID="1011"][examplePriority@32473 class="high"] '
        b"An application event"
    )
    assert obj["exampleSDID@32473"] == {"iut": "3", "eventSource": "Application", "eventID": "1011"}
    assert obj["examplePriority@32473"] == {"class": "high"}
    assert obj["message"] == "An application event"
    assert obj["procid"] == "42"
    assert (obj["facility"], obj["severity"], obj["level"]) == ("local4", "notice", "INFO")


def test_rfc5424_sd_escapes_repeats_and_trace_ids() -> None:
    obj = decode(
        b'<14>1 - - - - - [x@1 v="a\\"b\\]c\\\\d" v="2"]'
        b'[otel trace_id="4bf92f3577b34da6a3ce929d0e0e4736" span_id="00f067aa0ba902b7"]'
    )
    assert obj["x@1"] == {"v": ['a"b]c\\d', "2"]}
    assert obj["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert obj["span_id"] == "00f067aa0ba902b7"
    assert obj["message"] == ""
    assert obj["timestamp"] == NOW * NS  # NILVALUE time: the injected clock
    assert "host" not in obj and "service" not in obj


def test_rfc5424_logger_util_linux_form() -> None:
    obj = decode(
        b'<13>1 2025-11-25T11:59:58.123456+00:00 box tester 777 - [timeQuality tzKnown="1" '
        b'isSynced="0"] hello 5424'
    )
    assert obj["timestamp"] == "2025-11-25T11:59:58.123456+00:00"
    assert (obj["host"], obj["service"], obj["procid"]) == ("box", "tester", "777")
    assert obj["timeQuality"] == {"tzKnown": "1", "isSynced": "0"}
    assert obj["message"] == "hello 5424"


def test_rfc5424_broken_sd_is_kept_with_failure_tag() -> None:
    obj = decode(b'<14>1 - h app - - [unterminated x="1" the rest')
    assert obj["tags"] == ["_syslogparsefailure"]
    assert obj["message"] == '1 - h app - - [unterminated x="1" the rest'


def test_rfc3164_full_header() -> None:
    obj = decode(b"<13>Nov 25 10:00:00 host app[123]: msg with: colons")
    assert obj == {
        "timestamp": calendar.timegm((2025, 11, 25, 10, 0, 0)) * NS,
        "level": "INFO",
        "message": "msg with: colons",
        "facility": "user",
        "severity": "notice",
        "host": "host",
        "service": "app",
        "procid": "123",
    }


def test_rfc3164_rfc_example_and_padded_day() -> None:
    obj = decode(b"<34>Oct  1 22:14:15 mymachine su: 'su root' failed")
    assert obj["timestamp"] == calendar.timegm((2025, 10, 1, 22, 14, 15)) * NS
    assert (obj["host"], obj["service"], obj["message"]) == ("mymachine", "su", "'su root' failed")
    assert "procid" not in obj


def test_rfc3164_year_inferred_from_clock_across_new_year() -> None:
    jan2 = calendar.timegm((2026, 1, 2, 0, 0, 0))
    assert decode(b"<13>Dec 31 23:59:59 h a: x", now=jan2)["timestamp"] == (
        calendar.timegm((2025, 12, 31, 23, 59, 59)) * NS
    )
    dec31 = calendar.timegm((2025, 12, 31, 23, 0, 0))
    assert decode(b"<13>Jan  1 00:00:01 h a: x", now=dec31)["timestamp"] == (
        calendar.timegm((2026, 1, 1, 0, 0, 1)) * NS
    )


def test_rfc3164_without_hostname() -> None:
    obj = decode(b"<13>Nov 25 10:00:00 app[1]: no host here")
    assert "host" not in obj
    assert (obj["service"], obj["procid"], obj["message"]) == ("app", "1", "no host here")


def test_rfc3164_rfc3339_timestamp_slot() -> None:
    obj = decode(b"<30>2025-11-25T10:00:00.5+01:00 web01 nginx: GET /")
    assert obj["timestamp"] == "2025-11-25T10:00:00.5+01:00"
    assert (obj["host"], obj["service"], obj["message"]) == ("web01", "nginx", "GET /")
    assert obj["facility"] == "daemon"


def test_rfc3164_with_year_network_gear() -> None:
    obj = decode(b"<189>Nov 25 2024 10:00:00 sw1 %LINK-3-UPDOWN: down")
    assert obj["timestamp"] == calendar.timegm((2024, 11, 25, 10, 0, 0)) * NS
    assert obj["host"] == "sw1"


def test_rfc3164_tag_without_colon_is_the_app_as_rsyslog_reads_it() -> None:
    """rsyslog's pmrfc3164: the TAG runs to the first colon or space."""
    obj = decode(b"<164>Dec  7 02:04:16 host app message")
    assert (obj["host"], obj["service"], obj["message"]) == ("host", "app", "message")
    assert obj["level"] == "WARN"
    obj = decode(b"<13>Nov 25 10:00:00 host app[77] started")
    assert (obj["service"], obj["procid"], obj["message"]) == ("app", "77", "started")
    obj = decode(b"<13>Nov 25 10:00:00 host app:glued text")
    assert (obj["service"], obj["message"]) == ("app", "glued text")


def test_rfc3164_hostname_only_when_it_looks_like_one() -> None:
    """A first word with characters no hostname has (``app[1]:``) is the tag, not a host."""
    obj = decode(b"<13>Nov 25 10:00:00 cron[9]: ran")
    assert "host" not in obj and (obj["service"], obj["message"]) == ("cron", "ran")
    obj = decode(b"<13>Nov 25 10:00:00 sw1.example-net")
    assert obj["host"] == "sw1.example-net" and obj["message"] == "" and "service" not in obj


def test_python_sysloghandler_bare_pri_and_nul() -> None:
    obj = decode(b"<11>ERROR: disk full\x00")
    assert obj["message"] == "ERROR: disk full"  # not mistaken for a tag
    assert obj["level"] == "ERROR"
    assert obj["timestamp"] == NOW * NS
    assert "service" not in obj and "host" not in obj


def test_python_sysloghandler_with_ident() -> None:
    obj = decode(b"<14>myapp[42]: started\n")
    assert (obj["service"], obj["procid"], obj["message"]) == ("myapp", "42", "started")


@pytest.mark.parametrize(
    ("severity", "level"),
    [
        (0, "FATAL"),
        (1, "FATAL"),
        (2, "FATAL"),
        (3, "ERROR"),
        (4, "WARN"),
        (5, "INFO"),
        (6, "INFO"),
        (7, "DEBUG"),
    ],
)
def test_severity_to_level(severity: int, level: str) -> None:
    obj = decode(f"<{16 * 8 + severity}>x".encode())
    assert obj["level"] == level
    assert obj["facility"] == "local0"


def test_no_pri_assumes_user_notice() -> None:
    obj = decode(b"plain text line")
    assert (obj["facility"], obj["severity"], obj["message"]) == (
        "user",
        "notice",
        "plain text line",
    )


@pytest.mark.parametrize("frame", [b"<999>x", b"<abc>x", b"<13", b"<>", b"<1234567>x"])
def test_bad_pri_is_kept_with_failure_tag(frame: bytes) -> None:
    obj = decode(frame)
    assert obj["tags"] == ["_syslogparsefailure"]
    assert obj["message"] == frame.decode()


@pytest.mark.parametrize(
    "frame",
    [
        b"\xff\xfe\x00\x01garbage",
        b"<13>\xc3(",
        b"<13>Nov 99 99:99:99 h a: x",
        b"<13>1 ",
        b"<13>1",
        b"<0>",
    ],
)
def test_garbage_never_raises(frame: bytes) -> None:
    obj = decode(frame)
    assert isinstance(obj["message"], str)
    assert obj["timestamp"] is not None


def test_bad_bsd_time_values_kept_as_text() -> None:
    obj = decode(b"<13>Nov 99 10:00:00 host app: x")
    assert obj["timestamp"] == "Nov 99 10:00:00"


def test_one_shot_helper() -> None:
    assert decode_syslog(b"<14>hi", now=lambda: 1.0)["timestamp"] == NS


class _GeneralOnly(SyslogDecoder):
    """The decoder with its fast path for the common RFC 5424 shape switched off."""

    def _common5424(self, *args: object) -> None:
        return None


_TOKEN = st.text(alphabet="abcXYZ09._-:", min_size=1, max_size=8)
_VALUE = st.text(alphabet='ab =]\\"\u00e9x1', max_size=8)
_PARAM_NAME = st.sampled_from(["a", "b", "traceId", "span_id", "trace_id", "x.y"])


@st.composite
def _rfc5424_lines(draw: st.DrawFn) -> bytes:
    header = [
        f"<{draw(st.integers(0, 191))}>1",
        draw(st.sampled_from(["-", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.5+02:00"])),
        *(draw(st.one_of(st.just("-"), _TOKEN)) for _ in range(4)),
    ]
    elements = []
    for _ in range(draw(st.integers(0, 2))):
        params = draw(st.lists(st.tuples(_PARAM_NAME, _VALUE), max_size=6))
        sd_id = draw(st.sampled_from(["ex@1", "meta", "host", "message"]))
        elements.append(f"[{sd_id}" + "".join(f' {k}="{v}"' for k, v in params) + "]")
    sd = "".join(elements) or "-"
    message = draw(st.sampled_from(["", " hello world", " \ufeffbom text", " [not sd]"]))
    return f"{' '.join(header)} {sd}{message}\n".encode()


@settings(max_examples=400, deadline=None)
@given(_rfc5424_lines())
def test_the_fast_rfc5424_path_builds_exactly_what_the_general_path_builds(frame: bytes) -> None:
    """Same keys in the same order (that order is the stored ``attributes``' order)."""
    now = lambda: 1_767_225_600.0  # noqa: E731
    fast = SyslogDecoder(now=now).decode(frame)
    general = _GeneralOnly(now=now).decode(frame)
    assert list(fast.items()) == list(general.items())
