"""Query cost limits of the DuckDB engine — time, rows, memory, concurrency — each one
on the engine and the ones a client sees over HTTP on the real server."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pyarrow as pa
import pytest

from tests.conftest import ServerProcess
from tracelake.errors import Overloaded, QueryError, QueryTimeout
from tracelake.store.duck import QueryEngine, Source

#: Billions of rows of arithmetic: runs far longer than any limit below.
ENDLESS = "SELECT sum(a.range * b.range) FROM range(1000000000) a, range(1000) b"
NO_SOURCES: dict[str, Source] = {}


def engine(tmp_path: Path, *, memory_limit: str = "256MB", concurrency: int = 2) -> QueryEngine:
    return QueryEngine(tmp_path, threads=1, memory_limit=memory_limit, concurrency=concurrency)


def test_a_query_past_its_time_limit_is_interrupted_promptly(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(QueryTimeout, match=r"time limit of 0\.3 s"):
        engine(tmp_path).run(ENDLESS, [], NO_SOURCES, timeout_s=0.3, max_rows=10)
    assert time.monotonic() - started < 5


def test_rows_past_the_cap_are_cut_and_reported_truncated(tmp_path: Path) -> None:
    results = engine(tmp_path).run(
        "SELECT range FROM range(1000)", [], NO_SOURCES, timeout_s=10, max_rows=25
    )
    assert len(results.rows) == 25 and results.truncated
    exact = engine(tmp_path).run(
        "SELECT range FROM range(25)", [], NO_SOURCES, timeout_s=10, max_rows=25
    )
    assert len(exact.rows) == 25 and not exact.truncated


def test_a_query_over_the_memory_limit_is_a_clear_400_not_a_crash(tmp_path: Path) -> None:
    big = {"t": Source([], pa.table({"s": [f"{i:0>200}" for i in range(200_000)]}))}
    with pytest.raises(QueryError, match=r"query_memory_limit \(16MB\)") as caught:
        engine(tmp_path, memory_limit="16MB").run(
            "SELECT list(s ORDER BY s DESC) FROM t", [], big, timeout_s=30, max_rows=1
        )
    assert caught.value.status == 400


def test_queries_beyond_the_concurrency_cap_wait_then_get_503(tmp_path: Path) -> None:
    eng = engine(tmp_path, concurrency=1)
    outcome: list[BaseException] = []

    def hog() -> None:
        try:
            eng.run(ENDLESS, [], NO_SOURCES, timeout_s=3, max_rows=1)
        except QueryTimeout as e:
            outcome.append(e)

    first = threading.Thread(target=hog)
    first.start()
    time.sleep(0.3)
    started = time.monotonic()
    with pytest.raises(Overloaded, match="query_concurrency") as caught:
        eng.run("SELECT 1", [], NO_SOURCES, timeout_s=0.5, max_rows=1)
    assert 0.4 < time.monotonic() - started < 2.5
    assert caught.value.status == 503
    first.join()
    assert outcome, "the first query ran to its own limit"
    again = eng.run("SELECT 1", [], NO_SOURCES, timeout_s=1, max_rows=1)
    assert again.rows == [(1,)], "the slot is given back after a timeout"


def test_over_http_a_slow_query_is_504_and_a_wide_one_truncated(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    server = server_factory(
        tmp_path / "data",
        env={"TRACELAKE_QUERY_TIMEOUT_S": "0.5", "TRACELAKE_QUERY_MAX_ROWS": "50"},
    ).start()
    slow = httpx.post(f"{server.url}/api/v1/sql", json={"sql": ENDLESS}, timeout=30)
    assert slow.status_code == 504
    assert "time limit of 0.5 s" in slow.json()["error"]
    wide = httpx.post(
        f"{server.url}/api/v1/sql", json={"sql": "SELECT range FROM range(500)"}, timeout=30
    )
    assert wide.status_code == 200
    assert len(wide.json()["rows"]) == 50 and wide.json()["truncated"] is True
    search = httpx.get(f"{server.url}/api/v1/search", params={"q": "", "limit": "51"})
    assert search.status_code == 400 and "from 1 to 50" in search.json()["error"]
