"""Compaction: merge the small segments of a partition into one sorted by time.

Flushes write a segment every few seconds; queries are faster over few large files.
The merged file is written first, then the manifest swaps old for new in one atomic
rewrite, then the old files are deleted after a grace period (a running query may
still read them). A crash at any point leaves either the old files or the new one
named in the manifest; the other is an orphan the next open removes.
"""

from __future__ import annotations

from collections import defaultdict

from tracelake.store.manifest import Segment

#: An hour is "closed" this long after it ends; its flushed segments are then compacted
#: even if there are few of them, so every row ends up in a compacted file.
CLOSE_AFTER_US = 5 * 60 * 1_000_000
HOUR_US = 3_600_000_000


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
    return [
        sorted(group, key=lambda s: s.path)
        for _, group in sorted(groups.items(), key=lambda kv: kv[0][1])
        if len(group) >= min_segments or _hour_end(group[0]) + CLOSE_AFTER_US <= now_us
    ]


def _hour_end(segment: Segment) -> int:
    return (segment.min_ts // HOUR_US + 1) * HOUR_US
