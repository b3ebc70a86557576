"""Queries cannot reach past the lake: no files, databases, extensions or settings.

The SQL endpoint is the widest door (any SELECT), so each attempt here is shaped as a
SELECT that DuckDB would happily run on an open connection: the sandbox, not the
statement filter, must stop it. The search language compiles to SQL with values bound,
so hostile text in it is only ever a value or a syntax error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
    assert sql(loaded, "SELECT * FROM read_text('/etc/passwd')").status_code == 400
    assert sql(loaded, "SELECT count(*) FROM logs").json()["rows"] == [[1]]


def test_sql_reads_no_directory_but_the_lake_and_learns_no_server_path(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    """DuckDB lets a sandboxed query read its spill directory, by default ``.tmp`` under
    the server's working directory: neither that, the data directory's own spill and WAL
    directories nor any other file is readable over SQL, and no setting, catalog view or
    error tells a user where the server keeps anything."""
    cwd = tmp_path / "cwd"
    (cwd / ".tmp").mkdir(parents=True)
    (cwd / ".tmp" / "s.txt").write_text(SECRET)
    server = server_factory(tmp_path / "data", cwd=cwd).start()
    r = httpx.post(f"{server.url}/api/v1/logs", content=b'{"message":"hello","service":"web"}')
    assert r.json()["accepted"] == 1
    data = server.data_dir.resolve()
    spill = data / "tmp" / "duckdb"
    assert spill.is_dir(), "queries spill inside the data directory"
    (spill / "0" / "s.txt").parent.mkdir(exist_ok=True)
    (spill / "0" / "s.txt").write_text(SECRET)
    places = [".tmp/s.txt", f"{cwd}/.tmp/s.txt", f"{spill}/0/s.txt", f"{data}/wal/*", "/etc/passwd"]
    readers = ["read_text('{}')", "read_csv('{}', header = false)", "read_parquet('{}')"]
    attempts = [f"SELECT * FROM {reader.format(p)}" for p in places for reader in readers]
    attempts += [f"SELECT * FROM glob('{p}')" for p in (".tmp/*", f"{spill}/*", f"{spill}/0/*")]
    attempts += [
        "SELECT * FROM '.tmp/s.txt'",
        "SELECT current_setting('allowed_directories')",
        "SELECT current_setting('temp_directory')",
        "SELECT 'temp_directory'.current_setting()",
        "SELECT * FROM duckdb_settings()",
        "SELECT * FROM duckdb_temporary_files()",
        "SELECT * FROM duckdb_extensions()",
        "SELECT sql FROM duckdb_views()",
        "SELECT sql FROM duckdb_views",
        "SELECT view_definition FROM information_schema.views",
        "SELECT * FROM pg_views",
        "SELECT * FROM query('SELECT * FROM read_text(''.tmp/s.txt'')')",
        "WITH t AS (SELECT * FROM read_text('.tmp/s.txt')) SELECT * FROM t",
    ]
    for statement in attempts:
        r = sql(server, statement)
        assert r.status_code == 400, (statement, r.status_code, r.text)
        error = r.json()["error"]
        assert "\n" not in error and ("not available" in error or "unknown table" in error)
        assert SECRET not in r.text and "root:" not in r.text, statement
        assert str(data) not in r.text and str(cwd) not in r.text, (statement, r.text)
    # What stays open: the lake's tables, DuckDB's schema views without definitions.
    assert sql(server, "SELECT count(*) FROM main.logs").json()["rows"] == [[1]]
    columns = sql(server, "SELECT column_name FROM information_schema.columns LIMIT 1")
    assert columns.status_code == 200


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
