"""Compaction: merge the small segments of a partition into one sorted by time
(``metrics``: by name, labels, time; see ``segments.SORT_KEYS``).

Flushes write a segment every few seconds; queries are faster over few large files.
The merged file is written first, then one Delta commit removes the old files and adds
the new (``store/delta.py``); vacuum deletes the old files after ``lake_vacuum_hours``
(running queries and time travel still read them). A crash at any point leaves either
the old files or the new one committed; the other is in no commit, so no reader sees
it, and vacuum deletes it. Each merged file names the segments it replaces in its
metadata, for ``store/repair.py``.
"""

from __future__ import annotations

from collections import defaultdict

from tracelake.store.delta import Segment

#: An hour is "closed" this long after it ends; its flushed segments are then compacted
#: even if there are few of them, so every row ends up in a compacted file.
CLOSE_AFTER_US = 5 * 60 * 1_000_000
HOUR_US = 3_600_000_000
#: Rows merged at once: a merge holds them (and a sorted copy) in memory.
MAX_MERGE_ROWS = 300_000


def plan_compactions(
    segments: list[Segment], min_segments: int, now_us: int
) -> list[list[Segment]]:
    """Groups of flushed (never compacted) segments of one partition, oldest first.

    Flushes write fast (zstd level 1, no Bloom filter) to keep up with ingest;
    compaction rewrites once in the background with stronger compression and the
    ``trace_id`` Bloom filter. A partition qualifies when it has ``min_segments``
    flushed segments or its hour is closed. A compacted segment is not merged again:
    each row is written at most twice, however long the partition keeps growing.
    """
    groups: dict[tuple[str, str], list[Segment]] = defaultdict(list)
    for segment in segments:
        if not segment.compacted:
            groups[(segment.table, segment.partition)].append(segment)
    plans = []
    for _, group in sorted(groups.items(), key=lambda kv: kv[0][1]):
        if len(group) >= min_segments or _hour_end(group[0]) + CLOSE_AFTER_US <= now_us:
            plans += _bounded(sorted(group, key=lambda s: (s.min_ts, s.path)))
    return plans


def _bounded(group: list[Segment]) -> list[list[Segment]]:
    """Split a group so no merge holds more than ``MAX_MERGE_ROWS`` rows in memory."""
    out: list[list[Segment]] = [[]]
    rows = 0
    for segment in group:
        if out[-1] and rows + segment.rows > MAX_MERGE_ROWS:
            out.append([])
            rows = 0
        out[-1].append(segment)
        rows += segment.rows
    return out


def _hour_end(segment: Segment) -> int:
    return (segment.min_ts // HOUR_US + 1) * HOUR_US
