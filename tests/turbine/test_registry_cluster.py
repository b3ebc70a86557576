"""A registered service is a turbine cluster: its instances are aggregated, and the stream
follows the registry as instances join and leave (real server, real example services)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.test_turbine import TurbineReader
from tests.conftest import ServerProcess, free_port

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).resolve().parent / "example_service.py"
INSTANCES = "/api/v1/registry/instances"


@pytest.fixture
def ports() -> Iterator[list[int]]:
    """Three example services, each with a ``payments`` breaker and a Hystrix stream."""
    started = []
    for _ in range(3):
        port = free_port()
        started.append((port, subprocess.Popen([sys.executable, str(EXAMPLE), str(port)])))
    for port, _ in started:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.post(f"http://127.0.0.1:{port}/work?n=0", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    yield [port for port, _ in started]
    for _, proc in started:
        proc.kill()
        proc.wait(10)


def _register(server: ServerProcess, port: int) -> None:
    r = httpx.post(
        f"{server.url}{INSTANCES}",
        json={
            "service": "orders",
            "host": "127.0.0.1",
            "port": port,
            "hystrix_stream_path": "/hystrix.stream",
        },
    )
    assert r.status_code == 201, r.text


def test_registered_service_stream_follows_instances_joining_and_leaving(
    server: ServerProcess, ports: list[int]
) -> None:
    p1, p2, p3 = ports
    for i, port in enumerate(ports):  # 10, 20 and 30 calls
        httpx.post(f"http://127.0.0.1:{port}/work?n={10 * (i + 1)}")
    assert httpx.get(f"{server.url}/turbine.stream?cluster=orders").status_code == 404
    _register(server, p1)
    _register(server, p2)
    url = f"{server.url}/turbine.stream?cluster=orders"
    with httpx.stream("GET", url, timeout=httpx.Timeout(5.0, read=10.0)) as response:
        assert response.status_code == 200
        reader = TurbineReader(response)
        event = reader.until(lambda e: e["reportingHosts"] == 2 and e["requestCount"] == 30)
        assert event["name"] == "payments" and event["rollingCountSuccess"] == 30

        _register(server, p3)  # joins
        event = reader.until(lambda e: e["reportingHosts"] == 3)
        assert event["requestCount"] == 60

        r = httpx.delete(f"{server.url}{INSTANCES}/orders/127.0.0.1:{p1}")  # leaves
        assert r.status_code == 204
        event = reader.until(lambda e: e["reportingHosts"] == 2)
        assert event["requestCount"] == 50


def test_instances_without_a_stream_or_down_are_not_aggregated(
    server_factory: type[ServerProcess], tmp_path: Path, ports: list[int]
) -> None:
    server = server_factory(
        tmp_path / "data",
        env={"TRACELAKE_REGISTRY_TTL_S": "1", "TRACELAKE_REGISTRY_EVICT_AFTER_S": "60"},
    ).start()
    p1, p2, _ = ports
    httpx.post(f"http://127.0.0.1:{p1}/work?n=5")
    httpx.post(f"http://127.0.0.1:{p2}/work?n=7")
    _register(server, p1)
    no_stream = {"service": "orders", "host": "127.0.0.1", "port": p2}
    assert httpx.post(f"{server.url}{INSTANCES}", json=no_stream).status_code == 201
    url = f"{server.url}/turbine.stream?cluster=orders"
    with httpx.stream("GET", url, timeout=httpx.Timeout(5.0, read=10.0)) as response:
        reader = TurbineReader(response)
        event = reader.until(lambda e: e["reportingHosts"] == 1)
        assert event["requestCount"] == 5
        # no heartbeat: after the 1 s TTL the instance is down and leaves the cluster
        _wait_for_deletion(reader)
    found = httpx.get(f"{server.url}{INSTANCES}", params={"service": "orders"}).json()
    assert {i["port"]: i["status"] for i in found["instances"]}[p1] == "down"


def _wait_for_deletion(reader: TurbineReader, timeout: float = 15.0) -> None:
    """Until the stream says a circuit is gone (its last reporting host left)."""
    deadline = time.monotonic() + timeout
    for line in reader.lines:
        if '"deleteData"' in line and '"payments"' in line:
            return
        if time.monotonic() > deadline:
            break
    raise AssertionError("the down instance's circuit was never deleted from the stream")


def test_a_registered_service_circuit_that_opens_with_nobody_watching_is_recorded(
    server: ServerProcess, ports: list[int]
) -> None:
    port = ports[0]
    _register(server, port)
    time.sleep(8)  # the server starts following the new cluster and sees the first state
    httpx.post(f"http://127.0.0.1:{port}/force-open")
    deadline = time.monotonic() + 20
    rows: list[dict[str, object]] = []
    while not rows and time.monotonic() < deadline:
        time.sleep(0.3)
        rows = httpx.get(
            f"{server.url}/api/v1/search",
            params={"q": "event:circuit_open breaker:payments", "from": "now-1h"},
        ).json()["rows"]
    assert [r["host"] for r in rows] == [f"127.0.0.1:{port}"]
    assert rows[0]["service"] == "orders"
