"""Values and times as Prometheus writes them in JSON.

Sample values are strings in Go's shortest ``'f'`` format (``"1.5"``, ``"2"``,
``"0.0001"``, never an exponent) with ``"NaN"``, ``"+Inf"`` and ``"-Inf"``; times are
unix seconds as numbers with at most millisecond precision. Clients (Grafana, promtool)
parse these strings, so the spelling is part of the API.
"""

from __future__ import annotations

import math
from decimal import Decimal


def format_value(value: float) -> str:
    text = repr(value)  # shortest round-trip digits, like Go's -1 precision
    if "e" in text or "n" in text:  # an exponent, nan or inf: the rare, slow path
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        text = format(Decimal(text), "f")
        if "." not in text:
            return text
    return text.rstrip("0").rstrip(".")


def format_time(ms: int) -> int | float:
    """Milliseconds as unix seconds: an integer when whole, else three decimals at most."""
    seconds, rest = divmod(ms, 1000)
    return seconds if rest == 0 else ms / 1000
