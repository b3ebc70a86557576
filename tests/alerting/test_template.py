"""Prometheus's alert template actions, rendered by substitution."""

from __future__ import annotations

import math

import pytest

from tracelake.alerting.numbers import go_exponent, go_float
from tracelake.alerting.template import render

LABELS = {"service": "checkout", "instance": "10.0.0.5:8000"}


@pytest.mark.parametrize(
    ("text", "value", "out"),
    [
        ("{{ $labels.service }} is down", 1.0, "checkout is down"),
        ("{{$labels.instance}}", 1.0, "10.0.0.5:8000"),
        ("{{ .Labels.service }}", 1.0, "checkout"),
        ('{{ index $labels "instance" }}', 1.0, "10.0.0.5:8000"),
        ("{{ $value }} errors", 12.0, "12 errors"),
        ("{{ .Value }}", 0.25, "0.25"),
        ("{{ humanize $value }}", 1234567.0, "1.235M"),
        ("{{ $value | humanize }}", 0.00123, "1.23m"),
        ("{{ humanize1024 $value }}", 1048576.0, "1Mi"),
        ("{{ humanizePercentage $value }}", 0.1234, "12.34%"),
        ("{{ humanizeDuration $value }}", 93784.0, "1d 2h 3m 4s"),
        ("{{ humanizeDuration $value }}", 0.25, "250ms"),
        ('{{ printf "%.2f" $value }}', 3.14159, "3.14"),
        ('{{ printf "%s at %d%%" $labels.service $value }}', 42.0, "checkout at 42%"),
        ("{{ $labels.service | toUpper }}", 1.0, "CHECKOUT"),
        ("a {{- $labels.service -}} b", 1.0, "acheckoutb"),
        ("{{ $labels.missing }}|", 1.0, "|"),
        ("{{ humanize $value }}", math.nan, "NaN"),
        ("{{ humanize1024 $value }}", math.inf, "+Inf"),
        ("{{ humanizePercentage $value }}", -math.inf, "-Inf%"),
        ("{{ humanizeDuration $value }}", math.nan, "NaN"),
        ("{{ humanizeDuration $value }}", -0.5, "-500ms"),
        ("{{ humanizeDuration $value }}", 0.0, "0s"),
    ],
)
def test_understood_actions_render_as_prometheus_renders_them(
    text: str, value: float, out: str
) -> None:
    assert render(text, LABELS, value) == out


@pytest.mark.parametrize(
    "text",
    [
        "{{ range $labels }}x{{ end }}",
        "{{ if gt $value 1.0 }}big{{ end }}",
        '{{ query "up" | first | value }}',
        "{{ $externalLabels.cluster }}",
        "{{ }}",
    ],
)
def test_anything_else_stays_as_written(text: str) -> None:
    assert render(text, LABELS, 1.0) == text


def test_text_without_actions_is_returned_untouched() -> None:
    assert render("plain {text} $value", LABELS, 1.0) == "plain {text} $value"


@pytest.mark.parametrize(
    ("value", "v", "e"),
    [
        (1.0, "1", "1e+00"),
        (42.5, "42.5", "4.25e+01"),
        (0.1, "0.1", "1e-01"),
        (1e22, "1e+22", "1e+22"),
        (math.nan, "NaN", "NaN"),
        (-math.inf, "-Inf", "-Inf"),
    ],
)
def test_floats_print_as_go_prints_them(value: float, v: str, e: str) -> None:
    assert (go_float(value), go_exponent(value)) == (v, e)


@pytest.mark.parametrize(
    ("function", "values", "out"),
    [
        ("humanize", [0.0, 1.0, 1234567.0, 0.12], "0:1:1.235M:120m:"),
        ("humanize1024", [0.0, 1.0, 1048576.0, 0.12], "0:1:1Mi:0.12:"),
        (
            "humanizeDuration",
            [0, 1, 60, 3600, 86400, 90000, -(86400 * 2 + 3600 * 3 + 60 * 4 + 5), 899.99],
            "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:",
        ),
        (
            "humanizeDuration",
            [0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345],
            "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:",
        ),
        ("humanizePercentage", [0.0, 0.1234567, 1.0, 1.5], "0%:12.35%:100%:150%:"),
        ("humanizeTimestamp", [1435065584.128], "2015-06-23 13:19:44.128 +0000 UTC:"),
        ("humanizeTimestamp", [1435065584.0, math.nan], "2015-06-23 13:19:44 +0000 UTC:NaN:"),
    ],
)
def test_humanize_functions_answer_what_prometheus_template_tests_expect(
    function: str, values: list[float], out: str
) -> None:
    """The cases of Prometheus's own template_test.go, one value after another."""
    got = "".join(render(f"{{{{ {function} $value }}}}:", {}, float(v)) for v in values)
    assert got == out
