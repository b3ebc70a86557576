"""``/turbine.stream`` end to end: three example-service processes behind one static
cluster of a real server, read by a real SSE client."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import ServerProcess, free_port

EXAMPLE = Path(__file__).resolve().parents[1] / "turbine" / "example_service.py"


@pytest.fixture
def instances() -> Iterator[list[tuple[int, subprocess.Popen[bytes]]]]:
    started = []
    for _ in range(3):
        port = free_port()
        proc = subprocess.Popen([sys.executable, str(EXAMPLE), str(port)])
        started.append((port, proc))
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
    yield started
    for _, proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


@pytest.fixture
def turbine_server(
    server_factory: type[ServerProcess],
    tmp_path: Path,
    instances: list[tuple[int, subprocess.Popen[bytes]]],
) -> ServerProcess:
    (p1, _), (p2, _), (p3, _) = instances
    config = tmp_path / "tracelake.toml"
    config.write_text(
        "ingest_workers = 0\n"
        "[turbine_clusters]\n"
        f'orders = ["127.0.0.1:{p1}", "http://127.0.0.1:{p2}/hystrix.stream", '
        f'"127.0.0.1:{p3}"]\n'
    )
    return server_factory(tmp_path / "data", extra_args=["--config", str(config)]).start()


class TurbineReader:
    """Reads ``data:`` events of one cluster stream until a condition holds."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.iter_lines()

    def until(self, ok: Callable[[dict[str, Any]], bool], timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        last = None
        for line in self.lines:
            if line.startswith("data: "):
                event = orjson.loads(line[6:])
                if event.get("type") == "HystrixCommand":
                    last = event
                    if ok(event):
                        return event
            if time.monotonic() > deadline:
                break
        raise AssertionError(f"condition not met in {timeout} s; last event {last}")


def test_unknown_cluster_is_404(turbine_server: ServerProcess) -> None:
    r = httpx.get(f"{turbine_server.url}/turbine.stream?cluster=nope")
    assert r.status_code == 404
    assert r.text == "Cluster not found"


def test_cluster_stream_sums_instances_drops_a_killed_one_and_records_an_open_circuit(
    turbine_server: ServerProcess, instances: list[tuple[int, subprocess.Popen[bytes]]]
) -> None:
    for i, (port, _) in enumerate(instances):  # 10, 20, 30 calls: 60 in the cluster
        httpx.post(f"http://127.0.0.1:{port}/work?n={10 * (i + 1)}")
    url = f"{turbine_server.url}/turbine.stream?cluster=orders"
    with httpx.stream("GET", url, timeout=httpx.Timeout(5.0, read=10.0)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = TurbineReader(response)
        event = reader.until(lambda e: e["reportingHosts"] == 3 and e["requestCount"] == 60)
        assert event["name"] == "payments"
        assert event["rollingCountSuccess"] == 60
        assert event["isCircuitBreakerOpen"] is False
        assert event["propertyValue_circuitBreakerRequestVolumeThreshold"] == 20

        proc3 = instances[2][1]
        proc3.kill()
        event = reader.until(lambda e: e["reportingHosts"] == 2)
        assert event["requestCount"] == 30
        assert event["rollingCountSuccess"] == 30

        port1 = instances[0][0]
        httpx.post(f"http://127.0.0.1:{port1}/force-open")
        event = reader.until(lambda e: e["isCircuitBreakerOpen"] == {"false": 1, "true": 1})

    deadline = time.monotonic() + 10
    while True:
        found = httpx.get(
            f"{turbine_server.url}/api/v1/search",
            params={"q": "event:circuit_open breaker:payments", "from": "now-1h"},
        ).json()
        rows = found["rows"]
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(rows) == 1, found
    row = rows[0]
    assert row["service"] == "orders"
    assert row["message"] == "circuit payments opened"
    assert row["host"] == f"127.0.0.1:{port1}"
    assert row["level"].upper().startswith("WARN")
    assert row["attributes"]["event"] == "circuit_open"
    assert row["attributes"]["breaker"] == "payments"


def test_a_circuit_that_opens_with_nobody_watching_is_still_recorded(
    turbine_server: ServerProcess, instances: list[tuple[int, subprocess.Popen[bytes]]]
) -> None:
    port = instances[1][0]
    time.sleep(2)  # the server's own feed has seen every breaker's first state
    httpx.post(f"http://127.0.0.1:{port}/force-open")
    deadline = time.monotonic() + 15
    rows: list[dict[str, Any]] = []
    while not rows and time.monotonic() < deadline:
        rows = httpx.get(
            f"{turbine_server.url}/api/v1/search",
            params={"q": "event:circuit_open breaker:payments", "from": "now-1h"},
        ).json()["rows"]
        time.sleep(0.2)
    assert [r["host"] for r in rows] == [f"127.0.0.1:{port}"]
