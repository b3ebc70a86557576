"""End to end: a configured pipeline on the real server, over HTTP and a stream input.

Proves what the pipeline promises users: secrets never reach the disk (the WAL and the
Parquet files are grepped after a clean stop), parsed fields are searchable, drop rules
drop without errors, and JSON messages are merged.
"""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyarrow.parquet as pq

from tests.conftest import ServerProcess

PASSWORD = "hunter2-Zq8x"
CARD = "4111 1111 1111 1111"
CARD_DIGITS = CARD.replace(" ", "")
STREAM_PASSWORD = "tcp-Pw-77Yx"

CONFIG = """
[pipeline]
json_message = true

[[pipeline.parse]]
query = "service:nginx"
format = "nginx"

[[pipeline.drop]]
query = "level:debug service:chatty"

[pipeline.enrich]
fields = { env = "e2e" }

[pipeline.redact]
patterns = ["card", "key_value"]
"""


def search(server: ServerProcess, q: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{server.url}/api/v1/search", params={"q": q, "limit": "100"})
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()["rows"]
    return rows


def wait_for(server: ServerProcess, q: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = search(server, q)
        if rows:
            return rows
        time.sleep(0.1)
    raise AssertionError(f"nothing found for {q!r}: {server.output()}")


def files_of(data_dir: Path) -> list[Path]:
    return [p for p in data_dir.rglob("*") if p.is_file()]


def test_a_configured_pipeline_runs_on_every_input_and_secrets_never_reach_disk(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    config = tmp_path / "tracelake.toml"
    config.write_text(CONFIG)
    data_dir = tmp_path / "data"
    server = server_factory(data_dir, extra_args=["--config", str(config)]).start()

    now = datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    records = [
        {
            "service": "nginx",
            "message": f'203.0.113.9 - - [{now}] "GET /missing HTTP/1.1" 404 153 "-" "curl/8"',
        },
        {"service": "auth", "message": "login", "user": {"name": "bob", "password": PASSWORD}},
        {"service": "pay", "message": f"charged card {CARD} for login password={PASSWORD}"},
        {"service": "chatty", "level": "debug", "message": "heartbeat dropped"},
        {"service": "api", "message": '{"level": "warn", "msg": "merged json", "ms": 912}'},
    ]
    body = b"\n".join(orjson.dumps(r) for r in records)
    r = httpx.post(f"{server.url}/api/v1/logs", content=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 5, "rejected": 0, "errors": [], "dropped": 1}

    with socket.create_connection(("127.0.0.1", server.listener("jsonlines/tcp"))) as s:
        s.sendall(
            orjson.dumps({"service": "stream", "message": "over tcp", "Api-Token": STREAM_PASSWORD})
            + b"\n"
        )
        s.sendall(
            orjson.dumps(
                {"service": "chatty", "level": "DEBUG", "message": "stream heartbeat dropped"}
            )
            + b"\n"
        )

    nginx = wait_for(server, "status:404")
    assert len(nginx) == 1 and nginx[0]["service"] == "nginx"
    assert nginx[0]["attributes"]["path"] == "/missing"
    assert nginx[0]["attributes"]["env"] == "e2e"

    merged = wait_for(server, "ms:912")[0]
    assert merged["level"] == "WARN" and merged["message"] == "merged json"

    auth = wait_for(server, "service:auth")[0]
    assert auth["attributes"]["user"] == {"name": "bob", "password": "[REDACTED]"}
    pay = wait_for(server, "service:pay")[0]
    assert pay["message"] == "charged card [REDACTED] for login password=[REDACTED]"
    stream = wait_for(server, "service:stream")[0]
    assert stream["attributes"]["Api-Token"] == "[REDACTED]"

    assert search(server, "dropped") == []
    assert search(server, "service:chatty") == []
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'tracelake_ingest_records_total{input="http",outcome="dropped"} 1.0' in metrics
    assert 'tracelake_ingest_records_total{input="jsonlines/tcp",outcome="dropped"} 1.0' in metrics

    assert server.stop() == 0
    secrets = (PASSWORD, CARD, CARD_DIGITS, STREAM_PASSWORD)
    files = files_of(data_dir)
    for path in files:  # every byte on disk: WAL, segments, manifest, state
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"{secret!r} found in {path.name}"
    # Segments are zstd-compressed, so grep their decoded rows as well.
    segments = [p for p in files if p.suffix == ".parquet"]
    assert segments, [str(p) for p in files]
    text = "\n".join(str(pq.read_table(p).to_pylist()) for p in segments)
    assert "charged card [REDACTED] for login password=[REDACTED]" in text
    for secret in secrets:
        assert secret not in text
