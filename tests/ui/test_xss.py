"""Markup inside log data is shown as literal text and never runs, on every view of it."""

from __future__ import annotations

import re
import time
from urllib.parse import quote

import pytest

from tests.ui.browser import UI, require_chromium
from tests.ui.test_traces_page import post_spans, span

require_chromium()

from playwright.sync_api import Page, expect  # noqa: E402

pytestmark = pytest.mark.e2e

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
SVG = '"><svg onload=alert(1)>'
QUOTE = "' onmouseover='alert(1)' x='"
PAYLOADS = [SCRIPT, IMG, SVG, QUOTE]
INJECTED_ELEMENTS = "() => document.querySelectorAll('#page :is(script, img, svg, iframe)').length"
HANDLER_ATTRIBUTES = """() => [...document.querySelectorAll('#page *')]
    .filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length"""


def hostile_logs() -> list[dict[str, object]]:
    return [
        {
            "message": f"msg {SCRIPT}",
            "service": SCRIPT,
            "host": IMG,
            "logger": SVG,
            "level": "error",
            "trace_id": "abc",
            "attributes_note": SVG,
            SVG: IMG,
            "nested": {"html": IMG, "list": [SCRIPT]},
        },
        {"message": f"img {IMG}", "service": IMG, "host": SVG, "level": SVG, "user": QUOTE},
        {"message": f"svg {SVG}", "service": SVG, "host": SCRIPT, "level": "warn", "why": SCRIPT},
    ]


def assert_nothing_ran(ui: UI, page: Page) -> None:
    page.wait_for_timeout(300)
    assert ui.dialogs == []
    assert page.evaluate(INJECTED_ELEMENTS) == 0
    assert page.evaluate(HANDLER_ATTRIBUTES) == 0


def test_markup_in_messages_services_and_attributes_is_shown_as_text(ui: UI) -> None:
    ui.post_logs(hostile_logs())
    page = ui.open("#/logs?from=-1h")
    expect(page.locator("tr.row")).to_have_count(3)
    services = page.locator("tr.row td.c-service").all_inner_texts()
    assert sorted(services) == sorted([SCRIPT, IMG, SVG])
    messages = page.locator("tr.row td.c-message").all_inner_texts()
    assert sorted(messages) == sorted([f"msg {SCRIPT}", f"img {IMG}", f"svg {SVG}"])
    facet_labels = page.locator(".facet[data-field=service] .facet-label")
    expect(facet_labels).to_have_count(3)
    assert sorted(facet_labels.all_inner_texts()) == sorted([SCRIPT, IMG, SVG])
    for i in range(3):
        page.locator("tr.row").nth(i).click()
    records = page.get_by_test_id("record")
    expect(records).to_have_count(3)
    detail_text = " ".join(records.all_inner_texts())
    for payload in PAYLOADS:
        assert payload in detail_text, payload
    # a field named like markup is shown as its name, filterable by nothing that breaks out
    expect(page.locator("tr.detail .kv th", has_text=SVG)).to_have_count(1)
    page.get_by_test_id("context-button").first.click()
    expect(page.get_by_test_id("context").first.locator(".ctx-line")).not_to_have_count(0)
    assert_nothing_ran(ui, page)


def test_a_facet_click_on_a_hostile_value_quotes_it_into_the_query(ui: UI) -> None:
    ui.post_logs(hostile_logs())
    page = ui.open("#/logs?from=-1h")
    page.locator(".facet[data-field=service] .facet-value", has_text=SVG).click()
    expect(page.get_by_test_id("query")).to_have_value('service:"\\"><svg onload=alert(1)>"')
    expect(page.locator("tr.row")).to_have_count(1)
    expect(page.locator("tr.row td.c-service")).to_have_text(SVG)
    assert_nothing_ran(ui, page)


def test_live_tail_and_the_lake_show_markup_as_text(ui: UI) -> None:
    page = ui.open("#/logs?from=-1h")
    page.get_by_test_id("live").click()
    expect(page.get_by_test_id("live")).to_have_attribute("data-state", "open")
    ui.post_logs(hostile_logs())
    expect(page.locator("tr.row")).to_have_count(3, timeout=3000)
    assert sorted(page.locator("tr.row td.c-service").all_inner_texts()) == sorted(
        [SCRIPT, IMG, SVG]
    )
    assert_nothing_ran(ui, page)
    page.get_by_test_id("live").click()
    ui.open("#/lake")
    page.get_by_test_id("sql").fill(
        "SELECT service, host, message, attributes FROM logs ORDER BY message"
    )
    page.get_by_test_id("run").click()
    cells = page.get_by_test_id("table").locator("tbody td")
    expect(cells.first).to_be_visible()
    text = " ".join(cells.all_inner_texts())
    for payload in PAYLOADS:
        assert payload in text
    assert_nothing_ran(ui, page)


def test_markup_in_the_url_is_shown_as_text(ui: UI) -> None:
    page = ui.open(f"#/traces/{quote(SVG + IMG, safe='')}")
    expect(page.get_by_test_id("trace-id")).to_have_text(SVG + IMG)
    ui.open(f"#/logs?q={quote(SCRIPT)}&from={quote(IMG)}")
    expect(page.get_by_test_id("query")).to_have_value(SCRIPT)
    time.sleep(0.3)
    assert_nothing_ran(ui, page)


def test_markup_in_an_error_span_and_its_circuit_link_is_shown_as_text(ui: UI) -> None:
    """The waterfall's link from a failing span to its service's circuits carries the
    service and the service it called as text, and escaped in the link's address."""
    trace = "c" * 32
    base = int((time.time() - 30) * 1_000_000)
    post_spans(
        ui,
        [
            span(trace, "c000000000000001", None, SCRIPT, IMG, "SERVER", 0, 50, base),
            span(trace, "c000000000000002", "c000000000000001", SCRIPT, SVG, "CLIENT", 5, 40,
                 base, remote=QUOTE, tags={"error": IMG}),
        ],
    )  # fmt: skip
    page = ui.open(f"#/traces/{trace}")
    link = page.get_by_test_id("circuit-link")
    expect(link).to_have_count(1)
    expect(link).to_have_text(SCRIPT)
    assert quote(SCRIPT, safe="") in (link.get_attribute("href") or "")
    link.click()
    expect(page).to_have_url(re.compile(r"#/circuits\?"))
    assert_nothing_ran(ui, page)
