"""The Circuits page in a real browser, fed by a real Turbine stream of two real services.

Two processes of ``circuit_service.py`` form the static cluster ``orders``; the page
reads ``/turbine.stream?cluster=orders`` as the Hystrix Dashboard would. The tests run
in order on one server: first the healthy cluster, then real failures trip the
``payments`` circuit on one instance and then on both, and the tile follows live.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess, free_port
from tests.ui.browser import UI, require_chromium, shared_server
from tests.ui.circuit_service import HOSTILE_NAME
from tests.ui.conftest import browser_tab

require_chromium()

from playwright.sync_api import Page, expect  # noqa: E402

pytestmark = pytest.mark.e2e

SERVICE = Path(__file__).resolve().parent / "circuit_service.py"


@pytest.fixture(scope="module")
def instances() -> Iterator[list[str]]:
    """Two service processes; their base URLs."""
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []
    for _ in range(2):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        procs.append((url, subprocess.Popen([sys.executable, str(SERVICE), str(port)])))
    try:
        for url, _ in procs:
            deadline = time.monotonic() + 20
            while True:
                try:
                    httpx.post(f"{url}/work", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        yield [url for url, _ in procs]
    finally:
        for _, proc in procs:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="module")
def cluster_server(
    tmp_path_factory: pytest.TempPathFactory, instances: list[str]
) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("circuits")
    config = base / "tracelake.toml"
    members = ", ".join(f'"{url.removeprefix("http://")}"' for url in instances)
    config.write_text(f"ingest_workers = 0\n[turbine_clusters]\norders = [{members}]\n")
    with shared_server(base / "data", "--config", str(config)) as server:
        yield server


@pytest.fixture
def tab(chromium: Any, cluster_server: ServerProcess) -> Iterator[UI]:
    with browser_tab(chromium, cluster_server) as ui:
        yield ui


def work(url: str, ok: int = 0, fail: int = 0) -> None:
    httpx.post(f"{url}/work", params={"ok": ok, "fail": fail}, timeout=10).raise_for_status()


def tile(page: Page, name: str, kind: str = "circuit") -> Any:
    return page.locator(f'[data-testid="{kind}"][data-name="{name}"]')


def test_a_cluster_shows_each_circuit_and_thread_pool_with_its_figures(
    tab: UI, instances: list[str]
) -> None:
    for url in instances:
        work(url, ok=10)
    page = tab.open("#/circuits?cluster=orders")
    expect(page.get_by_test_id("stream-status")).to_have_attribute("data-state", "open")
    payments = tile(page, "payments")
    expect(payments).to_have_attribute("data-requests", "20")
    expect(payments.get_by_test_id("count-success")).to_have_text("20")
    expect(payments.get_by_test_id("count-failure")).to_have_text("0")
    expect(payments.get_by_test_id("count-short")).to_have_text("0")
    expect(payments.get_by_test_id("circuit-state")).to_have_text("Closed")
    expect(payments.get_by_test_id("hosts")).to_have_text("2")
    expect(payments.get_by_test_id("error-pct")).to_have_text("0.0 %")
    # 20 requests in a 60 s window: 0.3/s for the cluster, 0.2/s (rounded) per host
    expect(payments.get_by_test_id("cluster-rate")).to_have_text("0.3/s")
    expect(payments.get_by_test_id("count-rejected")).to_have_attribute(
        "title", "Semaphore rejected"
    )
    for label in ("Mean", "Median", "90th", "99th", "99.5th"):
        expect(payments.locator(".fig", has_text=label)).to_have_count(1)
    expect(payments.locator("canvas.spark")).to_have_count(1)
    expect(payments.locator(".circle")).to_have_css("background-color", "rgb(0, 128, 0)")

    inventory = tile(page, "inventory")
    expect(inventory.get_by_test_id("count-rejected")).to_have_attribute(
        "title", "Thread pool rejected"
    )
    pool = tile(page, "stock", kind="pool")
    expect(pool.get_by_test_id("pool-hosts")).to_have_text("2")
    expect(pool.get_by_test_id("pool-executions")).not_to_have_text("0")
    assert [e for e in tab.errors if e.startswith("pageerror")] == []


def test_a_breaker_name_with_markup_is_shown_as_text(tab: UI) -> None:
    page = tab.open("#/circuits?cluster=orders")
    hostile = tile(page, HOSTILE_NAME)
    expect(hostile.locator(".tile-name")).to_have_text(HOSTILE_NAME)
    expect(hostile.locator(".tile-group")).to_have_text(" <script>alert(1)</script>")
    page.wait_for_timeout(300)
    assert (
        page.evaluate("() => document.querySelectorAll('#page :is(script, img, iframe)').length")
        == 0
    )
    assert tab.dialogs == []


def test_failures_open_the_circuit_on_one_host_then_on_both_live(
    tab: UI, instances: list[str]
) -> None:
    page = tab.open("#/circuits?cluster=orders")
    payments = tile(page, "payments")
    expect(payments.get_by_test_id("circuit-state")).to_have_text("Closed")

    # 10 failures after the 10 successes make 20 calls at 50 %: the circuit trips, and
    # the other 30 calls are short-circuited
    work(instances[0], fail=40)
    expect(payments.get_by_test_id("circuit-state")).to_have_text("Open 1 Closed 1", timeout=15_000)
    expect(payments).to_have_attribute("data-state", "mixed")
    expect(payments.get_by_test_id("count-failure")).to_have_text("10")
    expect(payments.get_by_test_id("count-short")).to_have_text("30")
    expect(payments.get_by_test_id("error-pct")).to_have_text("25.0 %")

    work(instances[1], fail=40)
    expect(payments.get_by_test_id("circuit-state")).to_have_text("Open", timeout=15_000)
    expect(payments).to_have_attribute("data-state", "open")
    expect(payments.get_by_test_id("count-failure")).to_have_text("20")
    # errorPercentage is summed over the hosts: 50 % each, 50 % on average: red
    expect(payments.get_by_test_id("error-pct")).to_have_text("50.0 %")
    expect(payments.locator(".circle")).to_have_css("background-color", "rgb(255, 0, 0)")

    work(instances[0], ok=5)  # still open: these are short-circuited too
    expect(payments.get_by_test_id("count-short")).to_have_text("65")
    tab.screenshot("circuits")
    assert [e for e in tab.errors if e.startswith("pageerror")] == []


def test_an_unknown_cluster_says_so(tab: UI) -> None:
    page = tab.open("#/circuits?cluster=nope")
    expect(page.locator(".circuits-panel .empty-note").first).to_contain_text(
        "No cluster named nope"
    )
    expect(page.get_by_test_id("stream-status")).to_have_attribute("data-state", "closed")
