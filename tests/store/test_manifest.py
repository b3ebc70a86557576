"""The manifest: a fresh lake starts empty; a missing manifest beside segment files, or
one that does not parse, stops the start in one line pointing at `lake repair`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracelake.errors import LakeNeedsRepair
from tracelake.store.manifest import Manifest


def _lake(tmp_path: Path) -> Path:
    lake = tmp_path / "data" / "lake"
    (lake / "logs" / "date=2026-01-01" / "hour=00").mkdir(parents=True)
    return lake


def test_a_fresh_lake_without_a_manifest_loads_empty(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    manifest = Manifest(lake / "_manifest.json")
    manifest.load()
    assert manifest.segments() == [] and manifest.state.next_segment == 1


def test_a_missing_manifest_beside_segment_files_asks_for_repair(tmp_path: Path) -> None:
    """Loading empty would hide every segment (and used to delete them all)."""
    lake = _lake(tmp_path)
    segment = lake / "logs" / "date=2026-01-01" / "hour=00" / "000000000001.parquet"
    segment.write_bytes(b"PAR1")
    with pytest.raises(LakeNeedsRepair) as refused:
        Manifest(lake / "_manifest.json").load()
    assert "is missing" in refused.value.message
    assert f"tracelake lake repair --data-dir {tmp_path / 'data'}" in refused.value.message
    assert segment.exists()


@pytest.mark.parametrize(
    "content",
    [
        b'{"version": 1, "wal_checkpoint": 3, "next_segm',
        b"",
        b"[]",
        b'{"version": 1, "wal_checkpoint": 3, "next_segment": 4}',
        b'{"wal_checkpoint": 3, "next_segment": 4, "segments": [{"table": "logs"}]}',
        b'{"wal_checkpoint": "3", "next_segment": 4, "segments": []}',
    ],
    ids=["truncated", "empty", "not-an-object", "no-segments", "bad-segment", "bad-type"],
)
def test_an_unreadable_manifest_asks_for_repair_in_one_line(tmp_path: Path, content: bytes) -> None:
    lake = _lake(tmp_path)
    (lake / "_manifest.json").write_bytes(content)
    with pytest.raises(LakeNeedsRepair) as refused:
        Manifest(lake / "_manifest.json").load()
    assert "is unreadable" in refused.value.message and "lake repair" in refused.value.message
    assert "\n" not in refused.value.message
    assert (lake / "_manifest.json").read_bytes() == content, "nothing was changed"
