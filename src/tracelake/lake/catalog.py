"""What the lake holds, from its manifest: per table and per partition."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from tracelake.errors import NotFound
from tracelake.schema import SCHEMAS
from tracelake.store.manifest import Manifest, Segment


@dataclass(frozen=True, slots=True)
class Summary:
    """Segments, rows, bytes and time range of a table or a partition."""

    name: str
    segments: int
    rows: int
    bytes: int
    min_ts: int | None  # µs since the epoch
    max_ts: int | None
    compacted: int

    @staticmethod
    def of(name: str, segments: list[Segment]) -> Summary:
        return Summary(
            name,
            len(segments),
            sum(s.rows for s in segments),
            sum(s.bytes for s in segments),
            min((s.min_ts for s in segments), default=None),
            max((s.max_ts for s in segments), default=None),
            sum(1 for s in segments if s.compacted),
        )


def load_manifest(data_dir: Path) -> Manifest:
    """The manifest of ``data_dir``; NotFound when the directory holds no lake."""
    path = data_dir / "lake" / "_manifest.json"
    if not path.is_file():
        raise NotFound(f"no lake at {data_dir}: pass the --data-dir that tracelake serve uses")
    manifest = Manifest(path)
    manifest.load()
    return manifest


def tables(manifest: Manifest) -> list[Summary]:
    """Every table of the lake, with or without segments yet."""
    return [Summary.of(table, manifest.segments(table)) for table in SCHEMAS]


def partitions(manifest: Manifest, table: str) -> list[Summary]:
    """The partitions of ``table`` that have segments, in path order."""
    if table not in SCHEMAS:
        raise NotFound(f"no table {table!r}: tables are {', '.join(SCHEMAS)}")
    groups: dict[str, list[Segment]] = defaultdict(list)
    for segment in manifest.segments(table):
        groups[segment.partition].append(segment)
    return [Summary.of(name, groups[name]) for name in sorted(groups)]


def files(data_dir: Path, manifest: Manifest, table: str) -> list[str]:
    """Paths of the live segment files of ``table`` (the manifest's, never a glob's)."""
    lake = data_dir / "lake"
    return [str(lake / s.path) for s in manifest.segments(table)]
