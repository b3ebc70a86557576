"""Delta readers outside the server see the lake the SQL endpoint sees, even mid-compaction.

A real server writes logs and events; deltalake's pyarrow dataset, ``polars.scan_delta``
and ``DeltaTable.to_pandas`` read the tables from their commit logs with no tracelake
code, and must agree row for row with ``POST /api/v1/sql``. Compaction rewrites every
partition while they read: each read is of one version, so no row is ever seen twice
(a compacted file and the files it replaced) or missed.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import polars as pl
import pytest
from deltalake import DeltaTable

from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e

BATCHES = 6
LOGS_PER_BATCH = 240  # ten per hour of one day: 24 partitions, one file each per flush
EVENTS_PER_BATCH = 60  # three types over ten hours: 30 partitions
TYPES = ("order_placed", "refund", "page_viewed")
#: A day inside every table's retention, whatever day the suite runs on.
DAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
#: Flush at once, compact only when asked, and answer SQL with every row.
ENV = {
    "TRACELAKE_FLUSH_INTERVAL_S": "0.2",
    "TRACELAKE_COMPACTION_INTERVAL_S": "3600",
    "TRACELAKE_QUERY_MAX_ROWS": "1000000",
}
#: Per table, the column that names each row uniquely.
ID = {"logs": "message", "events": "key"}

Reader = Callable[[str, str], tuple[int | None, list[str]]]


def _pyarrow(path: str, column: str) -> tuple[int | None, list[str]]:
    table = DeltaTable(path)
    rows = table.to_pyarrow_dataset().to_table(columns=[column]).column(column).to_pylist()
    return table.version(), rows


def _polars(path: str, column: str) -> tuple[int | None, list[str]]:
    return None, pl.scan_delta(path).select(column).collect()[column].to_list()


def _pandas(path: str, column: str) -> tuple[int | None, list[str]]:
    table = DeltaTable(path)
    return table.version(), table.to_pandas(columns=[column])[column].tolist()


READERS: dict[str, Reader] = {"pyarrow": _pyarrow, "polars": _polars, "pandas": _pandas}


def _ingest(url: str, batch: int) -> None:
    """One batch of logs and events, with ids unique across batches."""
    logs: list[dict[str, object]] = []
    events: list[dict[str, object]] = []
    for i in range(LOGS_PER_BATCH):
        n = batch * LOGS_PER_BATCH + i
        ts = DAY + timedelta(hours=i % 24, seconds=n)
        logs.append({"timestamp": ts.isoformat(), "service": "outside", "message": f"log-{n}"})
    for i in range(EVENTS_PER_BATCH):
        n = batch * EVENTS_PER_BATCH + i
        ts = DAY + timedelta(hours=i % 10, seconds=n)
        events.append(
            {"type": TYPES[i % 3], "key": f"ev-{n}", "timestamp": ts.isoformat(), "payload": {}}
        )
    for endpoint, rows in (("logs", logs), ("events", events)):
        body = b"\n".join(orjson.dumps(row) for row in rows)
        r = httpx.post(f"{url}/api/v1/{endpoint}", content=body, timeout=30)
        assert r.status_code == 200 and r.json()["accepted"] == len(rows), r.text


def _wait_committed(lake: Path, expected: dict[str, int], timeout: float = 30.0) -> None:
    """Until every table's current version holds the expected number of rows."""
    deadline = time.monotonic() + timeout
    while True:
        counts = {t: len(_pyarrow(str(lake / t), ID[t])[1]) for t in expected}
        if counts == expected:
            return
        assert time.monotonic() < deadline, f"not flushed in {timeout} s: {counts} != {expected}"
        time.sleep(0.1)


def _sql_ids(url: str, table: str) -> list[str]:
    r = httpx.post(
        f"{url}/api/v1/sql", json={"sql": f"SELECT {ID[table]} FROM {table}"}, timeout=60
    )
    assert r.status_code == 200, r.text
    assert not r.json().get("truncated"), "the SQL answer should hold every row"
    return [row[0] for row in r.json()["rows"]]


@pytest.fixture
def lake_server(server_factory: type[ServerProcess], tmp_path: Path) -> ServerProcess:
    """A server with ``BATCHES`` flushes of logs and events, each its own commit."""
    server = server_factory(tmp_path / "data", env=ENV).start()
    lake = server.data_dir / "lake"
    for batch in range(BATCHES):
        _ingest(server.url, batch)
        # one flush per batch: several flushed files per partition for compaction
        _wait_committed(
            lake, {"logs": (batch + 1) * LOGS_PER_BATCH, "events": (batch + 1) * EVENTS_PER_BATCH}
        )
    return server


def test_every_outside_reader_sees_the_rows_the_sql_endpoint_answers(
    lake_server: ServerProcess,
) -> None:
    """Once flushed, pyarrow, Polars and pandas over the Delta logs read exactly the
    rows (same ids, same count, none twice) that SQL on the server answers."""
    lake = lake_server.data_dir / "lake"
    for table in ("logs", "events"):
        sql = Counter(_sql_ids(lake_server.url, table))
        per_batch = LOGS_PER_BATCH if table == "logs" else EVENTS_PER_BATCH
        assert sum(sql.values()) == len(sql) == BATCHES * per_batch
        for name, read in READERS.items():
            _, rows = read(str(lake / table), ID[table])
            assert Counter(rows) == sql, f"{name} disagrees with SQL on {table}"


def test_reads_during_compaction_never_see_a_row_twice_or_miss_one(
    lake_server: ServerProcess,
) -> None:
    """While the server compacts every partition (one commit per partition, each adding
    a merged file and removing the files it replaces), readers loop over both tables:
    every read, whichever version it lands on, holds each row exactly once."""
    lake = lake_server.data_dir / "lake"
    expected = {t: Counter(_sql_ids(lake_server.url, t)) for t in ("logs", "events")}
    before = {t: DeltaTable(str(lake / t)).version() for t in expected}
    stop = threading.Event()
    bad: list[str] = []
    seen: dict[str, set[int]] = {t: set() for t in expected}
    reads = Counter[str]()

    def loop(name: str, read: Reader) -> None:
        while not stop.is_set():
            for table, want in expected.items():
                version, rows = read(str(lake / table), ID[table])
                got = Counter(rows)
                if got != want:
                    twice = sorted(k for k, n in got.items() if n > 1)
                    missing = sorted(set(want) - set(got))
                    bad.append(
                        f"{name} {table} v{version}: {len(twice)} twice (e.g. {twice[:3]}), "
                        f"{len(missing)} missing (e.g. {missing[:3]})"
                    )
                if version is not None:
                    seen[table].add(version)
                reads[name] += 1

    threads = [threading.Thread(target=loop, args=item) for item in READERS.items()]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.2)  # every reader is under way before the first compaction commit
        r = httpx.post(f"{lake_server.url}/api/v1/lake/compact", timeout=120)
        assert r.status_code == 200, r.text
        compacted_groups = r.json()["compacted_groups"]
        time.sleep(0.3)  # and each reads the final version too
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert not bad, "\n".join(bad[:10])
    assert compacted_groups == 24 + 30, "every partition had flushed files to merge"
    after = {t: DeltaTable(str(lake / t)).version() for t in expected}
    for table in expected:
        assert after[table] > before[table], f"{table} was compacted by commits"
        assert before[table] in seen[table] and after[table] in seen[table]
    # the readers overlapped the compaction, not only the versions either side of it
    assert any(before[t] < v < after[t] for t in expected for v in seen[t]), seen
    assert min(reads.values()) >= 3, reads
    for table, want in expected.items():  # and SQL still agrees afterwards
        assert Counter(_sql_ids(lake_server.url, table)) == want
