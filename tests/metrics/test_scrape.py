"""The scraper against real HTTP targets: prometheus_client's exposition, a down one, a slow one.

The store, the ingest worker pool and the HTTP targets are all real; only the server
process around them is left out, so each scrape can be awaited and checked at once.
"""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from tests.conftest import free_port
from tracelake.ingest.submit import Ingest
from tracelake.metrics.scrape import Scraper
from tracelake.registry import ScrapeTarget
from tracelake.settings import Settings
from tracelake.store import Store
from tracelake.telemetry import ServerMetrics


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers after ``delay`` seconds with ``body`` and ``status``."""

    delay = 0.0
    body = b""
    status = 200

    def do_GET(self) -> None:
        time.sleep(self.delay)
        try:
            self.send_response(self.status)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(self.body)))
            self.end_headers()
            self.wfile.write(self.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the scraper gave up on us: that is the point of the slow target

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_target() -> Iterator[Callable[..., str]]:
    """Start plain HTTP targets answering fixed bodies; yields a factory of their URLs."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(body: bytes, *, delay: float = 0.0, status: int = 200) -> str:
        handler = type("H", (_Handler,), {"delay": delay, "body": body, "status": status})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def app_target() -> Iterator[str]:
    """A service's metrics as prometheus_client serves them, on a real port."""
    registry = CollectorRegistry()
    Counter("orders_placed", "Orders placed", ["region"], registry=registry).labels("eu").inc(3)
    Gauge("pool_size", "Pool size", registry=registry).set(8)
    port = free_port()
    server, _thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield f"127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[tuple[Store, Ingest, Settings]]:
    settings = Settings.load(
        env={},
        overrides={
            "data_dir": str(tmp_path / "data"),
            "wal_fsync": False,
            "ingest_workers": 1,  # parse in a worker process, as the server does
            "scrape_interval_s": 1.0,
            "scrape_timeout_s": 0.5,
        },
    )
    store = Store(settings)
    store.open()
    ingest = Ingest(store, settings, ServerMetrics())
    yield store, ingest, settings
    ingest.close()
    store.close()


def target(service: str, address: str, **labels: str) -> ScrapeTarget:
    return ScrapeTarget(service, address, f"http://{address}/metrics", labels)


def rows(store: Store, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return store.query(sql, params, tables=["metrics"], timeout_s=10, max_rows=100_000).rows


def up_series(store: Store) -> dict[str, list[float]]:
    """``instance`` → its ``up`` values, oldest first."""
    out: dict[str, list[float]] = {}
    for labels, value in rows(
        store, "SELECT labels, value FROM metrics WHERE name = 'up' ORDER BY timestamp"
    ):
        out.setdefault(orjson.loads(labels)["instance"], []).append(value)
    return out


def test_a_scrape_stores_the_exposition_with_target_labels_and_up(
    lake: tuple[Store, Ingest, Settings], app_target: str
) -> None:
    store, ingest, settings = lake
    scraper = Scraper(lambda: [], ingest, settings)

    async def scrape() -> Any:
        try:
            return await scraper.scrape(target("orders", app_target, zone="eu-1"))
        finally:
            await scraper.aclose()

    health = asyncio.run(scrape())
    assert health.health == "up" and health.last_error == "" and health.samples == 2
    base = {"instance": app_target, "job": "orders", "service": "orders", "zone": "eu-1"}
    got = {
        (name, labels): (value, service)
        for name, labels, value, service in rows(
            store, "SELECT name, labels, value, service FROM metrics"
        )
    }
    labels = orjson.dumps({**base, "region": "eu"}, option=orjson.OPT_SORT_KEYS).decode()
    assert got[("orders_placed_total", labels)] == (3.0, "orders")
    plain = orjson.dumps(base, option=orjson.OPT_SORT_KEYS).decode()
    assert got[("pool_size", plain)] == (8.0, "orders")
    assert got[("up", plain)] == (1.0, "orders")
    assert got[("scrape_samples_scraped", plain)][0] == health.samples
    assert 0 < got[("scrape_duration_seconds", plain)][0] < settings.scrape_timeout_s


def test_down_slow_failing_and_malformed_targets_store_up_zero_with_their_error(
    lake: tuple[Store, Ingest, Settings], http_target: Callable[..., str]
) -> None:
    store, ingest, settings = lake
    targets = {
        "down": f"127.0.0.1:{free_port()}",
        "slow": http_target(b"x 1\n", delay=2.0),
        "failing": http_target(b"oops", status=500),
        "malformed": http_target(b'x{a="b} 1\n'),
    }
    scraper = Scraper(lambda: [], ingest, settings)

    async def scrape_all() -> dict[str, Any]:
        try:
            started = time.perf_counter()
            outcomes = await asyncio.gather(
                *(scraper.scrape(target(name, address)) for name, address in targets.items())
            )
            assert time.perf_counter() - started < 1.5  # the slow one was cut at the timeout
            return dict(zip(targets, outcomes, strict=True))
        finally:
            await scraper.aclose()

    health = asyncio.run(scrape_all())
    assert all(h.health == "down" for h in health.values())
    assert "ConnectError" in health["down"].last_error
    assert health["slow"].last_error == "timed out after 0.5 s (scrape_timeout_s)"
    assert health["failing"].last_error == "HTTP 500 from the target"
    assert health["malformed"].last_error.startswith("malformed exposition")
    assert up_series(store) == {address: [0.0] for address in targets.values()}
    assert rows(store, "SELECT count(*) FROM metrics WHERE name = 'x'") == [(0,)]


def test_the_loop_follows_the_target_list_and_scrapes_every_interval(
    lake: tuple[Store, Ingest, Settings], app_target: str
) -> None:
    store, ingest, settings = lake
    current = [target("orders", app_target)]
    scraper = Scraper(lambda: list(current), ingest, settings)

    async def run_for(seconds: float) -> None:
        task = asyncio.create_task(scraper.run())
        await asyncio.sleep(seconds)
        current.clear()  # the instance deregistered: its loop stops
        await asyncio.sleep(1.5)
        assert scraper.health() == []
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run_for(3.6))
    scrapes = up_series(store)[app_target]
    assert 2 <= len(scrapes) <= 5 and set(scrapes) == {1.0}
    count = len(scrapes)
    time.sleep(1.2)
    assert len(up_series(store)[app_target]) == count  # nothing after the stop


@pytest.mark.e2e
def test_the_server_scrapes_its_static_targets_into_the_lake(
    server_factory: Any, tmp_path: Path, app_target: str
) -> None:
    """``scrape_targets`` from the environment, scraped by the real server process."""
    down = f"127.0.0.1:{free_port()}"
    server = server_factory(
        tmp_path / "served",
        env={
            "TRACELAKE_SCRAPE_TARGETS": f'{{orders = ["{app_target}", "{down}"]}}',
            "TRACELAKE_SCRAPE_INTERVAL_S": "1",
        },
    ).start()
    query = "SELECT labels, max(value) FROM metrics WHERE name = 'up' GROUP BY labels"
    deadline = time.monotonic() + 20
    up: dict[str, float] = {}
    while time.monotonic() < deadline and len(up) < 2:
        answer = httpx.post(f"{server.url}/api/v1/sql", json={"sql": query}).json()
        up = {orjson.loads(labels)["instance"]: value for labels, value in answer["rows"]}
        time.sleep(0.3)
    assert up == {app_target: 1.0, down: 0.0}
    answer = httpx.post(
        f"{server.url}/api/v1/sql",
        json={
            "sql": "SELECT service, value FROM metrics WHERE name = ? LIMIT 1",
            "params": ["orders_placed_total"],
        },
    ).json()
    assert answer["rows"] == [["orders", 3.0]]
