"""Reading request parameters: time ranges, bounded integers, bounded bodies."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from starlette.requests import Request

from tracelake.errors import BadRequest, PayloadTooLarge

_RELATIVE = re.compile(r"^(?:now)?\s*([-+])?\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(value: str | None, name: str, now: datetime) -> datetime | None:
    """``now``, ``-15m``/``now-15m``/``15m`` (ago), ISO 8601, or epoch seconds/ms."""
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    if text == "now":
        return now
    match = _RELATIVE.match(text)
    if match:
        sign, amount, unit = match.groups()
        delta = timedelta(seconds=float(amount) * _UNITS[unit])
        return now + delta if sign == "+" else now - delta
    try:
        if text.replace(".", "", 1).isdigit():
            number = float(text)
            return datetime.fromtimestamp(number / 1000 if number > 1e11 else number, UTC)
        parsed = datetime.fromisoformat(
            text.replace(" ", "+") if text.count(" ") == 1 and "T" in text else text
        )
    except (ValueError, OverflowError, OSError) as e:
        raise BadRequest(
            f"{name}={value!r} is not a time: use ISO 8601 (2026-01-02T03:04:05Z), epoch, or -15m / -2h / -7d"
        ) from e
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def bounded_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as e:
        raise BadRequest(f"{name}={raw!r} must be a whole number from {low} to {high}") from e
    if not low <= value <= high:
        raise BadRequest(f"{name}={value} must be from {low} to {high}")
    return value


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(
            f"body of {declared} bytes is over the limit of {limit}: send smaller batches"
        )
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is over the limit of {limit} bytes: send smaller batches")
        chunks.append(chunk)
    return b"".join(chunks)
