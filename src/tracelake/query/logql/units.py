"""LogQL's numbers with units: durations and byte sizes, as Loki reads them.

A range (``[5m]``) is a Prometheus duration; a duration in a label filter or ``unwrap
duration()`` is Go's (``1.5s``, ``250ms``, ``10us``). Both spellings are taken here,
to nanoseconds. Sizes follow go-humanize: ``KB`` is 1000 bytes, ``KiB`` 1024.
"""

from __future__ import annotations

import re

_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": 604_800_000_000_000,
    "y": 31_536_000_000_000_000,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w|y)")
_BYTES = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgtpe]?)(i?)(b?)", re.IGNORECASE)
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}


def duration_ns(text: str) -> int | None:
    """Nanoseconds of ``1h30m``-style text (a leading ``-`` negates), or None."""
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    pos, total = 0, 0.0
    while pos < len(body):
        m = _PART.match(body, pos)
        if m is None:
            return None
        total += float(m.group(1)) * _NS[m.group(2)]
        pos = m.end()
    return sign * round(total) if body else None


def bytes_value(text: str) -> float | None:
    """Bytes of ``10KB``/``1.5MiB``/``512`` text, or None."""
    m = _BYTES.fullmatch(text.strip())
    if m is None:
        return None
    number, power, binary, _ = m.groups()
    base = 1024 if binary else 1000
    return float(number) * base ** _POWERS[power.lower()]
