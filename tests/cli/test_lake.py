"""``tracelake lake`` as a user runs it: real process, real server, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import ServerProcess
from tests.lake.kit import DAY1, DAY2, EVENTS, start_lake_server

pytestmark = pytest.mark.e2e


@pytest.fixture
def lake_server(server_factory: type[ServerProcess], tmp_path: Path) -> ServerProcess:
    return start_lake_server(server_factory, tmp_path / "data")


def lake(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracelake", "lake", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def json_rows(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


def test_tables_lists_every_table_with_its_rows(lake_server: ServerProcess) -> None:
    out = lake("tables", "--data-dir", str(lake_server.data_dir), "--format", "json")
    assert out.returncode == 0, out.stderr
    by_name = {row["name"]: row for row in json_rows(out.stdout)}
    assert {"logs", "spans", "metrics", "events"} <= set(by_name)
    assert by_name["events"]["rows"] == len(EVENTS)
    assert by_name["events"]["oldest"] == f"{DAY1}T03:04:05+00:00"
    assert by_name["logs"]["rows"] == 0


def test_partitions_of_events_are_by_type_then_date_and_hour(lake_server: ServerProcess) -> None:
    out = lake("partitions", "events", "--data-dir", str(lake_server.data_dir), "--format", "json")
    assert out.returncode == 0, out.stderr
    names = [row["name"] for row in json_rows(out.stdout)]
    assert names == [
        f"type=order_placed/date={DAY1}/hour=03",
        f"type=order_placed/date={DAY1}/hour=09",
        f"type=order_placed/date={DAY2}/hour=00",
        f"type=page_viewed/date={DAY2}/hour=11",
        f"type=refund/date={DAY1}/hour=10",
    ]
    assert all(row["compacted"] == row["segments"] == 1 for row in json_rows(out.stdout))


@pytest.mark.parametrize("suffix", ["parquet", "csv", "jsonl"])
def test_export_writes_the_filtered_time_range_in_the_format_of_the_suffix(
    lake_server: ServerProcess, tmp_path: Path, suffix: str
) -> None:
    target = tmp_path / "out" / f"orders.{suffix}"
    out = lake(
        "export",
        "events",
        str(target),
        "--data-dir",
        str(lake_server.data_dir),
        "--from",
        f"{DAY1}T00:00:00Z",
        "--to",
        f"{DAY2}T00:00:00Z",
        "--where",
        "type = 'order_placed'",
    )
    assert out.returncode == 0, out.stderr
    assert "wrote 2 rows" in out.stdout
    reader = {"parquet": "read_parquet", "csv": "read_csv", "jsonl": "read_json"}[suffix]
    rows = duckdb.sql(
        f"SELECT type, CAST(payload->>'$.amount' AS DOUBLE) FROM {reader}(?) ORDER BY 2",
        params=[str(target)],
    ).fetchall()
    assert rows == [("order_placed", 80.0), ("order_placed", 120.5)]


def test_export_with_a_bad_filter_says_so_in_one_line(
    lake_server: ServerProcess, tmp_path: Path
) -> None:
    out = lake(
        "export",
        "events",
        str(tmp_path / "x.parquet"),
        "--data-dir",
        str(lake_server.data_dir),
        "--where",
        "no_such_column = 1",
    )
    assert out.returncode == 1
    assert out.stderr.startswith("error: export failed:") and out.stderr.count("\n") == 1


def test_commands_on_a_directory_without_a_lake_name_the_fix(tmp_path: Path) -> None:
    out = lake("tables", "--data-dir", str(tmp_path))
    assert out.returncode == 1 and "pass the --data-dir" in out.stderr


def test_compact_asks_the_server_and_reports_what_it_did(lake_server: ServerProcess) -> None:
    out = lake("compact", "--url", lake_server.url)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("flushed 0 rows, compacted 0 partition groups")
