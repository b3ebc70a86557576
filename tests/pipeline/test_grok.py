"""Grok patterns: library names, captures, conversions and errors."""

from __future__ import annotations

import pytest

from tracelake.pipeline.grok import Grok, GrokError, compile_grok
from tracelake.pipeline.patterns import PATTERNS

NGINX = (
    '203.0.113.9 - alice [10/Oct/2023:13:55:36 -0700] "GET /cart?id=7 HTTP/1.1" 404 153 '
    '"https://shop.example/" "Mozilla/5.0 (X11)"'
)


def test_named_captures_with_conversions() -> None:
    grok = compile_grok("%{IP:client} %{WORD:method} %{URIPATHPARAM:path} %{NUMBER:ms:float}")
    assert grok.match("10.0.0.1 GET /a/b?c=d 12.5") == {
        "client": "10.0.0.1",
        "method": "GET",
        "path": "/a/b?c=d",
        "ms": 12.5,
    }


def test_no_match_is_none() -> None:
    assert compile_grok("^%{IP:client}").match("not an ip") is None


def test_the_combined_access_log_pattern_reads_an_nginx_line() -> None:
    fields = compile_grok("%{COMBINEDAPACHELOG}").match(NGINX)
    assert fields == {
        "client_ip": "203.0.113.9",
        "ident": "-",
        "user": "alice",
        "time_local": "10/Oct/2023:13:55:36 -0700",
        "method": "GET",
        "path": "/cart?id=7",
        "http_version": "1.1",
        "status": 404,
        "bytes": 153,
        "referrer": "https://shop.example/",
        "user_agent": "Mozilla/5.0 (X11)",
    }


def test_logstash_field_syntax_and_plain_named_groups_capture() -> None:
    grok = compile_grok(r"%{INT:[http][status]:int} (?P<rest>.*)")
    assert grok.match("503 upstream gone") == {"http.status": 503, "rest": "upstream gone"}


def test_a_failed_conversion_keeps_the_text() -> None:
    assert compile_grok("%{NOTSPACE:n:int}").match("abc") == {"n": "abc"}


def test_optional_groups_that_matched_nothing_are_left_out() -> None:
    grok = compile_grok("%{WORD:a}(?: %{WORD:b})?")
    assert grok.match("one") == {"a": "one"}


@pytest.mark.parametrize("pattern", ["%{NOPE}", "(%{WORD:x}"])
def test_bad_patterns_raise_grok_errors(pattern: str) -> None:
    with pytest.raises(GrokError):
        Grok(pattern)


def test_recursive_patterns_are_refused() -> None:
    with pytest.raises(GrokError, match="deep"):
        Grok("%{LOOP}", {"LOOP": "a%{LOOP}"})


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_every_library_pattern_compiles(name: str) -> None:
    Grok(f"%{{{name}:x}}")
