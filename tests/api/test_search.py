"""Search over HTTP: the language, time ranges, errors with columns, and live tail."""

from __future__ import annotations

import threading
import time

import httpx
import orjson
import pytest

from tests.conftest import ServerProcess


@pytest.fixture
def loaded(server: ServerProcess) -> ServerProcess:
    lines = [
        {"message": "user login ok", "service": "auth", "level": "info", "latency_ms": 12},
        {
            "message": "payment declined",
            "service": "payments",
            "level": "error",
            "latency_ms": 900,
            "trace_id": "a" * 32,
        },
        {
            "message": "payment accepted",
            "service": "payments",
            "level": "info",
            "latency_ms": 120,
            "http": {"status": 200},
        },
        {
            "message": "timeout calling bank",
            "service": "payments",
            "level": "error",
            "latency_ms": 3000,
        },
    ]
    body = b"\n".join(orjson.dumps(x) for x in lines)
    assert httpx.post(f"{server.url}/api/v1/logs", content=body).json()["accepted"] == 4
    return server


def search(server: ServerProcess, q: str, **params: str) -> dict:
    r = httpx.get(f"{server.url}/api/v1/search", params={"q": q, **params})
    assert r.status_code == 200, r.text
    return r.json()


def test_field_filter_and_words_find_the_right_rows_newest_first(loaded: ServerProcess) -> None:
    rows = search(loaded, 'service:payments AND level:error "declined"')["rows"]
    assert [r["message"] for r in rows] == ["payment declined"]


def test_comparison_on_an_attribute_and_existence(loaded: ServerProcess) -> None:
    rows = search(loaded, "latency_ms:>500")["rows"]
    assert {r["message"] for r in rows} == {"payment declined", "timeout calling bank"}
    assert [r["message"] for r in search(loaded, "trace_id:*")["rows"]] == ["payment declined"]
    assert [r["message"] for r in search(loaded, "http.status:200")["rows"]] == ["payment accepted"]


def test_stats_by_service(loaded: ServerProcess) -> None:
    data = search(loaded, "| stats count() by service")
    assert data["kind"] == "stats"
    assert {r["service"]: r["count()"] for r in data["rows"]} == {"payments": 3, "auth": 1}


def test_time_range_excludes_rows_outside_it(loaded: ServerProcess) -> None:
    assert search(loaded, "", **{"from": "-1h"})["rows"]
    assert (
        search(loaded, "", **{"from": "2020-01-01T00:00:00Z", "to": "2020-01-02T00:00:00Z"})["rows"]
        == []
    )


def test_syntax_error_is_a_400_naming_the_column(loaded: ServerProcess) -> None:
    r = httpx.get(f"{loaded.url}/api/v1/search", params={"q": "service:(payments"})
    assert r.status_code == 400
    assert r.json()["column"] >= 1 and "column" in r.json()["error"]


def test_bad_time_is_a_400_that_says_how_to_write_one(loaded: ServerProcess) -> None:
    r = httpx.get(f"{loaded.url}/api/v1/search", params={"q": "", "from": "last tuesday"})
    assert r.status_code == 400 and "ISO 8601" in r.json()["error"]


@pytest.mark.parametrize(
    "q", ['message:"\'; DROP TABLE logs; --"', "read_csv('/etc/passwd')", 'x") OR 1=1 --']
)
def test_injection_attempts_are_only_ever_values(loaded: ServerProcess, q: str) -> None:
    r = httpx.get(f"{loaded.url}/api/v1/search", params={"q": q})
    assert r.status_code in (200, 400)
    if r.status_code == 200:
        assert r.json()["rows"] == []
    assert len(search(loaded, "")["rows"]) == 4


def test_explain_returns_the_sql_with_values_as_parameters(loaded: ServerProcess) -> None:
    data = search(loaded, "service:payments", explain="1")
    assert "payments" not in data["sql"] and "payments" in data["params"]


def test_live_tail_streams_new_matching_lines(loaded: ServerProcess) -> None:
    got: list[dict] = []
    ready = threading.Event()

    def follow() -> None:
        with httpx.stream(
            "GET", f"{loaded.url}/api/v1/tail", params={"q": "service:tailme"}, timeout=10
        ) as r:
            for line in r.iter_lines():
                ready.set()
                if line.startswith("data: "):
                    got.append(orjson.loads(line[6:]))
                    return

    t = threading.Thread(target=follow, daemon=True)
    t.start()
    assert ready.wait(5)
    sent = time.monotonic()
    httpx.post(
        f"{loaded.url}/api/v1/logs",
        content=b'{"service":"other","message":"no"}\n{"service":"tailme","message":"yes"}',
    )
    t.join(5)
    assert [g["message"] for g in got] == ["yes"]
    assert time.monotonic() - sent < 2


@pytest.mark.parametrize(
    "q",
    [
        "(" * 400 + "timeout" + ")" * 400,
        "NOT " * 400 + "timeout",
        "message:/" + "(" * 3000 + "a/",
        "NOT (" * 200 + "a" + ")" * 200,
    ],
)
def test_a_query_nesting_too_deep_is_a_400_on_search_and_tail(
    loaded: ServerProcess, q: str
) -> None:
    """Hundreds of parentheses or NOTs (a RecursionError, 500, before) are a 400 with one
    line saying how deep a query may nest and the column where it went past, on search and
    on tail alike; the server serves on."""
    for path in ("/api/v1/search", "/api/v1/tail"):
        r = httpx.get(f"{loaded.url}{path}", params={"q": q}, timeout=10)
        assert r.status_code == 400, f"{path}: {r.status_code} {r.text[:200]}"
        body = r.json()
        assert body["error"].startswith("query nests deeper than 100 levels: ")
        assert body["column"] > 100 and "\n" not in body["error"]
    assert len(search(loaded, "")["rows"]) == 4


def test_an_empty_time_range_names_the_parameters(loaded: ServerProcess) -> None:
    """from at or after to is a 400 that names from and to, as the request spelled them."""
    r = httpx.get(f"{loaded.url}/api/v1/search", params={"from": "-1h", "to": "-2h"})
    assert r.status_code == 400
    assert r.json()["error"].startswith("from (") and "must be before to (" in r.json()["error"]
