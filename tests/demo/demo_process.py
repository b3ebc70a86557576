"""``tracelake demo`` as a child process whose console is read line by line, and what
the tests ask of it: the demo tests and the browser tests on the demo's data share it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port

SERVICES = ("gateway", "orders", "payments", "inventory")
READY_LINE = "Ctrl-C stops everything."


class Demo:
    """A ``python -m tracelake demo`` child whose console is read line by line."""

    def __init__(self, data_dir: Path, *args: str, own_port: bool = True) -> None:
        """``own_port``: pass a free ``--http-port``; else the demo chooses (see ``url``)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        port_flag = ["--http-port", str(self.port)] if own_port else []
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("TRACELAKE_TCP_PORT", "TRACELAKE_SYSLOG_PORT", "TRACELAKE_FORWARD_PORT")
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tracelake", "demo", "--data-dir", str(data_dir),
             *port_flag, *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no line with {text!r}; output:\n{self.output[-3000:]}")
            time.sleep(0.1)

    def service_pids(self) -> dict[str, int]:
        pids = {}
        for line in self.lines:
            name = line.split()[0] if line.strip() else ""
            if name in SERVICES and "(pid " in line:
                pids[name] = int(line.split("(pid ")[1].split(")")[0])
        return pids

    def search(self, query: str) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.url}/api/v1/search", params={"q": query, "limit": 5}, timeout=10
        )
        response.raise_for_status()
        rows: list[dict[str, Any]] = response.json()["rows"]
        return rows

    def registered(self) -> set[str]:
        """Services with an instance up in the server's registry."""
        answer = httpx.get(f"{self.url}/api/v1/registry/services", timeout=10)
        answer.raise_for_status()
        return {s["name"] for s in answer.json()["services"] if s["up"]}

    def alert_changes(self, alert: str) -> list[str]:
        """The states an alert moved to, newest first."""
        answer = httpx.get(f"{self.url}/api/v1/alerts/history", timeout=10)
        answer.raise_for_status()
        return [e["to"] for e in answer.json()["data"]["events"] if e["alert"] == alert]

    def rule_health(self) -> dict[str, tuple[str, str]]:
        """Each loaded rule's kind and the health of its last evaluation."""
        answer = httpx.get(f"{self.url}/api/v1/rules", timeout=10)
        answer.raise_for_status()
        return {
            r["name"]: (r["kind"], r["health"])
            for g in answer.json()["data"]["groups"]
            for r in g["rules"]
        }

    def sql(self, text: str) -> list[list[Any]]:
        answer = httpx.post(f"{self.url}/api/v1/sql", json={"sql": text}, timeout=10)
        answer.raise_for_status()
        rows: list[list[Any]] = answer.json()["rows"]
        return rows

    def kill(self) -> None:
        """The demo and every service it started, even after a failed test."""
        pids = self.service_pids()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in pids.values():
            if is_running(pid):
                os.kill(pid, signal.SIGKILL)

    def wait_exit(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code


def is_running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped by whoever adopted it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def assert_all_gone(pids: dict[str, int], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while any(is_running(pid) for pid in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = {name: pid for name, pid in pids.items() if is_running(pid)}
    assert not left, f"services still running after the demo exited: {left}"


def eventually(check: Callable[[], Any], what: str, demo: Demo, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline or demo.proc.poll() is not None:
            raise AssertionError(f"{what}: not seen in time; output:\n{demo.output[-3000:]}")
        time.sleep(0.5)
