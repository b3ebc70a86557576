"""The Circuits page in a real browser, fed by a real Turbine stream of two real services.

Two processes of ``circuit_service.py`` form the static cluster ``orders``; the page
reads ``/turbine.stream?cluster=orders`` as the Hystrix Dashboard would. A third, whose
circuits all run on semaphores, is the cluster ``billing``. The server scrapes the
orders instances' breaker metrics every second, so the lake has their recent history.
The tests run in order on one server: first the healthy cluster, then real failures
trip the ``payments`` circuit on one instance and then on both, and the tile follows
live; then the overview of every cluster, and the sparkline's history.
"""

from __future__ import annotations

import re
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
    """Three service processes, the last on semaphores only; their base URLs."""
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []
    for mode in ([], [], ["semaphores"]):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        procs.append((url, subprocess.Popen([sys.executable, str(SERVICE), str(port), *mode])))
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
    members = ", ".join(f'"{url.removeprefix("http://")}"' for url in instances[:2])
    billing = instances[2].removeprefix("http://")
    config.write_text(
        "ingest_workers = 0\nscrape_interval_s = 1.0\n"
        f'[turbine_clusters]\norders = [{members}]\nbilling = ["{billing}"]\n'
        f"[scrape_targets]\norders = [{members}]\n"
    )
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
    for url in instances[:2]:
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
    assert [e for e in tab.errors if e.startswith("pageerror")] == []


def test_an_unknown_cluster_says_so(tab: UI) -> None:
    page = tab.open("#/circuits?cluster=nope")
    expect(page.locator(".circuits-panel .empty-note").first).to_contain_text(
        "No cluster named nope"
    )
    expect(page.get_by_test_id("stream-status")).to_have_attribute("data-state", "closed")


def test_the_overview_shows_every_clusters_circuits_open_ones_first(
    tab: UI, instances: list[str]
) -> None:
    work(instances[2], ok=3)
    page = tab.open("#/circuits")  # no cluster picked
    expect(page.get_by_test_id("stream-status")).to_have_attribute("data-state", "open")
    links = page.get_by_test_id("cluster-links").get_by_test_id("cluster-link")
    expect(links).to_have_text(["billing", "orders"])
    tiles = page.get_by_test_id("circuits").get_by_test_id("circuit")
    billing = page.locator('[data-testid="circuit"][data-cluster="billing"]')
    expect(billing).to_have_count(2)  # payments and the one named with markup
    expect(page.locator('[data-testid="circuit"][data-cluster="orders"]')).to_have_count(3)
    # payments of orders was opened by the test before: it comes first, before billing's
    # payments though billing sorts first by name
    expect(tiles.first).to_have_attribute("data-cluster", "orders", timeout=5_000)
    expect(tiles.first).to_have_attribute("data-name", "payments")
    expect(tiles.first).to_have_attribute("data-state", "open")
    expect(tiles.first.get_by_test_id("tile-cluster")).to_have_attribute(
        "href", "#/circuits?cluster=orders"
    )
    tiles.first.get_by_test_id("tile-cluster").click()
    expect(page).to_have_url(re.compile(r"#/circuits\?cluster=orders$"))
    expect(page.get_by_test_id("cluster")).to_have_value("orders")
    assert [e for e in tab.errors if e.startswith("pageerror")] == []


def test_circuits_on_semaphores_say_why_there_are_no_thread_pools(
    tab: UI, instances: list[str]
) -> None:
    work(instances[2], ok=1)
    page = tab.open("#/circuits?cluster=billing")
    expect(tile(page, "payments")).to_have_count(1)
    expect(page.get_by_test_id("pools-note")).to_have_text(
        "These circuits run on semaphores (execution.isolation.strategy = SEMAPHORE):"
        " no thread pools to show."
    )
    expect(page.get_by_test_id("pools").locator("article")).to_have_count(0)


def test_the_circuit_tiles_line_up_in_a_grid(tab: UI) -> None:
    page = tab.open("#/circuits?cluster=orders")
    expect(page.get_by_test_id("circuit")).to_have_count(3)
    boxes = [t.bounding_box() for t in page.get_by_test_id("circuit").all()]
    assert all(b is not None for b in boxes)
    tops = {round(b["y"]) for b in boxes if b}
    heights = {round(b["height"]) for b in boxes if b}
    widths = {round(b["width"]) for b in boxes if b}
    assert len(tops) == 1 and len(heights) == 1 and len(widths) == 1, boxes
    sparks = [
        t.locator("canvas.spark").bounding_box() for t in page.get_by_test_id("circuit").all()
    ]
    assert len({round(s["y"]) for s in sparks if s}) == 1, sparks  # rows inside line up too


def lake_points(server: ServerProcess, query: str) -> int:
    end = time.time()
    answer = httpx.get(
        f"{server.url}/prometheus/api/v1/query_range",
        params={"query": query, "start": end - 120, "end": end, "step": 2},
    ).json()
    result = answer["data"]["result"]
    return len(result[0]["values"]) if result else 0


def test_the_sparkline_starts_from_the_lakes_recent_history(tab: UI, instances: list[str]) -> None:
    query = 'sum by (name) (tracelake_breaker_request_count{service="orders",name="payments"})'
    deadline = time.monotonic() + 30
    while lake_points(tab.server, query) < 8:  # the scraper has stored a few scrapes
        assert time.monotonic() < deadline, "the breaker metrics did not reach the lake"
        time.sleep(0.5)
    page = tab.open("#/circuits?cluster=orders")
    payments = tile(page, "payments")
    expect(payments).to_have_attribute("data-history", re.compile(r"^([89]|\d\d+)$"))
    spark = payments.locator("canvas.spark")
    # a line over more seconds than the page has been open: it came from the lake
    span = int(spark.get_attribute("data-span-s") or "0")
    assert span >= 14, span
    assert int(spark.get_attribute("data-points") or "0") >= 8
