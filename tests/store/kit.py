"""What the end-to-end storage tests share: a server start that is expected to fail,
reading one of the server's own metrics, and numbered rows in and out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import free_port


def serve_once(data_dir: Path, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run ``tracelake serve`` on free ports where it should refuse to start; its exit."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tracelake",
            "serve",
            "--data-dir",
            str(data_dir),
            "--http-port",
            str(free_port()),
            *("--tcp-port", "0", "--syslog-port", "0", "--forward-port", "0"),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TRACELAKE_WAL_FSYNC": "true"},
    )


def tracelake(*args: str) -> subprocess.CompletedProcess[str]:
    """Run a ``tracelake`` command as a user does."""
    return subprocess.run(
        [sys.executable, "-m", "tracelake", *args], capture_output=True, text=True, timeout=120
    )


def metric(url: str, name: str) -> float:
    """The value of one unlabelled sample of the server's /metrics."""
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not on /metrics")
