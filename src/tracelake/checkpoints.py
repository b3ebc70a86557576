"""Where a writer of derived rows has got to, and how that survives a crash.

Continuous queries (``streams/``) and recording rules (``alerting/``) both write rows
computed from the lake back into it, and must write each window or evaluation once.
Both follow the same steps: the rows go to the store first (one WAL batch, acknowledged
after fsync), then the end they reach is written to a checkpoint file (temp file,
fsync, rename). At start the resume point is the later of the file's end and the newest
end found in the output table, so a crash between the two steps never writes those
rows again; ``ResumePoint.unconfirmed_after_us`` says which ends only the table knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from tracelake.files import write_atomic


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """Where a writer resumes, and whether its last output may be incomplete."""

    committed_end_us: int
    #: Ends in ``(file_end, committed_end]`` are in the output table but the file never
    #: heard of them: check what they wrote (None: nothing to check).
    unconfirmed_after_us: int | None


def resume_point(
    file_end_us: int | None, table_end_us: int | None, first_end_us: int
) -> ResumePoint:
    """Decide where a writer resumes from what the file and its output table say.

    ``first_end_us`` is used when neither knows the writer: its first start.
    """
    if table_end_us is not None and (file_end_us is None or table_end_us > file_end_us):
        after = file_end_us if file_end_us is not None else -(2**62)
        return ResumePoint(table_end_us, after)
    if file_end_us is not None:
        return ResumePoint(file_end_us, None)
    return ResumePoint(first_end_us, None)


class CheckpointFile:
    """``{key: {name: committed_end_us}}``, replaced atomically on each commit."""

    def __init__(self, path: Path, key: str = "queries") -> None:
        self.path = path
        self.key = key
        self._ends: dict[str, int] = {}

    def load(self) -> dict[str, int]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            data = {}
        self._ends = {str(k): int(v) for k, v in data.get(self.key, {}).items()}
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
        write_atomic(self.path, orjson.dumps({self.key: ends}, option=orjson.OPT_SORT_KEYS))
        self._ends = ends
