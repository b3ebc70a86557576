"""Opening a table's commit log: a fresh lake starts empty; files without a log, a log
that does not read, or an old manifest that does not parse stop the start in one line
pointing at `lake repair`, and change nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.store.conftest import settings_for
from tracelake.errors import LakeNeedsRepair
from tracelake.store import Store
from tracelake.store.delta import LakeTable


def _hour(tmp_path: Path) -> Path:
    hour = tmp_path / "data" / "lake" / "logs" / "date=2026-01-01" / "hour=00"
    hour.mkdir(parents=True)
    return hour


def test_a_fresh_lake_opens_empty_at_version_0(tmp_path: Path) -> None:
    table = LakeTable(tmp_path / "lake", "logs")
    table.open()
    assert table.snapshot().version == 0 and table.snapshot().segments == ()
    assert (tmp_path / "lake" / "logs" / "_delta_log" / f"{0:020d}.json").exists()


def test_segment_files_without_a_commit_log_ask_for_repair(tmp_path: Path) -> None:
    """Starting on a new empty log would hide every segment of the table."""
    segment = _hour(tmp_path) / "000000000001.parquet"
    segment.write_bytes(b"PAR1")
    with pytest.raises(LakeNeedsRepair) as refused:
        Store(settings_for(tmp_path / "data")).open()
    assert "no _delta_log/" in refused.value.message
    assert f"tracelake lake repair --data-dir {tmp_path / 'data'}" in refused.value.message
    assert segment.exists() and not (segment.parents[2] / "_delta_log").exists()


@pytest.mark.parametrize("content", [b'{"commitInfo": {"timestamp": 1', b"not json"])
def test_an_unreadable_commit_log_asks_for_repair_in_one_line(
    tmp_path: Path, content: bytes
) -> None:
    table = LakeTable(tmp_path / "lake", "logs")
    table.open()
    first = tmp_path / "lake" / "logs" / "_delta_log" / f"{0:020d}.json"
    first.write_bytes(content)
    with pytest.raises(LakeNeedsRepair) as refused:
        LakeTable(tmp_path / "lake", "logs").open()
    assert "is unreadable" in refused.value.message and "lake repair" in refused.value.message
    assert "\n" not in refused.value.message
    assert first.read_bytes() == content, "nothing was changed"


@pytest.mark.parametrize(
    "content",
    [b'{"version": 1, "wal_checkpoint": 3, "next_segm', b"[]", b'{"wal_checkpoint": 3}'],
    ids=["truncated", "not-an-object", "no-segments"],
)
def test_an_unreadable_old_manifest_stops_the_migration_in_one_line(
    tmp_path: Path, content: bytes
) -> None:
    manifest = tmp_path / "data" / "lake" / "_manifest.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_bytes(content)
    with pytest.raises(LakeNeedsRepair) as refused:
        Store(settings_for(tmp_path / "data")).open()
    assert "is unreadable" in refused.value.message and "\n" not in refused.value.message
    assert manifest.read_bytes() == content
    assert not list(manifest.parent.glob("*/_delta_log")), "no table was made"
