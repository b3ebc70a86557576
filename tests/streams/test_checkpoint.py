"""Resume points: the checkpoint file and the derived table together decide where to go on."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracelake.streams.checkpoint import CheckpointFile, ResumePoint, resume_point


def test_first_start_begins_at_the_given_end() -> None:
    assert resume_point(None, None, 600) == ResumePoint(600, None)


def test_the_file_is_trusted_when_derived_holds_nothing_newer() -> None:
    assert resume_point(1200, 1200, 600) == ResumePoint(1200, None)
    assert resume_point(1200, 900, 600) == ResumePoint(1200, None)  # later windows were empty
    assert resume_point(1200, None, 600) == ResumePoint(1200, None)


def test_derived_rows_newer_than_the_file_are_committed_but_their_metrics_are_unconfirmed() -> None:
    # crashed between the derived batch and the checkpoint: never compute those again
    assert resume_point(1200, 1800, 600) == ResumePoint(1800, 1200)


def test_the_file_keeps_every_query_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "streams" / "checkpoints.json"
    first = CheckpointFile(path)
    assert first.load() == {}
    first.save("orders", 60_000_000)
    first.save("errors", 120_000_000)
    first.save("orders", 180_000_000)
    again = CheckpointFile(path)
    assert again.load() == {"orders": 180_000_000, "errors": 120_000_000}
    assert not path.with_name(path.name + ".tmp").exists()


def test_a_failed_write_leaves_the_recorded_end_as_the_file_has_it(tmp_path: Path) -> None:
    path = tmp_path / "streams" / "checkpoints.json"
    checkpoints = CheckpointFile(path)
    checkpoints.save("orders", 60_000_000)
    path.with_name(path.name + ".tmp").mkdir()  # the temp file cannot be written
    with pytest.raises(OSError):
        checkpoints.save("orders", 120_000_000)
    assert checkpoints.get("orders") == 60_000_000
    assert CheckpointFile(path).load() == {"orders": 60_000_000}
