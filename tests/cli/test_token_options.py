"""``--token`` / ``TRACELAKE_TOKEN``: the CLI talks to a server that has tokens configured."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.test_cli import tl
from tests.conftest import ServerProcess
from tests.security.kit import INGEST, READ, secured


def test_send_and_sql_pass_their_token_and_fail_in_one_line_without_it(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    server = secured(server_factory, tmp_path / "data")
    lines = tmp_path / "app.ndjson"
    lines.write_text('{"message":"with a token","service":"cli"}\n')

    refused = tl("send", str(lines), "--url", server.url)
    assert refused.returncode != 0
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr

    sent = tl("send", str(lines), "--url", server.url, "--token", INGEST)
    assert sent.returncode == 0, sent.stderr

    sql = "SELECT message FROM logs WHERE service = 'cli'"
    assert tl("sql", sql, "--url", server.url, "--token", INGEST).returncode != 0  # write-only
    env = {**os.environ, "TRACELAKE_TOKEN": READ}
    found = subprocess.run(
        [sys.executable, "-m", "tracelake", "sql", sql, "--url", server.url, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert found.returncode == 0, found.stderr
    assert "with a token" in found.stdout


def test_the_agent_ships_with_its_token(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    server = secured(server_factory, tmp_path / "data")
    log = tmp_path / "app.log"
    log.write_text('{"message":"shipped with a token","service":"agent"}\n')
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tracelake",
            "ship",
            str(log),
            "--url",
            server.url,
            "--token",
            INGEST,
            "--state-dir",
            str(tmp_path / "state"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        count = ""
        while time.monotonic() < deadline and count != '{"n":1}':
            time.sleep(0.3)
            found = tl(
                "sql", "SELECT count(*) AS n FROM logs WHERE service = 'agent'",
                "--url", server.url, "--token", READ, "--format", "json",
            )  # fmt: skip
            count = found.stdout.strip()
        assert count == '{"n":1}', agent.stdout and agent.stdout.read1().decode()
    finally:
        agent.terminate()
        agent.wait(20)
