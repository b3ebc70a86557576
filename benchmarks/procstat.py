"""CPU time of a server process and its decode workers, read from /proc.

Why: wall-clock rates swing with whatever else runs on a 2-core machine; CPU seconds
per record of the server and its workers stay comparable between runs.
"""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int) -> dict[int, float]:
    """User + system CPU seconds of ``pid`` and each of its descendants (the workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for proc in [pid, *_descendants(pid)]:
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        out[proc] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def total_cpu_seconds(pid: int) -> float:
    """``cpu_seconds`` summed: the server and its workers together."""
    return sum(cpu_seconds(pid).values())


def _descendants(pid: int) -> list[int]:
    """Children of every thread of ``pid`` (a pool may start its workers from any)."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:  # it ended meanwhile
        return []
    for task in tasks:
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return found + [d for child in found for d in _descendants(child)]
