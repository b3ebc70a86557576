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

def plan_compactions(segments: list[Segment], min_segments: int) -> list[list[Segment]]:
    """Groups of flushed (never compacted) segments of one partition, oldest first.

    A compacted segment is not merged again: each row is written at most twice, once
    by the flush and once by compaction, however long the partition keeps growing.
    """
    groups: dict[tuple[str, str], list[Segment]] = defaultdict(list)
    for segment in segments:
        if not segment.compacted:
            groups[(segment.table, segment.partition)].append(segment)
    return [
        sorted(group, key=lambda s: s.path)
        for _, group in sorted(groups.items(), key=lambda kv: kv[0][1])
        if len(group) >= min_segments
    ]
