"""A real Prometheus (Debian's package; scripts/system-deps.sh installs it) for the tests
that compare tracelake with it or let it scrape and remote-write: on a free port, with
its configuration, data and log in a directory of the test's."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port


@contextlib.contextmanager
def real_prometheus(root: Path, config: str, *, receive_writes: bool = False) -> Iterator[str]:
    """Prometheus with ``config`` as its prometheus.yml, ready; its URL. ``receive_writes``
    turns on its remote_write receiver. The log stays in ``root/prometheus.log``."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: run scripts/system-deps.sh")
    root.mkdir(parents=True, exist_ok=True)
    (root / "prometheus.yml").write_text(config)
    port = free_port()
    args = [
        binary,
        f"--config.file={root / 'prometheus.yml'}",
        f"--storage.tsdb.path={root / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    if receive_writes:
        args.append("--web.enable-remote-write-receiver")
    url = f"http://127.0.0.1:{port}"
    with open(root / "prometheus.log", "wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        try:
            ready(url)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def ready(url: str, timeout: float = 60) -> None:
    """Wait until ``url/-/ready`` answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not ready in {timeout} s")
