"""``tracelake lake`` as a user runs it: real process, real server, real files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.conftest import ServerProcess
from tests.lake.kit import DAY1, DAY2, EVENTS, start_lake_server
from tests.security.fault_kit import CHURN, numbered, stored_seqs
from tests.store.kit import serve_once

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


def test_tables_lists_every_table_with_its_rows_version_and_last_commit(
    lake_server: ServerProcess,
) -> None:
    """Every table is listed with the rows of its current Delta version, that version
    (the number of its newest log file) and what its last commit did and when."""
    out = lake("tables", "--data-dir", str(lake_server.data_dir), "--format", "json")
    assert out.returncode == 0, out.stderr
    by_name = {row["name"]: row for row in json_rows(out.stdout)}
    assert {"logs", "spans", "metrics", "events"} <= set(by_name)
    events = by_name["events"]
    assert events["rows"] == len(EVENTS)
    assert events["oldest"] == f"{DAY1}T03:04:05+00:00"
    log = lake_server.data_dir / "lake" / "events" / "_delta_log"
    assert events["version"] == max(int(p.stem) for p in log.glob("*.json"))
    assert events["operation"] == "compact"
    committed = datetime.fromisoformat(str(events["committed"]))
    assert abs(committed - datetime.now(UTC)) < timedelta(minutes=5)
    assert by_name["logs"]["rows"] == 0 and by_name["logs"]["version"] == 0


def test_a_table_without_a_commit_log_is_shown_empty_and_nothing_is_written(
    lake_server: ServerProcess,
) -> None:
    """The catalog only reads: a table whose log does not exist is listed empty (no
    version), and neither it nor any other file of the lake is created or changed."""
    assert lake_server.stop() == 0
    root = lake_server.data_dir / "lake"
    shutil.rmtree(root / "spans")
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    out = lake("tables", "--data-dir", str(lake_server.data_dir), "--format", "json")
    assert out.returncode == 0, out.stderr
    spans = next(row for row in json_rows(out.stdout) if row["name"] == "spans")
    assert spans["rows"] == 0 and spans["version"] is None
    empty = lake("partitions", "spans", "--data-dir", str(lake_server.data_dir))
    assert empty.returncode == 0, empty.stderr
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before


def test_lake_dir_reads_a_lake_kept_apart_from_the_data_directory(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    """With ``lake_dir`` set the lake is not under the data directory: ``--lake-dir``
    (or TRACELAKE_LAKE_DIR, as the server reads it) points the commands at it."""
    shared = tmp_path / "shared-lake"
    start_lake_server(server_factory, tmp_path / "data", env={"TRACELAKE_LAKE_DIR": str(shared)})
    out = lake("tables", "--lake-dir", str(shared), "--format", "json")
    assert out.returncode == 0, out.stderr
    events = next(row for row in json_rows(out.stdout) if row["name"] == "events")
    assert events["rows"] == len(EVENTS)
    target = tmp_path / "all.jsonl"
    exported = lake("export", "events", str(target), "--lake-dir", str(shared))
    assert exported.returncode == 0, exported.stderr
    assert len(target.read_text().splitlines()) == len(EVENTS)
    wrong = lake("tables", "--data-dir", str(tmp_path / "data"))
    assert wrong.returncode == 1 and "--lake-dir" in wrong.stderr


def test_partitions_of_events_are_by_type_then_date_and_hour(lake_server: ServerProcess) -> None:
    """Partitions are those of the current version only: after the compaction each holds
    one compacted file, although the files it replaced are still on disk."""
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
    assert len({row["version"] for row in json_rows(out.stdout)}) == 1
    replaced = list((lake_server.data_dir / "lake" / "events").rglob("f-*.parquet"))
    assert replaced, "vacuum keeps the flushed files for lake_vacuum_hours"


def test_tables_and_partitions_ask_the_running_server_by_default(
    lake_server: ServerProcess,
) -> None:
    """Without --data-dir the commands talk to the server (--url), as ``sql`` does, and
    print what reading the files prints."""
    for args in (["tables"], ["partitions", "events"]):
        served = lake(*args, "--url", lake_server.url, "--format", "json")
        assert served.returncode == 0, served.stderr
        read = lake(*args, "--data-dir", str(lake_server.data_dir), "--format", "json")
        assert json_rows(served.stdout) == json_rows(read.stdout)
    unknown = lake("partitions", "nope", "--url", lake_server.url)
    assert unknown.returncode == 1 and "tables are" in unknown.stderr


def test_lake_commands_without_a_server_say_how_to_read_the_files(tmp_path: Path) -> None:
    out = lake("tables", "--url", "127.0.0.1:9")
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert "tracelake serve" in out.stderr


@pytest.mark.parametrize("via", ["files", "server"])
@pytest.mark.parametrize("suffix", ["parquet", "csv", "jsonl"])
def test_export_writes_the_filtered_time_range_in_the_format_of_the_suffix(
    lake_server: ServerProcess, tmp_path: Path, suffix: str, via: str
) -> None:
    """Only the current version's files are read: the flushed files compaction replaced
    lie beside the compacted ones, and would double every row of a glob. Through the
    server (the default) or from the files (--data-dir), the same rows."""
    target = tmp_path / "out" / f"orders.{suffix}"
    where = (
        ["--data-dir", str(lake_server.data_dir)] if via == "files" else ["--url", lake_server.url]
    )
    out = lake(
        "export",
        "events",
        str(target),
        *where,
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
    rows = duckdb.execute(
        f"SELECT type, CAST(payload->>'$.amount' AS DOUBLE) FROM {reader}(?) ORDER BY 2",
        [str(target)],
    ).fetchall()
    assert rows == [("order_placed", 80.0), ("order_placed", 120.5)]
    assert not list(target.parent.glob("*.part")), "the partial download was renamed"


@pytest.mark.parametrize(
    "where",
    [
        "1 = 1; SELECT 1",
        "true) TO '/tmp/x.csv' (FORMAT csv); SELECT (1",
        "type = 'x' -- comment",
        "type = 'x') UNION ALL (SELECT * FROM spans",
    ],
)
def test_export_through_the_server_takes_one_condition_only(
    lake_server: ServerProcess, tmp_path: Path, where: str
) -> None:
    """The condition is the user's SQL run on the server: a second statement, a comment
    or another table is refused in one line before anything runs."""
    target = tmp_path / "x.csv"
    out = lake("export", "events", str(target), "--url", lake_server.url, "--where", where)
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert "server answered 400" in out.stderr
    assert not target.exists()


def test_export_with_a_bad_filter_says_so_in_one_line(
    lake_server: ServerProcess, tmp_path: Path
) -> None:
    """The user's SQL fails in DuckDB: one line, exit 1, no traceback."""
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
    """No table's commit log there: the wrong directory, most likely; nothing is created."""
    out = lake("tables", "--data-dir", str(tmp_path))
    assert out.returncode == 1 and "pass the --data-dir" in out.stderr
    assert not any(tmp_path.iterdir())


def test_a_lake_still_on_the_old_manifest_says_to_start_the_server_once(tmp_path: Path) -> None:
    """The old catalog is moved onto Delta by a server start, not by a reader."""
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "_manifest.json").write_text('{"wal_checkpoint": 0, "segments": []}')
    out = lake("tables", "--data-dir", str(tmp_path))
    assert out.returncode == 1 and "_manifest.json" in out.stderr and "serve" in out.stderr
    assert [p.name for p in (tmp_path / "lake").iterdir()] == ["_manifest.json"]


def test_compact_asks_the_server_and_reports_what_it_did(lake_server: ServerProcess) -> None:
    """Everything is compacted already: the server says it did nothing."""
    out = lake("compact", "--url", lake_server.url)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("flushed 0 rows, compacted 0 partition groups")


def _break_log(log_dir: Path, how: str) -> None:
    if how == "deleted":
        shutil.rmtree(log_dir)
    else:
        newest = max(log_dir.glob("*.json"))
        newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])


@pytest.mark.parametrize("how", ["deleted", "truncated"])
def test_a_broken_commit_log_stops_the_start_and_lake_repair_brings_every_row_back_once(
    server_factory: type[ServerProcess], tmp_path: Path, how: str
) -> None:
    """With the logs table's commit log deleted or truncated the server refuses to start in one line
    (exit 2, no traceback) naming `lake repair`, and deletes nothing; after the repair it
    starts and search and SQL find every acknowledged row exactly once."""
    data = tmp_path / "data"
    server = server_factory(data, env={"TRACELAKE_FLUSH_INTERVAL_S": "0.2"}).start()
    for start in range(0, 600, 100):
        r = httpx.post(f"{server.url}/api/v1/logs", content=numbered(start, 100, "repair"))
        assert r.status_code == 200 and r.json()["accepted"] == 100, r.text
        time.sleep(0.6)  # a flush between batches: several segments
    assert server.stop() == 0
    segments = sorted((data / "lake").rglob("*.parquet"))
    assert segments, "the rows should be in segments"
    _break_log(data / "lake" / "logs" / "_delta_log", how)

    refused = serve_once(data)
    assert refused.returncode == 2, refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert "lake/logs" in lines[0] and f"tracelake lake repair --data-dir {data}" in lines[0]
    assert sorted((data / "lake").rglob("*.parquet")) == segments, "nothing was deleted"

    repaired = lake("repair", "--data-dir", str(data))
    assert repaired.returncode == 0, repaired.stderr
    assert "600 rows" in repaired.stdout
    if how == "truncated":
        assert list((data / "lake" / "logs").glob("_delta_log.broken-*")), "the old one is kept"

    again = server_factory(data).start()
    seqs = stored_seqs(again.url, "repair")
    assert sorted(seqs) == list(range(600)), "every row exactly once (SQL)"
    found = httpx.get(
        f"{again.url}/api/v1/search", params={"q": "service:repair", "limit": 1000}, timeout=30
    )
    assert found.status_code == 200, found.text
    assert len(found.json()["rows"]) == 600, "every row exactly once (search)"


def test_lake_repair_refuses_while_the_server_runs(lake_server: ServerProcess) -> None:
    """The server is the lake's only writer: repair under it would race its flushes."""
    assert lake_server.proc is not None
    out = lake("repair", "--data-dir", str(lake_server.data_dir))
    assert out.returncode == 2
    assert f"pid {lake_server.proc.pid}" in out.stderr and "stop it" in out.stderr


def test_repair_after_kill_9_under_churn_counts_every_acknowledged_row_once(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    """The hard case: killed mid-flush and mid-compaction, rows may be on disk twice (in
    a segment and its WAL file, in a compacted segment and its originals). With the
    commit log lost too, repair still brings back every acknowledged row, and none twice."""
    data = tmp_path / "data"
    server = server_factory(data, env=CHURN).start()
    acked: list[int] = []
    stop = threading.Event()

    def send() -> None:
        seq = 0
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                try:
                    r = client.post(f"{server.url}/api/v1/logs", content=numbered(seq, 500))
                except httpx.TransportError:
                    return
                if r.status_code == 200:
                    acked.extend(range(seq, seq + 500))
                seq += 500

    sender = threading.Thread(target=send)
    sender.start()
    time.sleep(3)
    server.kill()
    stop.set()
    sender.join()
    assert len(acked) >= 5000, "the test should have ingested a fair amount before the kill"
    shutil.rmtree(data / "lake" / "logs" / "_delta_log")

    repaired = lake("repair", "--data-dir", str(data))
    assert repaired.returncode == 0, repaired.stderr
    again = server_factory(data, env=CHURN).start()
    seqs = stored_seqs(again.url)
    assert len(seqs) == len(set(seqs)), "a row was counted twice"
    missing = set(acked) - set(seqs)
    assert not missing, f"{len(missing)} acknowledged rows lost, e.g. {sorted(missing)[:5]}"
