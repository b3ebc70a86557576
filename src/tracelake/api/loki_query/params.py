"""Loki's request parameters: times, durations, limits, direction and the query.

Loki reads parameters as Go's ParseForm does (``api/params.form_params``) and
accepts several spellings of a time or a duration; every handler and the tail read them
here, so each parameter is accepted, defaulted and refused the same way, with Loki's
messages, wherever it appears.
"""

from __future__ import annotations

import math
import time
from datetime import datetime

from tracelake.api.context import AppContext
from tracelake.api.params import Params
from tracelake.errors import BadRequest
from tracelake.query.bounds import LATEST_S, TIME_RANGE
from tracelake.query.logql.units import duration_ns

#: Loki's defaults: a query reads the last hour and returns 100 lines.
DEFAULT_SINCE_NS = 3600 * 10**9
DEFAULT_LIMIT = 100
#: The latest time (and longest duration) a parameter may give, in nanoseconds.
LATEST_NS = int(LATEST_S) * 10**9


def one(params: Params, name: str) -> str:
    """The first value of ``name``, stripped; empty when it is not given."""
    values = params.get(name)
    return values[0].strip() if values else ""


def loki_time(text: str, name: str, default_ns: int) -> int:
    """Epoch ns (or s when ten digits or fewer), float seconds or RFC 3339, as Loki."""
    if not text:
        return default_ns
    ns: int | None = None
    try:
        if "." in text and not text.count("-"):
            ns = round(float(text) * 1e9)
        elif text.isdigit():
            ns = int(text) * 10**9 if len(text) <= 10 else int(text)
    except ValueError:
        ns = None
    if ns is None:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(
                f'invalid parameter "{name}": cannot parse "{text}" to a valid timestamp: '
                "give epoch nanoseconds, seconds or RFC 3339 (2026-01-02T03:04:05Z)"
            ) from None
        if moment.tzinfo is None:
            raise BadRequest(f'invalid parameter "{name}": RFC 3339 times need a zone ({text})')
        ns = round(moment.timestamp() * 1e6) * 1000
    if not 0 <= ns <= LATEST_NS or math.isnan(ns):
        raise BadRequest(f'invalid parameter "{name}": {text} is outside {TIME_RANGE}')
    return ns


def bounds(params: Params) -> tuple[int, int]:
    """``start``/``end`` (or ``since`` before ``end``), defaulting to the last hour."""
    now = time.time_ns()
    end = loki_time(one(params, "end"), "end", now)
    since = one(params, "since")
    default_start = end - DEFAULT_SINCE_NS
    if since:
        default_start = end - loki_duration(since, "since")
    start = loki_time(one(params, "start"), "start", max(default_start, 0))
    if end < start:
        raise BadRequest("end timestamp must not be before start time")
    return start, end


def entry_limit(params: Params, ctx: AppContext, default: int = DEFAULT_LIMIT) -> int:
    """``limit``: at most the server's row cap, which Loki calls ``max_entries_limit``."""
    text = one(params, "limit")
    if not text:
        return min(default, ctx.settings.query_max_rows)
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f'invalid parameter "limit": {text!r} is not a whole number') from None
    if value <= 0:
        raise BadRequest("limit must be a positive value")
    cap = ctx.settings.query_max_rows
    if value > cap:
        raise BadRequest(
            f"max entries limit per query exceeded, limit > max_entries_limit ({value} > {cap})"
        )
    return value


def forward(params: Params) -> bool:
    """``direction``: True for ``forward`` (oldest first), backward by default."""
    text = one(params, "direction").lower() or "backward"
    if text not in ("forward", "backward"):
        raise BadRequest(f"invalid direction '{text}': forward or backward")
    return text == "forward"


def query_text(params: Params) -> str:
    """``query``, which must be given."""
    text = one(params, "query")
    if not text:
        raise BadRequest('invalid parameter "query": no query given')
    return text


def loki_duration(text: str, name: str) -> int:
    """Nanoseconds of float seconds or a duration (Prometheus's ``1m30s`` or Go's
    ``1.5s``/``1m0s``, which Grafana sends), as Loki reads ``step``/``since``/``interval``."""
    try:
        seconds = float(text)
    except ValueError:
        ns = duration_ns(text)
    else:
        ns = round(seconds * 1e9) if math.isfinite(seconds) else None
    if ns is None or abs(ns) > LATEST_NS:
        raise BadRequest(
            f'invalid parameter "{name}": cannot parse "{text}" to a valid duration: '
            "give seconds (15) or a duration (15s, 1m30s)"
        )
    return ns


def duration_param(params: Params, name: str) -> int:
    """The duration ``name`` in nanoseconds; 0 when it is not given."""
    text = one(params, name)
    return 0 if not text else loki_duration(text, name)


def default_step(start: int, end: int) -> int:
    """Loki's default step: the range in 250 points, whole seconds, at least one."""
    return max(math.floor((end - start) / 1e9 / 250), 1) * 10**9
