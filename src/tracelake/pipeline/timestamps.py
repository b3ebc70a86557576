"""Timestamps as clients send them → microseconds since the epoch, UTC.

Accepted: ISO 8601 strings (``Z``, offsets, or none meaning UTC) and epoch numbers in
seconds, milliseconds, microseconds or nanoseconds, told apart by magnitude. A record
whose time is before ``EARLIEST`` or more than ``MAX_FUTURE_US`` ahead of the receive
time is rejected: such values are nearly always unit mistakes, and accepting them would
create partitions decades away that retention never reaches.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tracelake.schema import TIMESTAMP

EARLIEST_US = 631152000 * 1_000_000  # 1990-01-01
MAX_FUTURE_US = 24 * 3600 * 1_000_000


def epoch_to_micros(value: float) -> int:
    """Epoch seconds/ms/µs/ns → µs, by magnitude (seconds up to the year 5138)."""
    magnitude = abs(value)
    if magnitude < 1e11:
        return int(value * 1_000_000)
    if magnitude < 1e14:
        return int(value * 1_000)
    if magnitude < 1e17:
        return int(value)
    return int(value // 1_000)


def iso_to_micros(text: str) -> int:
    """One ISO 8601 string → µs; a time with no offset is taken as UTC."""
    parsed = datetime.fromisoformat(text.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    delta = parsed - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_timestamps(raw: list[Any], now_us: int) -> tuple[pa.Array, dict[int, str]]:
    """Parse a column of raw timestamps.

    Returns the timestamp array (rejected positions hold ``now_us`` and must be
    filtered out by the caller) and the rejected positions with their reasons.
    """
    ints = _epoch_ints(raw, now_us)
    if ints is not None:
        return ints, {}
    if raw and all(type(v) is str for v in raw):
        try:
            array = pa.array(raw, pa.string()).cast(TIMESTAMP)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        else:
            return _check_range(array, now_us)
    low, high = EARLIEST_US, now_us + MAX_FUTURE_US
    micros: list[int] = []
    errors: dict[int, str] = {}
    for i, value in enumerate(raw):
        try:
            if value is None:
                us = now_us
            elif type(value) is str:
                us = epoch_to_micros(float(value)) if _is_number(value) else iso_to_micros(value)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                us = epoch_to_micros(value)
            else:
                raise ValueError(f"expected a string or a number, got {type(value).__name__}")
        except (ValueError, OverflowError) as e:
            errors[i] = f"unreadable timestamp {str(value)[:64]!r}: {e}"
            us = now_us
        if not low <= us <= high:
            errors[i] = _out_of_range(us)
            us = now_us
        micros.append(us)
    return pa.array(micros, pa.int64()).cast(TIMESTAMP), errors


#: The smallest epoch integer ``epoch_to_micros`` reads as ns, µs, ms and seconds, and
#: what turns it into µs: multiply, then divide.
_UNITS = ((10**17, 1, 1_000), (10**14, 1, 1), (10**11, 1_000, 1), (0, 1_000_000, 1))


def _epoch_ints(raw: list[Any], now_us: int) -> pa.Array | None:
    """The timestamps as one vector operation when all are epoch integers of one unit
    and in range (what the SDKs send; syslog's parsed times), else None for the
    value-by-value path.

    The unit is the smallest value's. A larger value in a larger unit scales to at
    least 1e17 µs, far past the range, so the range check also proves "one unit".
    """
    if not raw or set(map(type, raw)) != _INT:
        return None
    low, high = min(raw), max(raw)
    for smallest, times, per in _UNITS:
        if low >= smallest:
            if low * times // per < EARLIEST_US or high * times // per > now_us + MAX_FUTURE_US:
                return None
            array = pa.array(raw, pa.int64())
            if times != 1:
                array = pc.multiply(array, times)
            if per != 1:
                array = pc.divide(array, per)  # integer division: floor for positive values
            return array.cast(TIMESTAMP)
    return None


_INT = frozenset({int})


def _is_number(text: str) -> bool:
    return text.strip().lstrip("-").replace(".", "", 1).isdigit()


def _check_range(array: pa.Array, now_us: int) -> tuple[pa.Array, dict[int, str]]:
    as_int = array.cast(pa.int64())
    low, high = EARLIEST_US, now_us + MAX_FUTURE_US
    minmax = pc.min_max(as_int)
    if minmax["min"].as_py() >= low and minmax["max"].as_py() <= high:
        return array, {}
    errors: dict[int, str] = {}
    values = as_int.to_pylist()
    for i, v in enumerate(values):
        if v < low or v > high:
            errors[i] = _out_of_range(v)
            values[i] = now_us
    return pa.array(values, pa.int64()).cast(TIMESTAMP), errors


def _out_of_range(us: int) -> str:
    try:
        when = datetime.fromtimestamp(us / 1e6, UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        when = f"{us} µs since the epoch"
    return (
        f"timestamp {when} is out of range (before 1990 or more than a day ahead of the "
        "server clock): check its unit"
    )
