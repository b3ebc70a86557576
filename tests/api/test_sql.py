"""``POST /api/v1/sql``: one read-only SELECT over the lake tables, nothing else."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ServerProcess


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
