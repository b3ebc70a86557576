"""Values are spelled as Go's strconv.FormatFloat(v, 'f', -1, 64), times as seconds."""

from __future__ import annotations

import pytest

from tracelake.query.promql.format import format_time, format_value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.5, "1.5"),
        (2.0, "2"),
        (-0.0, "-0"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e21, "1000000000000000000000"),
        (1e-7, "0.0000001"),
        (123456789.125, "123456789.125"),
        (float("nan"), "NaN"),
        (float("inf"), "+Inf"),
        (float("-inf"), "-Inf"),
    ],
)
def test_format_value(value: float, text: str) -> None:
    assert format_value(value) == text


def test_format_time_is_whole_seconds_or_milliseconds() -> None:
    assert format_time(1_700_000_000_000) == 1_700_000_000
    assert isinstance(format_time(1_700_000_000_000), int)
    assert format_time(1_700_000_000_123) == 1_700_000_000.123
