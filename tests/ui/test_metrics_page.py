"""The Metrics page in a real browser: PromQL over scraped metrics, and the RED dashboard.

One server for the module scrapes a real prometheus_client exporter every second (a
static ``scrape_targets`` entry) and receives real Zipkin spans for the RED dashboard.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from tests.conftest import ServerProcess, free_port
from tests.ui.browser import UI, require_chromium, shared_server
from tests.ui.conftest import browser_tab

require_chromium()

from playwright.sync_api import Page, expect  # noqa: E402

pytestmark = pytest.mark.e2e

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def exporter() -> Iterator[tuple[int, Gauge]]:
    """A real /metrics endpoint: requests by route (one route named with markup), a queue
    gauge (the tests change it), a duration in seconds and a size in bytes."""
    registry = CollectorRegistry()
    requests = Counter("shop_requests", "Requests", ["route", "status"], registry=registry)
    depth = Gauge("shop_queue_depth", "Queued jobs", registry=registry)
    requests.labels("/cart", "200").inc(30)
    requests.labels("/pay", "500").inc(3)
    requests.labels(IMG, "200").inc(1)
    depth.set(7)
    Gauge("shop_checkout_duration_seconds", "Last checkout", registry=registry).set(0.0042)
    Gauge("shop_cache_bytes", "Cache size", registry=registry).set(3 * 1024 * 1024)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield port, depth
    server.shutdown()
    thread.join(5)


@pytest.fixture(scope="module")
def metrics_server(
    tmp_path_factory: pytest.TempPathFactory, exporter: tuple[int, Gauge]
) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("metrics")
    config = base / "tracelake.toml"
    config.write_text(
        "ingest_workers = 0\nscrape_interval_s = 1.0\n"
        f'[scrape_targets]\nshop = ["127.0.0.1:{exporter[0]}"]\n'
    )
    with shared_server(base / "data", "--config", str(config)) as server:
        yield server


@pytest.fixture
def tab(chromium: Any, metrics_server: ServerProcess) -> Iterator[UI]:
    with browser_tab(chromium, metrics_server) as ui:
        yield ui


def wait_for_samples(server: ServerProcess, query: str, count: int) -> list[dict[str, Any]]:
    """Until an instant query answers ``count`` series (the scraper has run)."""
    deadline = time.monotonic() + 20
    result: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        r = httpx.get(f"{server.url}/prometheus/api/v1/query", params={"query": query})
        if r.status_code == 200:
            result = r.json()["data"]["result"]
            if len(result) >= count:
                return result
        time.sleep(0.3)
    raise AssertionError(f"{query} did not reach {count} series: {result}")


def served_spans(service: str, count: int, errors: int) -> list[dict[str, Any]]:
    """``count`` SERVER spans over the last few minutes, ``errors`` of them failed."""
    now_us = int(time.time() * 1_000_000)
    spans = []
    for i in range(count):
        span: dict[str, Any] = {
            "traceId": f"{sum(service.encode()):08x}{i:024x}",
            "id": f"{sum(service.encode()):08x}{i:08x}",
            "name": "post /pay" if i % 3 == 0 else "get /cart",
            "kind": "SERVER",
            "timestamp": now_us - (count - i) * 5_000_000,
            "duration": (20 + i) * 1000,
            "localEndpoint": {"serviceName": service},
        }
        if i < errors:
            span["tags"] = {"error": "card declined"}
        spans.append(span)
    return spans


def post_spans(server: ServerProcess, spans: list[dict[str, Any]]) -> None:
    r = httpx.post(
        f"{server.url}/api/v2/spans",
        content=orjson.dumps(spans),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if httpx.get(f"{server.url}/api/v2/trace/{spans[-1]['traceId']}").status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError("spans not readable")


def test_the_red_dashboard_needs_no_query(tab: UI) -> None:
    post_spans(tab.server, served_spans("checkout", 30, errors=6))
    page = tab.open("#/metrics?service=checkout&from=-15m")
    expect(page.get_by_test_id("red-requests")).to_have_text("30")
    expect(page.get_by_test_id("red-error-total")).to_have_text("6 (20.0 %)")
    rows = page.get_by_test_id("red-operation")
    expect(rows).to_have_count(2)
    expect(rows.first.locator("td").first).to_have_text("get /cart")
    expect(rows.first.locator("td").nth(1)).to_have_text("20")
    for chart in ("red-rate", "red-errors", "red-duration"):
        expect(page.get_by_test_id(chart)).to_have_attribute(
            "data-series", "3" if chart == "red-duration" else "1"
        )
    expect(page.get_by_test_id("red-duration-legend")).to_contain_text("p95")
    assert page.locator('[data-testid="red-rate"] canvas').count() >= 1
    assert [e for e in tab.errors if e.startswith("pageerror")] == []


def test_a_service_named_with_markup_is_text_in_the_red_dashboard(tab: UI) -> None:
    post_spans(tab.server, served_spans(SCRIPT, 3, errors=0))
    page = tab.open(f"#/metrics?from=-15m&service={quote(SCRIPT)}")
    expect(page.get_by_test_id("red-requests")).to_have_text("3")
    options = page.get_by_test_id("red-service").locator("option").all_inner_texts()
    assert SCRIPT in options
    page.wait_for_timeout(300)
    assert page.evaluate("() => document.querySelectorAll('#page :is(script, img)').length") == 0
    assert tab.dialogs == []


def test_a_promql_query_draws_its_series_over_the_range(tab: UI) -> None:
    wait_for_samples(tab.server, "shop_requests_total", 3)
    wait_for_samples(tab.server, "shop_queue_depth", 1)
    page = tab.open("#/metrics?from=-5m")
    page.get_by_test_id("promql").fill("sum by (route) (shop_requests_total)")
    page.get_by_test_id("promql").press("Enter")
    chart = page.get_by_test_id("promql-chart")
    expect(chart).to_have_attribute("data-series", "3")
    legend = page.get_by_test_id("promql-chart-legend")
    labels = legend.locator(".ts-label").all_inner_texts()
    assert sorted(labels) == sorted(['{route="/cart"}', '{route="/pay"}', f'{{route="{IMG}"}}'])
    expect(legend.get_by_test_id("series").filter(has_text="/cart").locator("b")).to_have_text("30")
    assert "q=sum" in page.url  # the query is in the URL, to share
    page.goto(f"{page.url}&service=checkout")
    expect(page.get_by_test_id("red-status")).to_contain_text("buckets")
    assert page.evaluate("() => document.querySelectorAll('#page :is(script, img)').length") == 0
    assert tab.dialogs == []


def test_a_bad_promql_query_shows_the_servers_message(tab: UI) -> None:
    page = tab.open("#/metrics?from=-5m&q=sum(")
    message = page.get_by_test_id("promql-chart-message")
    expect(message).to_contain_text("PromQL error:")
    expect(message).to_have_class("ts-message error-text")


def legend_values(page: Page) -> dict[str, str]:
    """The legend as a user reads it: series label (with its query letter) → value."""
    items = page.get_by_test_id("promql-chart-legend").get_by_test_id("series")
    out = {}
    for item in items.all():
        query = item.get_attribute("data-query") or ""
        label = item.locator(".ts-label").inner_text()
        out[f"{query} {label}".strip()] = item.locator("b").inner_text()
    return out


def test_several_queries_share_one_chart_each_series_marked_with_its_query(tab: UI) -> None:
    wait_for_samples(tab.server, "shop_queue_depth", 1)
    page = tab.open("#/metrics?from=-5m")
    page.get_by_test_id("promql").fill("shop_queue_depth")
    page.get_by_test_id("add-query").click()
    page.get_by_test_id("promql-B").fill("sum(shop_requests_total)")
    page.get_by_test_id("promql-run").click()
    chart = page.get_by_test_id("promql-chart")
    expect(chart).to_have_attribute("data-series", "2")
    expect(page.get_by_test_id("series-query")).to_have_text(["A", "B"])
    values = legend_values(page)
    assert values["B {}"] == "34", values
    assert values["A shop_queue_depth{instance=" + values_key(values, "A")] in ("7", "9")
    assert "q=shop_queue_depth" in page.url and "q2=sum" in page.url
    rows = page.get_by_test_id("query-row")
    expect(rows.get_by_test_id("query-status")).to_have_text(["1 series", "1 series"])

    page.reload()  # the queries come back from the URL
    expect(page.get_by_test_id("promql-B")).to_have_value("sum(shop_requests_total)")
    expect(chart).to_have_attribute("data-series", "2")
    rows.nth(1).get_by_test_id("remove-query").click()
    expect(chart).to_have_attribute("data-series", "1")
    expect(rows).to_have_count(1)
    assert "q2=" not in page.url
    assert [e for e in tab.errors if e.startswith("pageerror")] == []


def values_key(values: dict[str, str], query: str) -> str:
    """The rest of the one key of ``query`` after its metric name and ``{instance=``."""
    prefix = f"{query} shop_queue_depth{{instance="
    (key,) = [k for k in values if k.startswith(prefix)]
    return key[len(prefix) :]


def test_the_y_axis_unit_follows_the_metric_name(tab: UI) -> None:
    wait_for_samples(tab.server, "shop_cache_bytes", 1)
    cases = {
        "shop_checkout_duration_seconds": "4.2 ms",
        "shop_cache_bytes": "3 MiB",
        "sum(rate(shop_requests_total[1m]))": "/s",
    }
    for query, shown in cases.items():
        page = tab.open(f"#/metrics?from=-5m&q={quote(query)}")
        legend = page.get_by_test_id("promql-chart-legend").get_by_test_id("series").first
        if shown.startswith("/"):
            expect(legend.locator("b")).to_have_text(re.compile(r"^[\d.]+(k|M)?/s$"))
        else:
            expect(legend.locator("b")).to_have_text(shown)


def test_an_instant_query_shows_a_table_and_a_range_query_takes_a_step(tab: UI) -> None:
    wait_for_samples(tab.server, "shop_requests_total", 3)
    page = tab.open(f"#/metrics?from=-5m&mode=instant&q={quote('sum(shop_requests_total)')}")
    expect(page.get_by_test_id("mode-instant")).to_have_attribute("aria-checked", "true")
    table = page.get_by_test_id("instant-table")
    expect(table.get_by_test_id("instant-row")).to_have_count(1)
    expect(table.get_by_test_id("instant-row").locator("td").last).to_have_text("34")
    expect(page.get_by_test_id("promql-chart")).to_be_hidden()
    expect(page.get_by_test_id("step")).to_be_disabled()

    page.get_by_test_id("mode-range").click()
    assert "mode=" not in page.url
    expect(page.get_by_test_id("promql-chart")).to_have_attribute("data-series", "1")
    expect(page.get_by_test_id("promql-status")).to_contain_text("(auto)")
    page.get_by_test_id("step").fill("30s")
    page.get_by_test_id("step").press("Enter")
    expect(page.get_by_test_id("promql-status")).to_contain_text("step 30 s ·")
    assert "step=30s" in page.url


def test_auto_refresh_runs_the_queries_again(tab: UI, exporter: tuple[int, Gauge]) -> None:
    _, depth = exporter
    depth.set(7)
    wait_for_samples(tab.server, "shop_queue_depth == 7", 1)
    page = tab.open("#/metrics?from=-5m&q=shop_queue_depth")
    value = page.get_by_test_id("promql-chart-legend").get_by_test_id("series").locator("b")
    expect(value).to_have_text("7")
    page.get_by_test_id("auto-refresh").select_option("5s")
    expect(page).to_have_url(re.compile(r"refresh=5s"))
    depth.set(9)
    expect(value).to_have_text("9", timeout=15_000)  # no click: the page ran it again
    depth.set(7)
