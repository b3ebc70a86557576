"""An unprotected server stays on loopback; a protected one may listen anywhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerProcess, free_port
from tests.security.kit import READ, bearer, secured
from tracelake.errors import ConfigError
from tracelake.security.exposure import check_exposure, is_loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_addresses(host: str) -> None:
    assert is_loopback(host)
    check_exposure(host, has_tokens=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "logs.example.com"])
def test_anything_else_needs_tokens(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(ConfigError, match="without tokens"):
        check_exposure(host, has_tokens=False)
    check_exposure(host, has_tokens=True)


def test_serve_refuses_a_public_host_without_tokens_in_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "tracelake", "serve", "--data-dir", str(tmp_path / "d")),
            *("--host", "0.0.0.0", "--http-port", str(free_port())),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to listen on 0.0.0.0 without tokens" in lines[0]
    assert "docs/security.md" in lines[0]
    assert not (tmp_path / "d").exists()  # refused before anything was created


def test_serve_says_at_start_that_it_has_no_tokens(server: ServerProcess) -> None:
    assert "no tokens configured: listening on loopback only" in server.output()


def test_with_tokens_serve_listens_on_every_address(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    server = secured(server_factory, tmp_path / "data", "--host", "0.0.0.0")
    assert "no tokens configured" not in server.output()
    r = httpx.get(f"{server.url}/api/v1/search", headers=bearer(READ))
    assert r.status_code == 200
    assert server.listener("jsonlines/tcp") > 0
