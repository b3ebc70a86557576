"""Retention: whole hourly partitions older than a table's limit leave the lake.

Dropping whole partitions (never rewriting files) keeps retention cheap and
crash-safe: one commit removes the segments, vacuum deletes the files later.
"""

from __future__ import annotations

from tracelake.store.delta import Segment

HOUR_US = 3_600_000_000


def expired(segments: list[Segment], now_us: int, days_by_table: dict[str, int]) -> list[Segment]:
    """Segments whose every row is older than their table's retention."""
    out = []
    for segment in segments:
        days = days_by_table.get(segment.table)
        if days is not None and segment.max_ts < now_us - days * 24 * HOUR_US:
            out.append(segment)
    return out
