"""Query cost limits of the DuckDB engine — time, rows, answer bytes, memory, concurrency —
each one on the engine and the ones a client sees over HTTP on the real server."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pyarrow as pa
import pytest

from tests.conftest import ServerProcess
from tracelake.errors import Overloaded, PayloadTooLarge, QueryError, QueryTimeout
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


#: A gigabyte of answer in 10 kB rows: DuckDB streams it, so only the server can bound it.
GIGABYTE = "SELECT repeat('x', 10000) || range AS s FROM range(100000)"


def rss_mb(server: ServerProcess) -> int:
    assert server.proc is not None
    status = Path(f"/proc/{server.proc.pid}/status").read_text()
    return (
        int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])
        // 1024
    )


def test_an_answer_past_its_byte_budget_is_a_413_found_while_fetching(tmp_path: Path) -> None:
    """The budget is checked on the rows as they are fetched, and answers within it come
    back exactly as without one."""
    eng = engine(tmp_path)
    with pytest.raises(PayloadTooLarge, match=r"query_max_answer_bytes \(1000000 bytes\)") as e:
        eng.run(GIGABYTE, [], NO_SOURCES, timeout_s=30, max_rows=100_000, max_bytes=1_000_000)
    assert e.value.status == 413 and "\n" not in e.value.message
    small = "SELECT range, 'v' || range AS s, [range, 2] AS l, {'a': range} AS m FROM range(3000)"
    bounded = eng.run(small, [], NO_SOURCES, timeout_s=30, max_rows=2500, max_bytes=10**7)
    unbounded = eng.run(small, [], NO_SOURCES, timeout_s=30, max_rows=2500)
    assert bounded.rows == unbounded.rows and len(bounded.rows) == 2500 and bounded.truncated


def test_over_http_a_huge_answer_is_a_413_in_bounded_memory_and_ready_answers_meanwhile(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    """A gigabyte asked for is refused with a one-line 413 once the answer passes
    query_max_answer_bytes, without the server's memory growing by the gigabyte; three
    100 MB-per-row queries at once are refused within the time limit while ``/-/ready``
    keeps answering (the fetching and encoding are off the event loop)."""
    server = server_factory(tmp_path / "data", env={"TRACELAKE_QUERY_MAX_ROWS": "100000"}).start()
    sql = f"{server.url}/api/v1/sql"
    httpx.post(sql, json={"sql": "SELECT 1"})
    base, peak = rss_mb(server), 0
    answers: list[httpx.Response] = []
    worker = threading.Thread(
        target=lambda: answers.append(httpx.post(sql, json={"sql": GIGABYTE}, timeout=60))
    )
    worker.start()
    while worker.is_alive():
        peak = max(peak, rss_mb(server))
        time.sleep(0.02)
    assert answers[0].status_code == 413, answers[0].text[:200]
    assert "query_max_answer_bytes" in answers[0].json()["error"]
    assert peak - base < 400, f"RSS grew from {base} MB to {peak} MB"

    huge = "SELECT repeat('x', 100000000) FROM range(10)"
    timed: list[tuple[int, float]] = []

    def ask() -> None:
        started = time.monotonic()
        r = httpx.post(sql, json={"sql": huge}, timeout=120)
        timed.append((r.status_code, time.monotonic() - started))

    workers = [threading.Thread(target=ask) for _ in range(3)]
    for w in workers:
        w.start()
    while any(w.is_alive() for w in workers):
        # within an orchestrator's usual probe timeout, however busy the machine
        assert httpx.get(f"{server.url}/-/ready", timeout=10).status_code == 200
        time.sleep(0.05)
    assert [status for status, _ in timed] == [413, 413, 413]
    assert max(took for _, took in timed) < 30, timed


def test_over_http_rows_still_coming_past_the_time_limit_are_a_504_near_it(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    """The time limit covers fetching and encoding the answer, not only DuckDB's part: an
    answer that takes seconds to turn into JSON is a 504 soon after the limit."""
    server = server_factory(
        tmp_path / "data",
        env={"TRACELAKE_QUERY_TIMEOUT_S": "1", "TRACELAKE_QUERY_MAX_ANSWER_BYTES": str(2**31)},
    ).start()
    slow = "SELECT repeat('x', 50000000) || range AS s FROM range(12)"
    started = time.monotonic()
    r = httpx.post(f"{server.url}/api/v1/sql", json={"sql": slow}, timeout=120)
    took = time.monotonic() - started
    assert r.status_code == 504, (r.status_code, r.text[:200])
    assert "time limit of 1 s" in r.json()["error"]
    assert took < 10, f"answered after {took:.1f} s"  # generous: the machine may be busy
