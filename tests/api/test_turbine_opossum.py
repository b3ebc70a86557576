"""``/turbine.stream`` over a Node.js service's opossum circuit, streamed by opossum-hystrix:
the cluster event carries opossum's counts under Hystrix's field names."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.clients.node import start_node
from tests.conftest import ServerProcess, free_port

pytestmark = pytest.mark.e2e

#: A service with one opossum breaker ("inventory-db") and its Hystrix stream served as
#: opossum-hystrix's README serves it. /call?fail=1 fires the breaker at a failing
#: action; /stats answers what opossum itself counts.
SERVICE = r"""
const http = require('http');
const CircuitBreaker = require('opossum');
const HystrixStats = require('opossum-hystrix');
const action = (fail) => fail ? Promise.reject(new Error('db down')) : Promise.resolve('ok');
const breaker = new CircuitBreaker(action, {
  name: 'inventory-db', group: 'inventory', errorThresholdPercentage: 50, volumeThreshold: 5,
  resetTimeout: 600000, rollingCountTimeout: 60000, rollingCountBuckets: 60, timeout: 3000,
});
new HystrixStats([breaker]);
http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/hystrix.stream') {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache',
                         'Connection': 'keep-alive' });
    res.write('retry: 10000\n');
    res.write('event: connecttime\n');
    HystrixStats.stream.pipe(res);
    req.on('close', () => HystrixStats.stream.unpipe(res));
  } else if (url.pathname === '/call') {
    let outcome = 'ok';
    try { await breaker.fire(url.searchParams.get('fail') === '1'); }
    catch (e) { outcome = e.code === 'EOPENBREAKER' ? 'rejected' : 'failed'; }
    res.end(JSON.stringify({ outcome }));
  } else {
    res.end(JSON.stringify({ opened: breaker.opened, stats: breaker.stats }));
  }
}).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening'));
"""


@pytest.fixture
def node_service() -> Iterator[int]:
    port = free_port()
    proc = start_node(SERVICE, {"PORT": str(port)})
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/stats", timeout=1)
            break
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                output = proc.communicate()[0]
                raise AssertionError(f"the Node service did not start: {output}") from None
            time.sleep(0.1)
    yield port
    proc.kill()
    proc.wait(10)


def cluster_event(server: ServerProcess, ok: Any, timeout: float = 20.0) -> dict[str, Any]:
    """The first ``inventory-db`` command event of cluster ``node`` that ``ok`` accepts."""
    deadline = time.monotonic() + timeout
    last = None
    url = f"{server.url}/turbine.stream"
    with httpx.stream("GET", url, params={"cluster": "node"}, timeout=10) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: "):
                event = orjson.loads(line[6:])
                if event.get("name") == "inventory-db":
                    last = event
                    if ok(event):
                        return event  # type: ignore[no-any-return]
            if time.monotonic() > deadline:
                break
    raise AssertionError(f"no matching event; last: {last}")


def test_turbine_carries_an_opossum_circuits_counts_and_open_state_from_opossum_hystrix(
    server_factory: type[ServerProcess], tmp_path: Path, node_service: int
) -> None:
    config = tmp_path / "tracelake.toml"
    config.write_text(f'[turbine_clusters]\nnode = ["127.0.0.1:{node_service}"]\n')
    server = server_factory(tmp_path / "data", extra_args=["--config", str(config)]).start()
    base = f"http://127.0.0.1:{node_service}"

    before = cluster_event(server, lambda e: e["requestCount"] == 0)
    assert before["type"] == "HystrixCommand" and before["group"] == "inventory"
    assert before["isCircuitBreakerOpen"] is False and before["reportingHosts"] == 1

    outcomes = [httpx.get(f"{base}/call").json()["outcome"] for _ in range(2)]
    outcomes += [httpx.get(f"{base}/call", params={"fail": 1}).json()["outcome"] for _ in range(3)]
    outcomes += [httpx.get(f"{base}/call").json()["outcome"] for _ in range(2)]
    assert outcomes == ["ok", "ok", "failed", "failed", "failed", "rejected", "rejected"]
    opossum = httpx.get(f"{base}/stats").json()
    assert opossum["opened"] is True

    stats = opossum["stats"]
    event = cluster_event(server, lambda e: e["requestCount"] == stats["fires"])
    assert event["isCircuitBreakerOpen"] is True
    assert event["errorCount"] == stats["failures"] == 3
    assert event["rollingCountFailure"] == 3
    assert event["rollingCountSuccess"] == stats["successes"] == 2
    assert event["rollingCountShortCircuited"] == stats["rejects"] == 2
    assert event["requestCount"] == stats["fires"] == 7
    assert event["errorPercentage"] == pytest.approx(100 * 3 / 7)
    assert event["propertyValue_circuitBreakerErrorThresholdPercentage"] == 50
    assert event["reportingHosts"] == 1
