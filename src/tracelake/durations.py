"""Durations as configuration writes them: Prometheus's syntax, everywhere.

``30s``, ``5m``, ``1h30m``, ``1d``, ``500ms``: units from largest to smallest, each at
most once, whole numbers only (``1.5m`` is an error in Prometheus and here), and a bare
``0``. Rule files are copied from and to Prometheus, so they must take exactly its
syntax; continuous queries take the same one so there is one to learn.
"""

from __future__ import annotations

import re

_UNITS: tuple[tuple[str, float], ...] = (
    ("y", 365 * 86400.0),
    ("w", 7 * 86400.0),
    ("d", 86400.0),
    ("h", 3600.0),
    ("m", 60.0),
    ("s", 1.0),
    ("ms", 0.001),
)
_PATTERN = re.compile("".join(rf"(?:(\d+){unit})?" for unit, _ in _UNITS))


def parse_duration(text: str) -> float:
    """Seconds of a Prometheus duration; ValueError with the expected form otherwise."""
    if text == "0":
        return 0.0
    match = _PATTERN.fullmatch(text)
    if not text or match is None:
        raise ValueError(f"{text!r} is not a duration: write it like 30s, 5m, 1h30m or 1d")
    return sum(
        int(n) * scale
        for n, (_, scale) in zip(match.groups(), _UNITS, strict=True)
        if n is not None
    )


def format_duration(seconds: float) -> str:
    """The shortest Prometheus spelling of ``seconds`` (``90`` → ``1m30s``)."""
    if seconds <= 0:
        return "0s"
    millis = round(seconds * 1000)
    parts = []
    for unit, scale in _UNITS:
        size = round(scale * 1000)
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
