"""Queries cannot reach past the lake: no files, databases, extensions or settings.

The SQL endpoint is the widest door (any SELECT), so each attempt here is shaped as a
SELECT that DuckDB would happily run on an open connection: the sandbox, not the
statement filter, must stop it. The search language compiles to SQL with values bound,
so hostile text in it is only ever a value or a syntax error.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ServerProcess

SECRET = "do-not-read-me-7f3a"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("injection")
    server = ServerProcess(root / "data").start()
    (root / "data" / "secret.txt").write_text(SECRET)
    r = httpx.post(f"{server.url}/api/v1/logs", content=b'{"message":"hello","service":"web"}')
    assert r.json()["accepted"] == 1
    yield server
    server.stop()


def sql(server: ServerProcess, statement: str) -> httpx.Response:
    return httpx.post(f"{server.url}/api/v1/sql", json={"sql": statement})


def attempts(data: str) -> list[str]:
    lake = f"{data}/lake"
    return [
        # files outside the lake, directly or through its own directory
        "SELECT * FROM read_text('/etc/passwd')",
        f"SELECT * FROM read_text('{data}/secret.txt')",
        f"SELECT * FROM read_blob('{lake}/../secret.txt')",
        f"SELECT * FROM read_csv('{lake}/../secret.txt', header = false)",
        f"SELECT * FROM read_json_auto('{lake}/../wal/*')",
        f"SELECT * FROM glob('{lake}/../*')",
        "SELECT * FROM glob('/*')",
        "SELECT * FROM read_parquet('/proc/self/environ')",
        "SELECT * FROM sniff_csv('/etc/passwd')",
        "SELECT * FROM 'https://example.com/data.csv'",
        # databases, extensions and settings, smuggled inside a SELECT
        f"SELECT * FROM query('ATTACH ''{data}/other.db'' AS other')",
        "SELECT * FROM query('SET enable_external_access = true')",
        "SELECT * FROM query('INSTALL httpfs')",
        "SELECT * FROM query('LOAD httpfs')",
        "SELECT * FROM query('PRAGMA enable_external_access')",
        "SELECT * FROM duckdb_secrets()",
        "SELECT getenv('HOME')",
        # and the statements themselves
        f"ATTACH '{data}/other.db' AS other",
        "LOAD httpfs",
        "SET allowed_directories = ['/']",
        "RESET lock_configuration",
        f"COPY (SELECT 1) TO '{data}/out.csv'",
        f"EXPORT DATABASE '{data}/dump'",
    ]


def test_sql_cannot_read_files_attach_load_or_change_settings(loaded: ServerProcess) -> None:
    data = str(loaded.data_dir.resolve())
    for statement in attempts(data):
        r = sql(loaded, statement)
        assert r.status_code == 400, (statement, r.status_code, r.text)
        assert SECRET not in r.text and "root:" not in r.text
        assert r.json()["error"] and "\n" not in r.json()["error"], statement
    assert not (loaded.data_dir / "out.csv").exists() and not (loaded.data_dir / "dump").exists()
    assert not (loaded.data_dir / "other.db").exists()


def test_the_sandbox_is_still_locked_after_the_attempts(loaded: ServerProcess) -> None:
    r = sql(loaded, "SELECT current_setting('enable_external_access') AS external")
    assert r.json()["rows"] == [[False]]
    assert sql(loaded, "SELECT count(*) FROM logs").json()["rows"] == [[1]]


@pytest.mark.parametrize(
    "q",
    [
        "message:\"x') UNION SELECT content FROM read_text('/etc/passwd') --\"",
        "service:web) OR (1=1",
        "attributes.a'b:1",
        "`; ATTACH 'x.db'; --",
        "stats count() by service; LOAD httpfs",
        "message:*' || getenv('HOME') || '*",
        'service:"web" | stats count() by read_text',
    ],
)
def test_search_language_text_is_only_ever_a_value(loaded: ServerProcess, q: str) -> None:
    r = httpx.get(f"{loaded.url}/api/v1/search", params={"q": q, "from": "-1h"})
    assert r.status_code in (200, 400), r.text
    assert "root:" not in r.text and SECRET not in r.text
    if r.status_code == 200:
        assert all(row.get("service") in (None, "web") for row in r.json()["rows"])
    else:
        assert "\n" not in r.json()["error"]
