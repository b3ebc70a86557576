"""The Services page in a real browser, over the real service registry.

Instances register the way services do — ``tracelake.sdk.register`` heartbeating in the
background — or by a bare ``POST`` that never heartbeats, which the registry marks
down once its short TTL passes. The server scrapes them every second: payments serves
real metrics (prometheus_client), nothing listens on the orders ports, so their scrapes
fail with a connection error.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, start_http_server

from tests.conftest import ServerProcess, free_port
from tests.ui.browser import UI, require_chromium, shared_server
from tests.ui.conftest import browser_tab
from tracelake.sdk import register

require_chromium()

from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.e2e

IMG = "<img src=x onerror=alert(1)>"
TTL_S = 3.0


@pytest.fixture(scope="module")
def registry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("services")
    config = base / "tracelake.toml"
    config.write_text(
        f"ingest_workers = 0\nregistry_ttl_s = {TTL_S}\nregistry_evict_after_s = 600.0\n"
        "scrape_interval_s = 1.0\n"
    )
    with shared_server(base / "data", "--config", str(config)) as server:
        yield server


@pytest.fixture(scope="module")
def payments_port() -> Iterator[int]:
    """A real /metrics endpoint for the payments instance."""
    registry = CollectorRegistry()
    Counter("payments_charges", "Charges", registry=registry).inc(3)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield port
    server.shutdown()
    thread.join(5)


@pytest.fixture(scope="module")
def fleet(registry_server: ServerProcess, payments_port: int) -> Iterator[None]:
    """Two orders instances and one payments instance, heartbeating through the SDK."""
    registrations = [
        register("orders", 9101, host="127.0.0.1", endpoint=registry_server.url,
                 metadata={"zone": "eu-1", "note": IMG}, heartbeat_interval=0.5),
        register("orders", 9102, host="127.0.0.1", endpoint=registry_server.url,
                 metadata={"zone": "eu-2"}, heartbeat_interval=0.5),
        register("payments", payments_port, host="127.0.0.1", endpoint=registry_server.url,
                 hystrix_stream_path=None, health_path="/health", heartbeat_interval=0.5),
    ]  # fmt: skip
    yield
    for registration in registrations:
        registration.close()


@pytest.fixture
def tab(chromium: Any, registry_server: ServerProcess, fleet: None) -> Iterator[UI]:
    with browser_tab(chromium, registry_server) as ui:
        yield ui


def test_each_service_and_instance_shows_status_heartbeat_and_endpoints(tab: UI) -> None:
    page = tab.open("#/services")
    cards = page.get_by_test_id("service-card")
    expect(cards).to_have_count(2)
    orders = page.locator('[data-testid="service-card"][data-name="orders"]')
    expect(orders).to_contain_text("2/2 up")
    expect(orders).to_have_attribute("data-state", "up")
    rows = page.get_by_test_id("instance")
    expect(rows).to_have_count(3)
    first = page.locator('[data-testid="instance"][data-instance="127.0.0.1:9101"]')
    expect(first.get_by_test_id("status")).to_have_text("up")
    expect(first.get_by_test_id("heartbeat")).to_have_text(re.compile(r"^\d+ s ago$"))
    expect(first.get_by_test_id("metadata")).to_contain_text(f"note={IMG}")
    expect(first.get_by_role("link", name="circuits")).to_have_attribute(
        "href", "#/circuits?cluster=orders"
    )
    payments = page.locator('[data-testid="instance"][data-service="payments"]')
    expect(payments.locator(".endpoints")).to_contain_text("health /health")
    expect(payments.get_by_role("link", name="circuits")).to_have_count(0)
    expect(page.get_by_test_id("summary")).to_have_text("2 services · 3 of 3 instances up")

    orders.get_by_role("link", name="orders").click()  # one service
    expect(page).to_have_url(re.compile(r"#/services\?service=orders$"))
    expect(rows).to_have_count(2)
    page.wait_for_timeout(300)
    assert page.evaluate("() => document.querySelectorAll('#page :is(script, img)').length") == 0
    assert tab.dialogs == []
    assert [e for e in tab.errors if e.startswith("pageerror")] == []


def test_an_instance_without_heartbeats_turns_down_on_the_page(tab: UI) -> None:
    answer = httpx.post(
        f"{tab.server.url}/api/v1/registry/instances",
        json={"service": "inventory", "host": "127.0.0.1", "port": 9301},
    )
    assert answer.status_code == 201, answer.text
    page = tab.open("#/services")
    row = page.locator('[data-testid="instance"][data-service="inventory"]')
    expect(row.get_by_test_id("status")).to_have_text("up")
    time.sleep(TTL_S)
    # the page refreshes itself every 5 s
    expect(row.get_by_test_id("status")).to_have_text("down", timeout=15_000)
    card = page.locator('[data-testid="service-card"][data-name="inventory"]')
    expect(card).to_have_attribute("data-state", "down")
    expect(card).to_contain_text("0/1 up")


def test_each_scrape_target_shows_its_last_scrape_duration_and_error(
    tab: UI, payments_port: int
) -> None:
    page = tab.open("#/services")
    paying = page.locator(f'[data-testid="target"][data-instance="127.0.0.1:{payments_port}"]')
    expect(paying.get_by_test_id("target-health")).to_have_text("up", timeout=15_000)
    expect(paying.get_by_test_id("last-scrape")).to_have_text(re.compile(r"^\d+ s ago$"))
    expect(paying.get_by_test_id("scrape-duration")).to_have_text(re.compile(r"^[\d.]+ (µs|ms|s)$"))
    expect(paying.get_by_test_id("scrape-error")).to_have_text("")
    expect(paying).to_contain_text(f"http://127.0.0.1:{payments_port}/metrics")

    refused = page.locator('[data-testid="target"][data-instance="127.0.0.1:9101"]')
    expect(refused.get_by_test_id("target-health")).to_have_text("down", timeout=15_000)
    expect(refused.get_by_test_id("scrape-error")).to_contain_text("ConnectError")
    expect(refused.get_by_test_id("last-scrape")).to_have_text(re.compile(r"^\d+ s ago$"))

    page.locator('[data-testid="service-card"][data-name="payments"]').get_by_role(
        "link", name="payments"
    ).click()
    expect(page.get_by_test_id("target")).to_have_count(1)  # the page narrows to payments
    assert [e for e in tab.errors if e.startswith("pageerror")] == []


def test_each_service_links_to_its_logs_traces_and_red_metrics(tab: UI) -> None:
    page = tab.open("#/services")
    links = page.locator('[data-testid="service-card"][data-name="orders"]').get_by_test_id(
        "service-links"
    )
    expect(links.get_by_role("link", name="logs")).to_have_attribute(
        "href", "#/logs?q=service%3Aorders"
    )
    expect(links.get_by_role("link", name="traces")).to_have_attribute(
        "href", "#/traces?service=orders"
    )
    links.get_by_role("link", name="RED").click()
    expect(page).to_have_url(re.compile(r"#/metrics\?service=orders$"))
    expect(page.get_by_test_id("red-service")).to_have_value("orders")
