"""rsyslog ships to tracelake unmodified: ``omfwd`` (syslog over TCP and UDP to the syslog
port) and ``omelasticsearch`` (``_bulk`` under ``/es``), from a foreground rsyslogd of the
test's own (config, pid file and work directory in ``tmp_path``, free ports only)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerProcess, free_port

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
if not Path(RSYSLOGD).exists():
    pytest.skip("these tests drive rsyslog: run scripts/system-deps.sh", allow_module_level=True)

#: The shape rsyslog's documentation suggests for Elasticsearch: one JSON object per message.
ES_TEMPLATE = """
template(name="esdoc" type="list" option.jsonf="on") {
  property(outname="@timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="host" name="hostname" format="jsonf")
  property(outname="severity" name="syslogseverity-text" format="jsonf")
  property(outname="service" name="programname" format="jsonf")
  property(outname="message" name="msg" format="jsonf")
}
"""


def _rsyslogd(tmp_path: Path, actions: str) -> Iterator[int]:
    """A foreground rsyslogd taking syslog on a free TCP port (yielded) and running
    ``actions``; stopped with SIGTERM, which flushes its queues."""
    work = tmp_path / "rsyslog-work"
    work.mkdir()
    port = free_port()
    conf = tmp_path / "rsyslog.conf"
    conf.write_text(
        f'global(workDirectory="{work}")\n'
        'module(load="imtcp")\nmodule(load="omelasticsearch")\n'
        f'input(type="imtcp" port="{port}" address="127.0.0.1")\n{ES_TEMPLATE}{actions}\n'
    )
    with open(tmp_path / "rsyslogd.log", "wb") as out:
        proc = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", str(conf), "-i", str(tmp_path / "rsyslogd.pid")],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield port
        finally:
            proc.terminate()
            proc.wait(15)


def _send(port: int, lines: list[str]) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            conn = socket.create_connection(("127.0.0.1", port), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    with conn:
        conn.sendall("".join(f"{line}\n" for line in lines).encode())


def _rows(server: ServerProcess, q: str, want: int) -> list[dict]:
    deadline = time.monotonic() + 20
    while True:
        answer = httpx.get(f"{server.url}/api/v1/search", params={"q": q, "limit": "100"})
        rows = list(answer.json()["rows"])
        if len(rows) >= want or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def _lines(word: str) -> list[str]:
    stamp = time.strftime("%b %e %H:%M:%S", time.gmtime())
    return [
        f"<164>{stamp} web01 app {word} tag without colon",
        f"<11>{stamp} web01 billing[7]: {word} it broke",
    ]


@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_omfwd_syslog_arrives_with_app_host_and_level(
    server: ServerProcess, tmp_path: Path, protocol: str
) -> None:
    """rsyslog forwards RFC 3164; a tag without a colon is still the app."""
    port = server.listener(f"syslog/{protocol}")
    action = f'action(type="omfwd" target="127.0.0.1" port="{port}" protocol="{protocol}")'
    for rsyslog_port in _rsyslogd(tmp_path, action):
        _send(rsyslog_port, _lines(f"omfwd-{protocol}"))
        rows = _rows(server, f'"omfwd-{protocol}"', 2)
    got = sorted((r["service"], r["host"], r["level"], r["message"]) for r in rows)
    assert got == [
        ("app", "web01", "WARN", f"omfwd-{protocol} tag without colon"),
        ("billing", "web01", "ERROR", f"omfwd-{protocol} it broke"),
    ]


def test_omelasticsearch_bulk_ships_without_errors(server: ServerProcess, tmp_path: Path) -> None:
    """omelasticsearch checks ``_cat/health``, then posts ``_bulk``: every line stored, no
    error file written."""
    errors = tmp_path / "es-errors.json"
    action = (
        f'action(type="omelasticsearch" server="{server.url}/es" searchIndex="rsyslog" '
        f'bulkmode="on" template="esdoc" errorfile="{errors}")'
    )
    for rsyslog_port in _rsyslogd(tmp_path, action):
        _send(rsyslog_port, _lines("omes"))
        rows = _rows(server, '"omes"', 2)
    got = sorted((r["service"], r["host"], r["level"], r["message"].strip()) for r in rows)
    assert got == [
        ("app", "web01", "WARN", "omes tag without colon"),
        ("billing", "web01", "ERROR", "omes it broke"),
    ]
    assert not errors.exists()
