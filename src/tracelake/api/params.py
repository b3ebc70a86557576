"""Reading request parameters: times, durations, bounded integers, bounded bodies.

The one place a route reads a time, a duration or a step from a request, whatever its
dialect (ours: ``-15m``/ISO 8601/epoch; Prometheus's: unix seconds/RFC 3339 and ``15s``
steps; Zipkin's: epoch milliseconds), so every one is range-checked alike: a time must
lie in ``bounds.TIME_RANGE``, a duration must be shorter than that range, and anything
else is a 400 naming the parameter and the accepted range — never an overflow deeper in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request

from tracelake.durations import parse_duration
from tracelake.errors import BadRequest, PayloadTooLarge
from tracelake.query.bounds import EARLIEST, EARLIEST_S, LATEST, LATEST_S, TIME_RANGE

_RELATIVE = re.compile(r"^(?:now)?\s*([-+])?\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
#: The longest duration or step any route takes: the span of the accepted times.
LONGEST_S = LATEST_S - EARLIEST_S
LATEST_MS = int(LATEST_S) * 1000 + 999
_PROM_DURATION = re.compile(r"^(\d+(ms|[smhdwy]))+$")


def _out_of_range(name: str, value: str) -> BadRequest:
    return BadRequest(
        f"{name}={value!r} is outside the accepted times: give a time from {TIME_RANGE}"
    )


def parse_time(value: str | None, name: str, now: datetime) -> datetime | None:
    """``now``, ``-15m``/``now-15m``/``15m`` (ago), ISO 8601, or epoch seconds/ms, inside
    ``TIME_RANGE``; None when not given."""
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    if text == "now":
        return now
    match = _RELATIVE.match(text)
    if match:
        sign, amount, unit = match.groups()
        seconds = float(amount) * _UNITS[unit]
        if seconds > LONGEST_S:
            raise _out_of_range(name, value)
        delta = timedelta(seconds=seconds)
        try:
            moment = now + delta if sign == "+" else now - delta
        except OverflowError:
            raise _out_of_range(name, value) from None
        return _in_range(moment, name, value)
    try:
        if text.replace(".", "", 1).isdigit():
            number = float(text)
            seconds = number / 1000 if number > 1e11 else number
            if not EARLIEST_S <= seconds <= LATEST_S:  # inf too
                raise _out_of_range(name, value)
            return datetime.fromtimestamp(seconds, UTC)
        parsed = datetime.fromisoformat(
            text.replace(" ", "+") if text.count(" ") == 1 and "T" in text else text
        )
    except ValueError as e:
        raise BadRequest(
            f"{name}={value!r} is not a time: use ISO 8601 (2026-01-02T03:04:05Z), epoch, or -15m / -2h / -7d"
        ) from e
    return _in_range(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC), name, value)


def _in_range(moment: datetime, name: str, value: str) -> datetime:
    """``moment`` in UTC if inside ``TIME_RANGE``; BadRequest otherwise."""
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # an offset moved it past year 1 or 9999
        raise _out_of_range(name, value) from None
    if not EARLIEST <= utc <= LATEST:
        raise _out_of_range(name, value)
    return utc


#: What an ``as_of`` may be, as its 400 says.
AS_OF_FORMS = (
    "an RFC 3339 time with a zone (2026-12-01T10:00:00Z) or a table version (an integer >= 0)"
)


def as_of_value(value: object, name: str = "as_of") -> int | datetime | None:
    """A time-travel point from a JSON body: a table version (integer) or an RFC 3339 time
    in UTC; None when absent. A time needs a zone for the same reason ``unix_time``'s does;
    a version must be a JSON integer, since a numeric string is ambiguous with epoch times."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise BadRequest(f"{name}={value} is not a version: give {AS_OF_FORMS}")
        return value
    moment = None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            moment = None
    if moment is None or moment.tzinfo is None:
        shown = orjson.dumps(value).decode()[:80]
        raise BadRequest(f"{name}={shown} is not a time or a version: give {AS_OF_FORMS}")
    return _in_range(moment, name, str(value))


# -- Prometheus's dialect ----------------------------------------------------------------


def _seconds(text: str) -> float | None:
    """``text`` as a finite number of seconds, or None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _quoted(text: str) -> str:
    """``text`` in double quotes with escapes, as Go's %q (and so Prometheus) writes it."""
    return orjson.dumps(text).decode()


def unix_time(text: str | None, name: str, default: float) -> float:
    """Unix seconds (float) or RFC 3339, as Prometheus's API takes times, inside
    ``TIME_RANGE``; ``default`` when not given.

    RFC 3339 needs a zone; a time without one would be read in the server's local zone,
    which no client means, so it is refused.
    """
    if text is None or text == "":
        return default
    seconds = _seconds(text)
    if seconds is None:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise BadRequest(
                f'invalid parameter "{name}": cannot parse {_quoted(text)} to a valid timestamp: '
                "give unix seconds or RFC 3339 with a zone (2026-01-01T00:00:00Z)"
            )
        seconds = moment.timestamp()
    if not EARLIEST_S <= seconds <= LATEST_S:
        raise BadRequest(
            f'invalid parameter "{name}": {_quoted(text)} is outside the accepted times: give unix '
            f"seconds from {EARLIEST_S:.0f} to {LATEST_S:.0f} ({TIME_RANGE})"
        )
    return seconds


def step_seconds(text: str | None, name: str) -> float:
    """Seconds (float) or a Prometheus duration such as ``15s`` or ``1m30s``, at most
    ``LONGEST_S``. Zero and negative steps are left to the engine, which words them as
    Prometheus does."""
    seconds = None if text is None else _seconds(text)
    if seconds is None and text and _PROM_DURATION.match(text):
        try:
            seconds = parse_duration(text)
        except ValueError:  # units out of order or repeated (30s1m)
            seconds = None
    if seconds is None:
        raise BadRequest(
            f'invalid parameter "{name}": cannot parse {_quoted(text or "")} to a valid duration: '
            "give seconds (15) or a duration (15s, 1m30s)"
        )
    if seconds > LONGEST_S:
        raise BadRequest(
            f'invalid parameter "{name}": {_quoted(text or "")} is longer than the accepted times '
            f"({TIME_RANGE}): give at most {LONGEST_S:.0f} seconds"
        )
    return seconds


# -- Zipkin's dialect --------------------------------------------------------------------


def check_millis(params: Mapping[str, str], name: str, *, duration: bool = False) -> None:
    """Zipkin's ``endTs`` (epoch ms) or ``lookback`` (``duration``, ms) inside the
    accepted times, when given as a whole number; the rest Zipkin's own checks word."""
    raw = (params.get(name) or "").strip()
    try:
        value = int(raw)
    except ValueError:
        return
    highest = round(LONGEST_S * 1000) if duration else LATEST_MS
    if value > highest:
        what = "milliseconds" if duration else "epoch milliseconds"
        raise BadRequest(
            f"{name}={raw} is outside the accepted times ({TIME_RANGE}): "
            f"give at most {highest} {what}"
        )


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


#: Largest form body of a query API request (PromQL and LogQL send the query there).
MAX_FORM_BYTES = 1024 * 1024

#: Request parameters by name, every value given, in order.
Params = dict[str, list[str]]


async def form_params(request: Request) -> Params:
    """Query-string and form-body parameters together (form first), as Go's ParseForm
    reads them: what Prometheus's and Loki's query APIs take, so Grafana may send either."""
    params: Params = {}
    if request.method == "POST":
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in ("", "application/x-www-form-urlencoded"):
            raise BadRequest(f"POST bodies must be application/x-www-form-urlencoded, not {kind!r}")
        body = await read_body(request, MAX_FORM_BYTES)
        for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
            params.setdefault(key, []).append(value)
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    return params
