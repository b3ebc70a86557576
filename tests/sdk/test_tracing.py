"""``configure_tracing``: services traced only through it produce one joined-up trace.

Three services run as real HTTP servers in their own processes (WSGI → ASGI → WSGI,
calling each other with ``requests`` and ``httpx``) against the real tracelake server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess, free_port

pytestmark = pytest.mark.e2e

for module in (
    "opentelemetry.instrumentation.asgi",
    "opentelemetry.instrumentation.wsgi",
    "opentelemetry.instrumentation.requests",
    "opentelemetry.instrumentation.httpx",
    "opentelemetry.propagators.b3",
):
    pytest.importorskip(module)

SERVICE = Path(__file__).with_name("tracing_services.py")


def wait_until(fetch: Any, ok: Any, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = fetch()
        if ok(value):
            return value
        time.sleep(0.2)
    raise AssertionError(f"not there in time: {value!r:.800}")


@pytest.fixture
def shop(server: ServerProcess, tmp_path: Path) -> Iterator[dict[str, str]]:
    """frontend (WSGI, requests) → backend (ASGI, httpx) → inventory (WSGI)."""
    ports = {name: free_port() for name in ("frontend", "backend", "inventory")}
    urls = {name: f"http://127.0.0.1:{port}/work" for name, port in ports.items()}
    plan = [
        ("inventory", "wsgi", None),
        ("backend", "asgi", urls["inventory"]),
        ("frontend", "wsgi", urls["backend"]),
    ]
    procs = []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for name, kind, downstream in plan:
        args = [sys.executable, str(SERVICE), name, kind, str(ports[name]), server.url]
        log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115
        procs.append(
            (
                subprocess.Popen(
                    [*args, *([downstream] if downstream else [])],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                ),
                log,
            )
        )
    try:
        for name in ports:
            wait_until(lambda n=name: _up(urls[n]), bool)
        yield urls
    finally:
        for proc, log in procs:
            proc.terminate()
            proc.wait(10)
            log.close()


def _up(url: str) -> bool:
    try:
        httpx.get(url.replace("/work", "/health"), timeout=1)
        return True
    except httpx.TransportError:
        return False


def test_three_services_make_one_trace_with_links_and_correlated_logs(
    server: ServerProcess, shop: dict[str, str]
) -> None:
    answer = httpx.get(shop["frontend"], timeout=20).json()
    trace_id = answer["trace_id"]
    backend = answer["downstream"]
    inventory = backend["downstream"]
    assert backend["trace_id"] == inventory["trace_id"] == trace_id
    sent = backend["headers"]  # what requests sent: W3C and both B3 forms
    assert sent["traceparent"].split("-")[1] == trace_id
    assert sent["b3"].startswith(trace_id) and sent["x-b3-traceid"] == trace_id

    def trace() -> list[dict[str, Any]]:
        r = httpx.get(f"{server.url}/api/v2/trace/{trace_id}")
        return r.json() if r.status_code == 200 else []

    spans = wait_until(
        trace,
        lambda s: (
            len({x["localEndpoint"]["serviceName"] for x in s}) == 3
            and sum(x.get("kind") == "SERVER" for x in s) == 3
            and sum(x.get("kind") == "CLIENT" for x in s) == 2
        ),
    )
    by_id = {s["id"]: s for s in spans}

    servers = {s["localEndpoint"]["serviceName"]: s for s in spans if s.get("kind") == "SERVER"}
    assert "parentId" not in servers["frontend"]  # the root
    for child, parent in (("backend", "frontend"), ("inventory", "backend")):
        client = by_id[servers[child]["parentId"]]
        assert client["kind"] == "CLIENT" and client["localEndpoint"]["serviceName"] == parent
        assert by_id[client["parentId"]] is servers[parent]

    def links() -> list[dict[str, Any]]:
        end = int(time.time() * 1000) + 60_000
        return httpx.get(f"{server.url}/api/v2/dependencies", params={"endTs": end}).json()  # type: ignore[no-any-return]

    found = wait_until(links, lambda ls: len(ls) >= 2)
    assert {(link["parent"], link["child"], link["callCount"]) for link in found} == {
        ("frontend", "backend", 1),
        ("backend", "inventory", 1),
    }

    def logs() -> list[dict[str, Any]]:
        return httpx.get(f"{server.url}/api/v1/traces/{trace_id}/logs").json()["rows"]  # type: ignore[no-any-return]

    rows = wait_until(logs, lambda rows: len(rows) >= 3)
    assert {(r["service"], r["message"]) for r in rows} >= {
        (name, f"{name} is handling /work") for name in ("frontend", "backend", "inventory")
    }
    assert {r["trace_id"] for r in rows} == {trace_id}


def test_an_incoming_b3_request_continues_the_callers_trace(shop: dict[str, str]) -> None:
    trace_id, span_id = "463ac35c9f6413ad48485a3953bb6124", "a2fb4a1d1a96d312"
    headers = {"X-B3-TraceId": trace_id, "X-B3-SpanId": span_id, "X-B3-Sampled": "1"}
    assert httpx.get(shop["inventory"], headers=headers, timeout=20).json()["trace_id"] == trace_id
    single = {"b3": f"{trace_id[16:]}-{span_id}-1"}  # a 64-bit B3 id, as Brave sends it
    got = httpx.get(shop["inventory"], headers=single, timeout=20).json()["trace_id"]
    assert got == "0" * 16 + trace_id[16:]


def test_the_sdk_imports_and_configures_without_the_servers_dependencies() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('duckdb', 'pyarrow', 'starlette'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from tracelake.sdk.tracing import configure_tracing\n"
        "p = configure_tracing(service='lean', endpoint='http://127.0.0.1:9',\n"
        "                      instrument_clients=False)\n"
        "assert p.resource.attributes['service.name'] == 'lean'\n"
        "from opentelemetry import propagate\n"
        "carrier = {}\n"
        "with p.get_tracer('t').start_as_current_span('s'):\n"
        "    propagate.inject(carrier)\n"
        "assert {'traceparent', 'b3', 'x-b3-traceid', 'x-b3-spanid'} <= set(carrier), carrier\n"
        "server = ('duckdb', 'pyarrow', 'starlette')\n"
        "assert not any(m.split('.')[0] in server for m in sys.modules)\n"
        "import os; os._exit(0)  # nothing listens at the endpoint: skip the exporter's retries\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
