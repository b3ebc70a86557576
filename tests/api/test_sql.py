"""``POST /api/v1/sql``: one read-only SELECT over the lake tables, nothing else."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pyarrow as pa
import pytest

from tests.conftest import ServerProcess
from tracelake.schema import LOGS
from tracelake.server import Server
from tracelake.settings import Settings
from tracelake.store.ipc import to_ipc


def sql(server: ServerProcess, statement: str, params: list | None = None) -> httpx.Response:
    return httpx.post(f"{server.url}/api/v1/sql", json={"sql": statement, "params": params or []})


def test_select_returns_columns_and_rows(server: ServerProcess) -> None:
    httpx.post(
        f"{server.url}/api/v1/logs", content=b'{"service":"a"}\n{"service":"a"}\n{"service":"b"}'
    )
    r = sql(server, "SELECT service, count(*) AS n FROM logs GROUP BY service ORDER BY service")
    assert r.json()["columns"] == ["service", "n"]
    assert r.json()["rows"] == [["a", 2], ["b", 1]]


def test_parameters_are_bound(server: ServerProcess) -> None:
    httpx.post(f"{server.url}/api/v1/logs", content=b'{"service":"x\'y"}')
    assert sql(server, "SELECT count(*) FROM logs WHERE service = ?", ["x'y"]).json()["rows"] == [
        [1]
    ]


@pytest.mark.parametrize(
    ("statement", "says"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "read_csv() is not available"),
        ("DROP TABLE logs", "only SELECT"),
        ("SELECT 1; SELECT 2", "exactly one statement"),
        ("ATTACH '/tmp/x.db' AS x", "only SELECT"),
        ("COPY logs TO '/tmp/out.parquet'", "only SELECT"),
        ("SET enable_external_access = true", "only SELECT"),
        ("INSTALL httpfs", "only SELECT"),
        ("SELEC nonsense", "does not parse"),
    ],
)
def test_anything_but_a_read_only_select_is_a_clear_400(
    server: ServerProcess, statement: str, says: str
) -> None:
    r = sql(server, statement)
    assert r.status_code == 400
    assert says in r.json()["error"]


def test_body_must_be_json_with_sql(server: ServerProcess) -> None:
    r = httpx.post(f"{server.url}/api/v1/sql", content=b"SELECT 1")
    assert r.status_code == 400 and '{"sql"' in r.json()["error"]


# -- time travel: ``as_of`` ------------------------------------------------------------


@dataclass
class Lake:
    """The real application in process over an open store, so a test decides when
    batches are committed (``store.flush()``)."""

    server: Server

    def write(self, *messages: str) -> None:
        """One batch of log rows, acknowledged (WAL and memtable), then committed."""
        self.append(*messages)
        self.server.store.flush()

    def append(self, *messages: str) -> None:
        """One batch of log rows, acknowledged (WAL and memtable), not committed."""
        n = len(messages)
        columns = {
            "timestamp": pa.array([datetime.now(UTC)] * n, LOGS.field("timestamp").type),
            "message": pa.array(messages, pa.string()),
        }
        batch = pa.record_batch(
            [columns.get(f.name, pa.nulls(n, f.type)) for f in LOGS], schema=LOGS
        )
        asyncio.run(self.server.store.append("logs", to_ipc(batch)))

    def sql(self, statement: str, **body: object) -> httpx.Response:
        async def post() -> httpx.Response:
            transport = httpx.ASGITransport(self.server.app, client=("127.0.0.1", 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://tl") as client:
                return await client.post("/api/v1/sql", json={"sql": statement, **body})

        return asyncio.run(post())

    def messages(self, **body: object) -> list[str]:
        r = self.sql("SELECT message FROM logs ORDER BY message", **body)
        assert r.status_code == 200, r.text
        return [row[0] for row in r.json()["rows"]]


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[Lake]:
    """A server's application and store on an empty data directory, not listening."""
    server = Server(Settings.load(env={}, overrides={"data_dir": str(tmp_path / "data")}))
    server.store.open()
    yield Lake(server)
    server.close()


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_as_of_a_time_sees_only_what_was_committed_by_then(lake: Lake) -> None:
    """Rows committed before T are there as of T; rows committed after are not, and as
    of now every committed row is."""
    lake.write("first", "second")
    time.sleep(0.05)  # commit times are in milliseconds
    between = datetime.now(UTC)
    time.sleep(0.05)
    lake.write("third")
    assert lake.messages(as_of=rfc3339(between)) == ["first", "second"]
    assert lake.messages(as_of=rfc3339(datetime.now(UTC))) == ["first", "second", "third"]
    assert lake.messages() == ["first", "second", "third"]


def test_as_of_excludes_the_memtable(lake: Lake) -> None:
    """Acknowledged rows not yet committed are read by a plain query, not by as_of now."""
    lake.write("committed")
    lake.append("pending")
    assert lake.messages() == ["committed", "pending"]
    assert lake.messages(as_of=rfc3339(datetime.now(UTC))) == ["committed"]


def test_as_of_a_version_reads_that_version_of_the_table(lake: Lake) -> None:
    """Version 0 is the empty table its creation made; each flush is the next version."""
    lake.write("first")
    lake.write("second")
    assert lake.messages(as_of=0) == []
    assert lake.messages(as_of=1) == ["first"]
    assert lake.messages(as_of=2) == ["first", "second"]


def test_as_of_a_version_past_the_newest_is_a_one_line_404(lake: Lake) -> None:
    """A version the table has not reached is not found, in one line naming it."""
    r = lake.sql("SELECT count(*) FROM logs", as_of=99)
    assert r.status_code == 404
    assert "version 99" in r.json()["error"] and "\n" not in r.json()["error"]


def test_as_of_a_time_before_the_table_existed_is_a_one_line_404(lake: Lake) -> None:
    """Before the table's first commit there is nothing to read: a 404 saying to pick a
    later time, not an empty answer that looks like data."""
    r = lake.sql("SELECT count(*) FROM logs", as_of="2020-01-01T00:00:00Z")
    assert r.status_code == 404
    assert "pick a later time" in r.json()["error"] and "\n" not in r.json()["error"]


def test_as_of_a_version_over_two_tables_says_to_query_one(lake: Lake) -> None:
    """Versions are counted per table, so one number cannot place a join."""
    r = lake.sql("SELECT count(*) FROM logs, spans", as_of=0)
    assert r.status_code == 400 and "single table" in r.json()["error"]


@pytest.mark.parametrize(
    "as_of", ["yesterday", "2026-12-01T10:00:00", -1, 1.5, True, "12", [1], {"v": 1}]
)
def test_a_bad_as_of_is_a_one_line_400_naming_the_accepted_forms(lake: Lake, as_of: object) -> None:
    """Neither a zoned RFC 3339 time nor a JSON integer >= 0: refused, never guessed (a
    time without a zone, a numeric string that may be epoch seconds)."""
    r = lake.sql("SELECT count(*) FROM logs", as_of=as_of)
    assert r.status_code == 400
    error = r.json()["error"]
    assert "RFC 3339" in error and "version" in error and "\n" not in error
