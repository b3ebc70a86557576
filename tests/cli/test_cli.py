"""The ``tracelake`` command against a real server: send, query, sql, tail, and its errors."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

from tests.conftest import ServerProcess


def tl(
    *args: str, input: bytes | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracelake", *args],
        input=input.decode() if input else None,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_send_ships_ndjson_and_plain_text_files_and_query_finds_them(
    server: ServerProcess, tmp_path: Path
) -> None:
    ndjson = tmp_path / "app.ndjson"
    ndjson.write_text(
        '{"message":"from json","service":"cli"}\n{"message":"second","service":"cli"}\n'
    )
    plain = tmp_path / "app.log"
    plain.write_text("plain text line one\nplain text line two\n")
    out = tl("send", str(ndjson), str(plain), "--url", server.url)
    assert out.returncode == 0, out.stderr
    assert "sent 4 lines, 0 rejected" in out.stderr

    rows = [
        orjson.loads(x)
        for x in tl("query", "plain", "--format", "json", "--url", server.url).stdout.splitlines()
    ]
    assert sorted(r["message"] for r in rows) == ["plain text line one", "plain text line two"]
    assert rows[0]["attributes"]["source"] == str(plain)

    csv_out = tl(
        "query", "service:cli | stats count() by service", "--format", "csv", "--url", server.url
    ).stdout
    assert csv_out.splitlines() == ["service,count()", "cli,2"]

    table = tl("query", "from json", "--url", server.url).stdout
    assert "from json" in table


def test_send_reads_stdin(server: ServerProcess) -> None:
    out = tl("send", "-", "--url", server.url, input=b'{"message":"piped"}\n')
    assert out.returncode == 0 and "sent 1 lines" in out.stderr


def test_sql_prints_a_table_and_refuses_writes_in_one_line(server: ServerProcess) -> None:
    tl("send", "-", "--url", server.url, input=b'{"message":"x"}\n')
    assert "count_star()" in tl("sql", "SELECT count(*) FROM logs", "--url", server.url).stdout
    bad = tl("sql", "DROP TABLE logs", "--url", server.url)
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1 and "only SELECT" in bad.stderr


def test_sql_as_of_reads_the_lake_as_it_was_and_refuses_a_bad_point(
    server: ServerProcess,
) -> None:
    """``--as-of`` takes a table version (digits) or an RFC 3339 time; version 0 is the
    empty table, now is every committed row, and anything else is one line saying what
    is accepted."""
    tl("send", "-", "--url", server.url, input=b'{"message":"x"}\n')
    httpx.post(f"{server.url}/api/v1/lake/compact").raise_for_status()  # commits the row
    count = ["sql", "SELECT count(*) AS n FROM logs", "--format", "csv", "--url", server.url]
    assert tl(*count, "--as-of", "0").stdout.splitlines() == ["n", "0"]
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    assert tl(*count, "--as-of", now).stdout.splitlines() == ["n", "1"]
    bad = tl(*count, "--as-of", "yesterday")
    assert bad.returncode == 1
    assert bad.stderr.count("\n") == 1 and "RFC 3339" in bad.stderr


def test_explain_shows_sql_with_parameters_without_a_server() -> None:
    out = tl("query", "--explain", "service:orders latency_ms:>500")
    assert out.returncode == 0
    assert "FROM logs" in out.stdout and "'orders'" in out.stdout.splitlines()[-1]


def test_a_syntax_error_says_where_and_exits_non_zero(server: ServerProcess) -> None:
    out = tl("query", "service:(orders", "--url", server.url)
    assert out.returncode == 1 and "column" in out.stderr


def test_unreachable_server_is_one_line_with_what_to_do() -> None:
    out = tl("query", "x", "--url", "http://127.0.0.1:9")
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1 and "tracelake serve" in out.stderr


def test_tail_prints_new_matching_lines_whole_to_a_pipe(server: ServerProcess) -> None:
    """Piped, a 300-character message is one line, never wrapped at 80 columns."""
    long = "fresh line " + "x" * 300
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracelake", "tail", "service:live", "--url", server.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(2)  # the tail connects
        line = orjson.dumps({"service": "live", "message": long}) + b"\n"
        tl("send", "-", "--url", server.url, input=line)
        time.sleep(1.5)
    finally:
        proc.terminate()
        stdout, _ = proc.communicate(timeout=10)
    (printed,) = [x for x in stdout.splitlines() if "fresh line" in x]
    assert printed.endswith(long) and " live " in printed


def test_missing_file_is_a_clear_error() -> None:
    out = tl("send", "/nonexistent/file.log")
    assert out.returncode == 1 and "no such file" in out.stderr


def test_a_url_without_a_scheme_is_taken_as_http(server: ServerProcess) -> None:
    tl("send", "-", "--url", server.url, input=b'{"message":"bare url"}\n')
    bare = server.url.removeprefix("http://")
    out = tl("query", "bare url", "--format", "json", "--url", bare)
    assert out.returncode == 0, out.stderr
    assert orjson.loads(out.stdout.splitlines()[0])["message"] == "bare url"


def test_a_query_without_rows_says_so_instead_of_an_empty_frame(server: ServerProcess) -> None:
    out = tl("query", "nothing-like-this", "--since", "15m", "--url", server.url)
    assert out.returncode == 0 and out.stdout == ""
    assert (
        out.stderr
        == "no logs matched 'nothing-like-this' in the last 15m: widen --since or loosen the query\n"
    )


def test_tail_to_a_dead_server_says_it_cannot_reach_it() -> None:
    out = tl("tail", "--url", "http://127.0.0.1:9")
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert "cannot reach tracelake" in out.stderr and "lost" not in out.stderr


def test_send_checks_its_files_and_the_server_before_sending(tmp_path: Path) -> None:
    """A directory is named as one, and a dead server is said before any progress bar."""
    directory = tl("send", str(tmp_path))
    assert directory.returncode == 1 and "is a directory" in directory.stderr
    log = tmp_path / "app.log"
    log.write_text("a line\n")
    dead = tl("send", str(log), "--url", "http://127.0.0.1:9")
    assert dead.returncode == 1
    assert dead.stderr.count("\n") == 1 and "cannot reach tracelake" in dead.stderr
    assert dead.stdout == ""
