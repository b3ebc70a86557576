"""Where each continuous query has got to, and how that survives a crash.

A query's progress is the end of the last window it committed. Committing windows is
three steps, each waited for before the next:

1. their rows go to ``derived`` as one WAL batch (one frame: after a crash all of them
   are there or none is);
2. the same values go to ``metrics`` as one batch;
3. the new end is written to ``streams/checkpoints.json`` (temp file, fsync, rename).

At start the resume point is the later of the file's end and the newest
``window_end`` in ``derived`` for the query, so a crash after step 1 never computes
those windows again; if step 2 did not happen, ``recover`` rewrites their metrics from
the derived rows. A crash before step 1 leaves nothing, and the windows are computed
again, once. The file exists from the query's first start on, so downtime before its
first window is not skipped either.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from tracelake.files import write_atomic


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """Where a query resumes, and whether its last derived windows may lack metrics."""

    committed_end_us: int
    #: Windows ending in ``(file_end, committed_end]`` are in ``derived`` but the file
    #: never heard of them: check their metrics (None: nothing to check).
    unconfirmed_after_us: int | None


def resume_point(
    file_end_us: int | None, derived_end_us: int | None, first_end_us: int
) -> ResumePoint:
    """Decide where a query resumes from what the file and the derived table say.

    ``first_end_us`` is used when neither knows the query: its first start.
    """
    if derived_end_us is not None and (file_end_us is None or derived_end_us > file_end_us):
        after = file_end_us if file_end_us is not None else -(2**62)
        return ResumePoint(derived_end_us, after)
    if file_end_us is not None:
        return ResumePoint(file_end_us, None)
    return ResumePoint(first_end_us, None)


class CheckpointFile:
    """``{"queries": {name: committed_end_us}}``, replaced atomically on each commit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ends: dict[str, int] = {}

    def load(self) -> dict[str, int]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            data = {}
        self._ends = {str(k): int(v) for k, v in data.get("queries", {}).items()}
        return dict(self._ends)

    def get(self, name: str) -> int | None:
        return self._ends.get(name)

    def save(self, name: str, end_us: int) -> None:
        """Record that ``name`` committed every window ending at or before ``end_us``.

        ``get`` answers the new end only once the file holds it: a failed write must
        leave the runner believing what a restart would read.
        """
        ends = {**self._ends, name: end_us}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, orjson.dumps({"queries": ends}, option=orjson.OPT_SORT_KEYS))
        self._ends = ends
