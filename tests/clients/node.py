"""Running the Node.js clients of ``tests/clients/node`` (``make node-deps`` installs them)
against the real server: a test writes its script inline, this runs it with those
packages on the module path and hands back what it printed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parent / "node"


def require_node() -> str:
    """The ``node`` binary; skips the module when node or the packages are missing."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("these tests drive Node.js clients: install nodejs", allow_module_level=True)
    if not (NODE_DIR / "node_modules").is_dir():
        pytest.skip(
            "the Node.js clients are not installed: run `make node-deps`", allow_module_level=True
        )
    return node


def run_node(
    script: str, env: dict[str, str] | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (CommonJS) in ``tests/clients/node``, so ``require`` finds the packages."""
    done = subprocess.run(
        [require_node(), "-e", script],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, f"node exited with {done.returncode}: {done.stderr[-2000:]}"
    return done


def start_node(script: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``script`` as a long-running Node.js process (a service a test talks to)."""
    return subprocess.Popen(
        [require_node(), "-e", script],
        cwd=NODE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
