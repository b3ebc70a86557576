"""Timestamps: ISO 8601 and epoch units by magnitude; absurd values rejected with a reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tracelake.pipeline.timestamps import epoch_to_micros, parse_timestamps

NOW = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp() * 1_000_000)
T = 1_767_225_600  # 2026-01-01T00:00:00Z


@pytest.mark.parametrize("value", [T, T * 1000, T * 1_000_000, T * 1_000_000_000, float(T), str(T)])
def test_epoch_seconds_ms_us_ns_are_told_apart_by_magnitude(value: object) -> None:
    array, errors = parse_timestamps([value], NOW)
    assert errors == {} and array[0].value == T * 1_000_000


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-01T00:00:00Z",
        "2026-01-01T01:00:00+01:00",
        "2026-01-01T00:00:00.000000Z",
        "2026-01-01 00:00:00",
        "2026-01-01T00:00:00",
    ],
)
def test_iso_8601_with_or_without_offset_is_utc(text: str) -> None:
    array, errors = parse_timestamps([text, None], NOW)
    assert errors == {} and array[0].value == T * 1_000_000


def test_missing_timestamp_takes_the_receive_time() -> None:
    array, errors = parse_timestamps([None], NOW)
    assert errors == {} and array[0].value == NOW


@pytest.mark.parametrize(
    "value", ["yesterday", "9999-12-31T00:00:00Z", -5, 10**30, [1], "1970-01-02T00:00:00Z"]
)
def test_unreadable_or_absurd_timestamps_are_rejected_with_a_reason(value: object) -> None:
    _, errors = parse_timestamps(["2026-01-01T00:00:00Z", value], NOW)
    assert list(errors) == [1]
    assert "timestamp" in errors[1]


def test_more_than_a_day_in_the_future_is_rejected() -> None:
    _, errors = parse_timestamps([NOW + 2 * 86_400_000_000], NOW)
    assert "ahead of the server clock" in errors[0]


def test_epoch_to_micros_handles_negative_and_fractional_seconds() -> None:
    assert epoch_to_micros(1.5) == 1_500_000


@pytest.mark.parametrize("scale", [1, 1_000, 1_000_000, 1_000_000_000])
def test_a_column_of_epoch_integers_is_read_whole_as_value_by_value(scale: int) -> None:
    """The vector path for integer columns (SDKs, syslog) agrees with the per-value one."""
    column = [(T + i) * scale + (scale // 7) * (i % 3) for i in range(50)]
    array, errors = parse_timestamps(column, NOW)
    assert errors == {}
    assert [v.value for v in array] == [epoch_to_micros(v) for v in column]


def test_mixed_units_or_an_absurd_integer_in_a_column_fall_back_to_reasons_per_value() -> None:
    column = [T * 1_000_000, T, T * 10**12, -5]
    array, errors = parse_timestamps(column, NOW)
    assert sorted(errors) == [2, 3]
    assert array[0].value == array[1].value == T * 1_000_000
