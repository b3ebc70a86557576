"""``tracelake demo`` as a user runs it: a real process with its server, four service
processes, traffic and a compressed fault schedule, checked through the server's APIs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port, holding_default_ports

pytestmark = pytest.mark.e2e

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


@pytest.fixture
def start_demo(tmp_path: Path) -> Iterator[Callable[..., Demo]]:
    started: list[Demo] = []

    def start(*args: str, own_port: bool = True) -> Demo:
        demo = Demo(tmp_path / "data", *args, own_port=own_port)
        started.append(demo)
        demo.wait_for_line(READY_LINE, timeout=60)
        return demo

    yield start
    for demo in started:  # a failed test still leaves nothing running
        pids = demo.service_pids()
        if demo.proc.poll() is None:
            demo.proc.kill()
            demo.proc.wait()
        for pid in pids.values():
            if is_running(pid):
                os.kill(pid, signal.SIGKILL)


def test_demo_fills_logs_traces_circuits_registry_events_and_alerts_then_exits_cleanly(
    start_demo: Callable[..., Demo],
) -> None:
    # At --speed 4: payments degrades at 5 s and recovers at 20 s; the run stops at 32 s.
    # An alert may fire only after the recovery, or resolve before it is looked at: each
    # is checked in the history for having fired, not for firing now. The breaker rule
    # is only checked to run: at this speed the circuit seldom stays open its 10 s.
    demo = start_demo("--duration", "32", "--speed", "4", "--rate", "8")
    pids = demo.service_pids()
    assert sorted(pids) == sorted(SERVICES), demo.output

    for service in SERVICES:
        eventually(lambda s=service: demo.search(f"service:{s}"), f"logs of {service}", demo, 15)
    registered = eventually(
        lambda: demo.registered() >= set(SERVICES), "all four services registered", demo, 15
    )
    assert registered
    errors = eventually(
        lambda: demo.search("service:payments level:error"), "payments errors", demo, 25
    )
    assert errors[0]["message"] == "charge failed: card processor timed out"
    assert errors[0]["attributes"]["order_id"].startswith("ord-")
    assert errors[0]["trace_id"]
    eventually(
        lambda: demo.search("service:orders circuit:payments circuit.state:OPEN"),
        "payments circuit opening in orders",
        demo,
        20,
    )
    eventually(
        lambda: demo.search('service:orders message:"order placed with a fallback"'),
        "orders answering with its fallback",
        demo,
        10,
    )

    response = httpx.get(f"{demo.url}/api/v2/services", timeout=10)
    if response.status_code == 404:
        warnings.warn("no /api/v2/services on this server: spans not checked", stacklevel=1)
    else:
        traced = eventually(
            lambda: set(SERVICES) <= set(httpx.get(f"{demo.url}/api/v2/services").json()),
            "spans of all four services",
            demo,
            10,
        )
        assert traced

    eventually(
        lambda: demo.search("service:orders circuit:payments circuit.state:CLOSED"),
        "payments circuit closing after recovery",
        demo,
        20,
    )
    eventually(
        lambda: "firing" in demo.alert_changes("PaymentsFailing"),
        "the PaymentsFailing alert (log rule) firing",
        demo,
        30,
    )
    eventually(
        lambda: "firing" in demo.alert_changes("PaymentsChargeErrors"),
        "the PaymentsChargeErrors alert (PromQL rule on the scraped counter) firing",
        demo,
        30,
    )
    eventually(
        lambda: demo.search("event:circuit_open breaker:payments service:orders"),
        "the payments circuit opening recorded in the lake, with nobody watching",
        demo,
        10,
    )
    assert demo.rule_health() == {
        "PaymentsFailing": ("log", "ok"),
        "PaymentsChargeErrors": ("promql", "ok"),
        "PaymentsCircuitOpen": ("breaker", "ok"),
    }
    orders = demo.sql("SELECT count(*) FROM events WHERE type = 'order_placed'")
    assert orders[0][0] > 0
    assert demo.wait_exit(timeout=40) == 0, demo.output[-3000:]
    assert_all_gone(pids)
    out = demo.output
    assert "payments degraded" in out and "payments recovered" in out
    assert "--duration 32 s reached: stopping" in out
    assert "demo stopped after" in out


def test_sigint_stops_services_then_server_with_exit_0_and_fault_endpoint_works(
    start_demo: Callable[..., Demo],
) -> None:
    """Also: with every standard port held by something else, the demo starts on free
    ports (``make run`` passes no flags), says so and prints where everything went."""
    with holding_default_ports():
        demo = start_demo("--no-traffic", own_port=False)
    assert "port 7700 is in use: the demo takes a free port instead" in demo.output
    (ready,) = [line for line in demo.lines if "tracelake demo ready: UI" in line]
    assert "http://127.0.0.1:" in ready and ":7700/" not in ready
    (streams,) = [line for line in demo.lines if "log streams:" in line]
    for name in ("jsonlines/tcp", "syslog/udp", "forward/tcp"):
        assert name in streams
    for port in (":4560", ":5514", ":24224"):
        assert f"{port}," not in f"{streams},"
    pids = demo.service_pids()
    payments = next(line.split()[1] for line in demo.lines if line.split()[:1] == ["payments"])

    assert httpx.get(f"{payments}/fault").json() == {"error_rate": 0.0, "latency_ms": 0.0}
    bad = httpx.post(f"{payments}/fault", json={"error_rate": 2})
    assert bad.status_code == 400 and "error_rate" in bad.json()["error"]
    assert httpx.post(f"{payments}/fault", json={"error_rate": 1}).status_code == 200
    gateway = next(line.split()[1] for line in demo.lines if line.split()[:1] == ["gateway"])
    order = httpx.post(f"{gateway}/orders", json={"sku": "SKU-MUG", "qty": 2}, timeout=10)
    assert order.status_code == 201
    assert order.json()["payment"] == "pending" and order.json()["degraded"] is True
    assert httpx.get(f"{gateway}/orders/{order.json()['order_id']}").json()["amount"] == 16.0
    assert httpx.get(f"{gateway}/orders/ord-nope").status_code == 404
    assert "hystrix.stream" in demo.output

    demo.proc.send_signal(signal.SIGINT)
    assert demo.wait_exit(timeout=30) == 0, demo.output[-3000:]
    assert_all_gone(pids)
    assert "SIGINT: stopping traffic, services, server" in demo.output
