"""The Service map page in a real browser: services, calls, RED figures, click-through."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from tests.ui.browser import UI, require_chromium
from tests.ui.test_traces_page import IMG, checkout_trace, post_spans, span

require_chromium()

from playwright.sync_api import Page, expect  # noqa: E402

pytestmark = pytest.mark.e2e


def wait_for_links(ui: UI, count: int) -> None:
    """The linker appends the per-minute counts about every second."""
    deadline = time.monotonic() + 15
    links: list[object] = []
    while time.monotonic() < deadline:
        end = int(time.time() * 1000)
        links = httpx.get(
            f"{ui.server.url}/api/v2/dependencies", params={"endTs": end, "lookback": 3_600_000}
        ).json()
        if len(links) >= count:
            return
        time.sleep(0.2)
    raise AssertionError(f"expected {count} links, have {links}")


def mapped(ui: UI) -> Page:
    post_spans(ui, checkout_trace())
    wait_for_links(ui, 2)
    page = ui.open("#/map?from=-1h")
    expect(page.locator("svg.map-svg g.map-node")).to_have_count(3)
    return page


def test_the_map_shows_services_calls_and_red_figures(ui: UI) -> None:
    page = mapped(ui)
    expect(page.locator("#nav a[data-page=service-map]")).to_have_attribute("aria-current", "page")
    nodes = page.locator("g.map-node")
    assert sorted(n.get_attribute("data-service") or "" for n in nodes.all()) == [
        "gateway",
        "orders",
        "payments",
    ]
    edges = page.locator("g.map-edge")
    expect(edges).to_have_count(2)
    first = page.locator('text.map-edge-label[data-parent="gateway"][data-child="orders"]')
    expect(first).to_have_text("1 call")
    failing = page.locator('text.map-edge-label[data-parent="orders"][data-child="payments"]')
    expect(failing).to_have_text("1 call · 100% err")
    expect(page.locator('g.map-edge.error[data-parent="orders"]')).to_have_count(1)
    payments = page.locator('g.map-node[data-service="payments"]')
    expect(payments).to_have_class(re.compile(r"\berror\b"))
    expect(payments.locator("text.map-node-red").first).to_contain_text("100% err")
    expect(payments.locator("text.map-node-red").nth(1)).to_contain_text("p95 76.0 ms")
    expect(
        page.locator('g.map-node[data-service="gateway"] text.map-node-red').nth(1)
    ).to_contain_text("p95 120 ms")
    # callers left of callees
    xs = {name: column(page, name) for name in ("gateway", "orders", "payments")}
    assert xs["gateway"] < xs["orders"] < xs["payments"]
    expect(page.locator(".map-edge-table tbody tr")).to_have_count(2)
    # rates are per second of the time with spans, and the summary says which time
    expect(page.get_by_test_id("summary")).to_have_text(
        re.compile(r"^3 services · 2 links · rates over the last \d+ s \(the time with spans\)$")
    )
    assert ui.errors == []


def call(
    spans: list[dict[str, Any]],
    trace: str,
    base: int,
    parent: str | None,
    edge: tuple[str, str, str],
    at: float,
    ms: float,
    error: bool = False,
) -> str:
    """A CLIENT span of the caller and the callee's SERVER span under it; the server id."""
    caller, callee, op = edge
    client = f"{trace[-8:]}{len(spans) + 1:08x}"
    server = f"{trace[-8:]}{len(spans) + 2:08x}"
    spans.append(span(trace, client, parent, caller, op, "CLIENT", at, ms, base, remote=callee))
    tags = {"tags": {"error": "upstream timeout"}} if error else {}
    spans.append(span(trace, server, client, callee, op, "SERVER", at + 1, ms - 2, base, **tags))
    return server


def fleet_traces(count: int = 24) -> list[dict[str, Any]]:
    """A small shop: gateway calls auth, catalog and orders; orders calls payments and
    inventory; payments fails now and then, and inventory calls the catalog."""
    spans: list[dict[str, Any]] = []
    now = time.time()
    for i in range(count):
        trace = f"{0xF000 + i:016x}{i + 1:016x}"
        base = int((now - 30 - i * 40) * 1_000_000)
        root = f"{trace[-8:]}{0:08x}"
        spans.append(span(trace, root, None, "gateway", "get /checkout", "SERVER", 0, 180, base))
        call(spans, trace, base, root, ("gateway", "auth", "verify"), 2, 12)
        if i % 2 == 0:
            call(spans, trace, base, root, ("gateway", "catalog", "get /items"), 16, 20)
        orders = call(spans, trace, base, root, ("gateway", "orders", "post /orders"), 40, 130)
        stock = call(spans, trace, base, orders, ("orders", "inventory", "reserve"), 45, 30)
        if i % 3 == 0:
            call(spans, trace, base, stock, ("inventory", "catalog", "get /items"), 50, 15)
        call(spans, trace, base, orders, ("orders", "payments", "charge"), 80, 80, i % 5 == 0)
    return spans


def column(page: Page, service: str) -> int:
    box = page.locator(f'g.map-node[data-service="{service}"]').bounding_box()
    assert box is not None
    return round(box["x"])


def test_a_bigger_map_is_laid_out_by_call_direction(ui: UI) -> None:
    post_spans(ui, fleet_traces())
    wait_for_links(ui, 6)
    page = ui.open("#/map?from=-1h")
    expect(page.locator("g.map-node")).to_have_count(6)
    expect(page.locator("g.map-edge")).to_have_count(6)
    x = {
        name: column(page, name)
        for name in ("gateway", "auth", "orders", "inventory", "payments", "catalog")
    }
    assert x["gateway"] < x["auth"] == x["orders"] < x["payments"] == x["inventory"] < x["catalog"]
    expect(
        page.locator('text.map-edge-label[data-parent="orders"][data-child="payments"]')
    ).to_have_text("24 calls · 21% err")
    assert ui.errors == []


def test_clicking_a_service_opens_its_traces(ui: UI) -> None:
    page = mapped(ui)
    page.locator('g.map-node[data-service="orders"]').click()
    expect(page).to_have_url(re.compile(r"#/traces\?service=orders&from=-1h$"))
    expect(page.get_by_test_id("service")).to_have_value("orders")
    expect(page.locator("tr.trace-row")).to_have_count(1)
    assert ui.errors == []


def test_an_empty_range_says_so(ui: UI) -> None:
    page = ui.open("#/service-map")
    expect(page.get_by_test_id("map")).to_contain_text("No spans in this time range")
    assert ui.errors == []


def test_markup_in_service_names_is_shown_as_text(ui: UI) -> None:
    trace = "6666666666666666bbbbbbbbbbbbbbbb"
    base = int((time.time() - 10) * 1_000_000)
    post_spans(
        ui,
        [
            span(trace, "d000000000000001", None, "web", "get /", "SERVER", 0, 50, base),
            span(
                trace, "d000000000000002", "d000000000000001", "web", "call", "CLIENT", 2, 40, base
            ),
            span(trace, "d000000000000003", "d000000000000002", IMG, IMG, "SERVER", 3, 38, base),
        ],
    )
    wait_for_links(ui, 1)
    page = ui.open("#/map?from=-1h")
    node = page.locator("g.map-node").filter(
        has=page.locator("text.map-node-name", has_text="<img")
    )
    expect(node).to_have_count(1)
    expect(page.locator(".map-edge-table tbody td").nth(1)).to_have_text(IMG)
    time.sleep(0.3)
    assert page.locator("#page img").count() == 0
    assert ui.dialogs == []
    assert ui.errors == []


def test_layers_follow_calls_and_survive_cycles(ui: UI) -> None:
    from tests.ui.test_js_helpers import run

    out = run(
        ui,
        "pages/service-map.js",
        """
        const l = (parent, child) => ({parent, child});
        const layers = m.layers(['a', 'b', 'c', 'd', 'lone'],
          [l('a', 'b'), l('b', 'c'), l('a', 'c'), l('c', 'a'), l('c', 'd'), l('d', 'd')]);
        return Object.fromEntries(layers);
        """,
    )
    assert out == {"a": 0, "b": 1, "c": 2, "d": 3, "lone": 0}


LABEL_GEOMETRY = """() => {
  const inside = (p, b, pad) => p.x > b.x - pad && p.x < b.x + b.width + pad
    && p.y > b.y - pad && p.y < b.y + b.height + pad;
  const out = [];
  for (const text of document.querySelectorAll('text.map-edge-label')) {
    const key = `[data-parent="${CSS.escape(text.dataset.parent)}"][data-child="${CSS.escape(text.dataset.child)}"]`;
    const box = text.getBBox();
    const bg = document.querySelector(`rect.map-edge-label-bg${key}`).getBBox();
    const own = document.querySelector(`g.map-edge${key} path`);
    const crossings = [];
    for (const path of document.querySelectorAll('g.map-edge path')) {
      const length = path.getTotalLength();
      for (let s = 0; s <= length; s += 1) {
        if (inside(path.getPointAtLength(s), box, path === own ? 2 : 0)) {
          crossings.push(path.parentNode.dataset.parent + '>' + path.parentNode.dataset.child);
          break;
        }
      }
    }
    const m = own.getPointAtLength(own.getTotalLength() / 2);
    out.push({
      edge: text.dataset.parent + '>' + text.dataset.child, box: [box.x, box.y, box.width, box.height],
      covered: bg.x <= box.x && bg.y <= box.y && bg.x + bg.width >= box.x + box.width
        && bg.y + bg.height >= box.y + box.height,
      crossings, fromMid: Math.hypot(m.x - (box.x + box.width / 2), m.y - (box.y + box.height / 2)),
    });
  }
  return out;
}"""


def test_edge_labels_sit_by_their_curve_on_a_background_and_no_curve_runs_through_them(
    ui: UI,
) -> None:
    post_spans(ui, fleet_traces())
    wait_for_links(ui, 6)
    page = ui.open("#/map?from=-1h")
    expect(page.locator("text.map-edge-label")).to_have_count(6)
    labels = page.evaluate(LABEL_GEOMETRY)
    for label in labels:
        assert label["covered"], label  # a background behind the whole text
        assert label["crossings"] == [], label  # neither its own curve nor another
    # one-gap edges: the label is by its curve's midpoint, not somewhere off it
    by_edge = {label["edge"]: label for label in labels}
    assert by_edge["gateway>orders"]["fromMid"] < 40, by_edge["gateway>orders"]
    assert by_edge["orders>payments"]["fromMid"] < 40, by_edge["orders>payments"]
    boxes = [label["box"] for label in labels]
    for i, (x, y, w, h) in enumerate(boxes):  # and no label covers another
        for x2, y2, w2, h2 in boxes[i + 1 :]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y, (boxes[i], x2, y2)
    assert ui.errors == []


def test_the_map_refreshes_itself_at_the_chosen_interval(ui: UI) -> None:
    page = ui.open("#/map?from=-1h")
    expect(page.get_by_test_id("map")).to_contain_text("No spans in this time range")
    page.get_by_test_id("auto-refresh").select_option("5s")
    expect(page).to_have_url(re.compile(r"refresh=5s"))
    post_spans(ui, checkout_trace())
    wait_for_links(ui, 2)
    # no click, no reload: the next tick draws the new services
    expect(page.locator("svg.map-svg g.map-node")).to_have_count(3, timeout=12_000)
    page.reload()
    expect(page.get_by_test_id("auto-refresh")).to_have_value("5s")
    page.get_by_test_id("auto-refresh").select_option("")
    expect(page).not_to_have_url(re.compile(r"refresh="))
    assert ui.errors == []
