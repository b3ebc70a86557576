"""Issue 7's on-call path in a real browser: from "errors are up" to the cause in three clicks.

The lake holds a quiet stream of logs and one failing request: ``orders`` calling
``payments`` failed, its log line carries the trace id, and the trace's spans are there
with the error on ``orders``' call to ``payments``. A real service process runs the
``payments`` breaker; real failures have opened its circuit, and the server reads its
Hystrix stream as the static cluster ``orders`` (the ``turbine_clusters`` setting).

Three clicks: the ``ERROR`` value of the level facet, the failing line's trace id, the
failing span's service in the waterfall. Each step checks what the page then shows.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import ServerProcess, free_port
from tests.ui.browser import UI, require_chromium, shared_server
from tests.ui.circuit_service import HOSTILE_NAME
from tests.ui.conftest import browser_tab
from tests.ui.test_circuits_page import SERVICE, tile, work
from tests.ui.test_traces_page import span

require_chromium()

from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.e2e

TRACE = "7f3c9a1be4d25068a1b2c3d4e5f60718"
CALL = "c000000000000003"  # orders → payments, the failing span
FAILURE = "charge failed: payments circuit open (card processor down)"


@pytest.fixture(scope="module")
def payments_service() -> Iterator[str]:
    """One process of the circuit service (its breakers untouched); its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, str(SERVICE), str(port)])
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                work(url)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        proc.kill()
        proc.wait(10)


@pytest.fixture(scope="module")
def oncall_server(
    tmp_path_factory: pytest.TempPathFactory, payments_service: str
) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("oncall")
    config = base / "tracelake.toml"
    member = payments_service.removeprefix("http://")
    config.write_text(f'ingest_workers = 0\n[turbine_clusters]\norders = ["{member}"]\n')
    with shared_server(base / "data", "--config", str(config)) as server:
        yield server


@pytest.fixture(scope="module")
def failing_request_stored(oncall_server: ServerProcess) -> ServerProcess:
    """The server once its lake holds the failing request's spans and the logs around it.

    Both answers come after the store took the data, so it is searchable at once.
    """
    spans = httpx.post(
        f"{oncall_server.url}/api/v2/spans",
        content=orjson.dumps(failing_request()),
        headers={"Content-Type": "application/json"},
    )
    assert spans.status_code == 202, spans.text
    records = quiet_logs()
    logs = httpx.post(
        f"{oncall_server.url}/api/v1/logs", content=b"\n".join(map(orjson.dumps, records))
    )
    assert logs.json()["accepted"] == len(records), logs.text
    return oncall_server


@pytest.fixture
def tab(chromium: Any, failing_request_stored: ServerProcess) -> Iterator[UI]:
    with browser_tab(chromium, failing_request_stored) as ui:
        yield ui


def failing_request(ago_s: float = 30.0) -> list[dict[str, Any]]:
    """gateway → orders, and orders' call to payments failed (short-circuited)."""
    base = int((time.time() - ago_s) * 1_000_000)
    return [
        span(TRACE, "c000000000000001", None, "gateway", "post /checkout", "SERVER", 0, 60, base),
        span(TRACE, "c000000000000002", "c000000000000001", "orders", "post /orders", "SERVER",
             4, 52, base),
        span(TRACE, CALL, "c000000000000002", "orders", "charge", "CLIENT", 10, 2, base,
             remote="payments", tags={"error": "short-circuited"}),
    ]  # fmt: skip


def quiet_logs(ago_s: float = 30.0) -> list[dict[str, Any]]:
    """Mostly INFO from three services, one unrelated ERROR, and the failing line."""
    base = time.time() - ago_s
    records: list[dict[str, Any]] = [
        {"@timestamp": base - 120 + i * 4, "service": service, "level": "info",
         "message": f"request {i} served", "host": "web-1"}
        for i, service in enumerate(["gateway", "orders", "payments"] * 10)
    ]  # fmt: skip
    records.append(
        {"@timestamp": base - 90, "service": "gateway", "level": "warn",
         "message": "slow upstream", "host": "web-1"}
    )  # fmt: skip
    records.append(
        {"@timestamp": base - 60, "service": "gateway", "level": "error",
         "message": "health probe of web-9 failed", "host": "web-1"}
    )  # fmt: skip
    records.append(
        {"@timestamp": base + 0.012, "service": "orders", "level": "error", "message": FAILURE,
         "host": "web-2", "trace_id": TRACE, "span_id": CALL}
    )  # fmt: skip
    return records


def test_three_clicks_lead_from_the_errors_to_the_failing_line_its_trace_and_the_open_circuit(
    tab: UI, payments_service: str
) -> None:
    # Tripped here, not in a fixture: the stream's counters cover the last 60 s only.
    # 10 failures after 10 successes make 20 calls at 50 %: the circuit opens (for its
    # 600 s sleep window) and the other 30 calls are short-circuited.
    work(payments_service, ok=10)
    work(payments_service, fail=40)
    page = tab.open("#/logs")
    rows = page.locator("tr.row")
    expect(rows.filter(has_text="request 29 served")).to_have_count(1)
    expect(rows.filter(has_text=FAILURE)).to_have_count(1)

    # 1. errors are up: the ERROR value of the level facet keeps only the errors
    page.locator('.facet[data-field=level] .facet-value[data-term="level:ERROR"]').click()
    expect(page).to_have_url(re.compile(r"#/logs\?q=level%3AERROR$"))
    expect(page.get_by_test_id("query")).to_have_value("level:ERROR")
    expect(rows).to_have_count(2)
    expect(rows.locator(".c-level")).to_have_text(["ERROR", "ERROR"])
    failing = rows.filter(has_text=FAILURE)
    expect(failing.locator(".c-service")).to_have_text("orders")
    expect(page.get_by_test_id("histogram")).to_have_attribute("data-total", "2")

    # 2. the failing line's trace id opens the trace: its waterfall and its logs
    failing.locator("a.trace-link").click()
    expect(page).to_have_url(re.compile(f"#/traces/{TRACE}$"))
    expect(page.get_by_test_id("trace-id")).to_have_text(TRACE)
    expect(page.get_by_test_id("span-row")).to_have_count(3)
    call = page.locator(f'[data-testid=span-row][data-span-id="{CALL}"]')
    expect(call).to_have_class(re.compile(r"\berror\b"))
    expect(call.locator(".wf-op")).to_have_text("charge")
    expect(page.get_by_test_id("trace-log-lines")).to_contain_text(FAILURE)
    # only the failing span leads to circuits
    links = page.get_by_test_id("circuit-link")
    expect(links).to_have_count(1)
    expect(links).to_have_text("orders")

    # 3. the failing span's service opens its cluster with the circuit it called picked out
    call.get_by_test_id("circuit-link").click()
    expect(page).to_have_url(re.compile(r"#/circuits\?cluster=orders&circuit=payments$"))
    expect(page.get_by_test_id("cluster")).to_have_value("orders")
    expect(page.get_by_test_id("stream-status")).to_have_attribute("data-state", "open")
    payments = tile(page, "payments")
    expect(payments).to_be_in_viewport()
    expect(payments).to_have_attribute("aria-current", "true")
    expect(payments).to_have_attribute("data-state", "open")
    expect(payments.get_by_test_id("circuit-state")).to_have_text("Open")
    expect(payments.get_by_test_id("count-failure")).to_have_text("10")
    expect(payments.get_by_test_id("count-short")).to_have_text("30")
    expect(page.locator("[data-testid=circuit][aria-current]")).to_have_count(1)
    assert [e for e in tab.errors if e.startswith("pageerror")] == []


def test_the_picked_circuit_comes_first_whatever_the_sort(tab: UI, payments_service: str) -> None:
    work(payments_service, ok=1)  # every breaker has been used, so every one is streamed
    page = tab.open("#/circuits?cluster=orders&sort=name&circuit=inventory")
    tiles = page.locator("[data-testid=circuit]")
    expect(tiles).to_have_count(3)
    # alphabetical would put the markup-named breaker ("<img …") first: the pick goes first
    expect(tiles.nth(0)).to_have_attribute("data-name", "inventory")
    expect(tiles.nth(0)).to_have_attribute("aria-current", "true")
    expect(tiles.nth(1)).to_have_attribute("data-name", HOSTILE_NAME)
    expect(tiles.nth(2)).to_have_attribute("data-name", "payments")
    expect(page.locator("[data-testid=circuit][aria-current]")).to_have_count(1)


def test_the_path_works_from_the_keyboard(tab: UI, payments_service: str) -> None:
    work(payments_service, ok=1)
    page = tab.open("#/logs?q=level:ERROR")
    link = page.locator("tr.row", has_text=FAILURE).locator("a.trace-link")
    link.focus()
    # the row toggles on Enter too: on its trace link, Enter follows the link instead
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"#/traces/{TRACE}$"))
    page.get_by_test_id("circuit-link").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#/circuits\?cluster=orders&circuit=payments$"))
    expect(tile(page, "payments")).to_have_attribute("aria-current", "true")
