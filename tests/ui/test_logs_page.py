"""The Logs page in a real browser against the real server."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

import pytest

from tests.ui.browser import UI, require_chromium, sample_logs

require_chromium()

from playwright.sync_api import Page, expect  # noqa: E402

pytestmark = pytest.mark.e2e

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def loaded(ui: UI, route: str = "#/logs?from=-1h", count: int = 400) -> Page:
    ui.post_logs(sample_logs(count))
    ui.post_logs(
        [
            {
                "service": "payments",
                "host": "web-2",
                "level": "error",
                "logger": "payments.http",
                "message": "card declined by issuer",
                "trace_id": TRACE,
                "span_id": "00f067aa0ba902b7",
                "customer": {"id": 4711, "tier": "gold"},
                "http": {"status": 402, "method": "POST"},
            }
        ]
    )
    page = ui.open(route)
    expect(page.locator("tr.row").first).to_be_visible()
    expect(page.get_by_test_id("histogram")).to_have_attribute("data-total", re.compile(r"^[1-9]"))
    return page


def test_a_search_filters_the_rows(ui: UI) -> None:
    page = loaded(ui)
    page.get_by_test_id("query").fill('service:payments "declined"')
    page.get_by_test_id("query").press("Enter")
    expect(page.locator("tr.row")).to_have_count(1)
    expect(page.locator("tr.row td.c-message")).to_have_text("card declined by issuer")
    assert "q=service%3Apayments" in page.url or "q=service:payments" in unquote(page.url)
    expect(page.get_by_test_id("summary")).to_contain_text("1 log ·")


def test_clicking_a_facet_value_adds_it_to_the_query_and_filters(ui: UI) -> None:
    page = loaded(ui)
    expect(page.locator(".facet[data-field=host] .facet-value").first).to_be_visible()
    page.locator('.facet[data-field=service] .facet-value[data-term="service:auth"]').click()
    expect(page.get_by_test_id("query")).to_have_value("service:auth")
    expect(page.locator("tr.row td.c-service").first).to_have_text("auth")
    assert set(page.locator("tr.row td.c-service").all_inner_texts()) == {"auth"}
    page.locator('.facet[data-field=level] .facet-value[data-term="level:ERROR"]').click()
    expect(page.get_by_test_id("query")).to_have_value("service:auth level:ERROR")
    expect(page.locator(".facet[data-field=level] .facet-value")).to_have_count(1)
    assert set(page.locator("tr.row .level").all_inner_texts()) == {"ERROR"}


def test_attribute_keys_get_facets_too(ui: UI) -> None:
    page = loaded(ui)
    facet = page.locator('.facet[data-field="http.status"]')
    expect(facet.locator(".facet-value").first).to_be_visible()
    facet.locator('.facet-value[data-term="http.status:404"]').click()
    expect(page.get_by_test_id("query")).to_have_value("http.status:404")
    expect(page.locator("tr.row").first).to_be_visible()


def test_the_histogram_stacks_levels_and_counts_every_line(ui: UI) -> None:
    page = loaded(ui)
    histogram = page.get_by_test_id("histogram")
    expect(histogram).to_have_attribute("data-total", "401")
    assert 30 <= int(histogram.get_attribute("data-buckets") or 0) <= 90
    expect(histogram.locator("canvas")).to_have_count(1)
    legend = histogram.locator(".hist-legend")
    for level in ("ERROR", "WARN", "INFO", "DEBUG"):
        expect(legend).to_contain_text(level)
    expect(legend.locator(".hist-caption")).to_have_text("401 logs · 1m buckets")
    box = histogram.locator(".u-over").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2)
    expect(legend.locator(".hist-caption")).to_have_text(
        re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
    )


def test_dragging_across_the_histogram_zooms_the_time_range(ui: UI) -> None:
    page = loaded(ui)
    box = page.locator("[data-testid=histogram] .u-over").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.5, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, y, steps=8)
    page.mouse.move(box["x"] + box["width"] * 0.9, y, steps=8)
    page.mouse.up()
    expect(page).to_have_url(re.compile(r"from=20\d\d-"))
    assert "to=20" in page.url
    expect(page.get_by_test_id("range")).to_contain_text("→")
    total = int(page.get_by_test_id("histogram").get_attribute("data-total") or 0)
    expect(page.get_by_test_id("histogram")).not_to_have_attribute("data-total", "401")
    assert total <= 401


def test_live_tail_shows_a_new_line_within_two_seconds_of_its_post(ui: UI) -> None:
    page = loaded(ui, count=50)
    page.get_by_test_id("live").click()
    expect(page.get_by_test_id("live")).to_have_attribute("data-state", "open")
    marker = f"tail marker {time.time_ns()}"
    started = time.monotonic()
    ui.post_logs([{"service": "checkout", "level": "warn", "message": marker, "host": "web-9"}])
    expect(page.locator("tr.row").first.locator("td.c-message")).to_have_text(marker, timeout=2000)
    assert time.monotonic() - started < 2.0
    # the tail follows the query: a line that does not match never shows up
    page.get_by_test_id("query").fill("service:checkout")
    page.get_by_test_id("query").press("Enter")
    expect(page).to_have_url(re.compile(r"q=service%3Acheckout"))
    # The new query re-subscribes the tail; a post racing that reconnection may land
    # before it, so post again until a matching line arrives (the 2 s bound is above).
    first = page.locator("tr.row").first.locator("td.c-message")
    for attempt in range(5):
        expect(page.get_by_test_id("live")).to_have_attribute("data-state", "open")
        ui.post_logs(
            [
                {"service": "auth", "message": "not for this tail"},
                {"service": "checkout", "message": f"second marker {attempt}"},
            ]
        )
        try:
            expect(first).to_contain_text("second marker", timeout=2000)
            break
        except AssertionError:
            continue
    expect(first).to_contain_text("second marker")
    expect(page.get_by_text("not for this tail")).to_have_count(0)
    page.get_by_test_id("live").click()
    expect(page.get_by_test_id("live")).to_have_attribute("data-state", "off")


def test_expanding_a_record_shows_all_its_fields_and_attributes(ui: UI) -> None:
    page = loaded(ui, route="#/logs?q=declined&from=-1h")
    row = page.locator("tr.row").first
    row.click()
    expect(row).to_have_attribute("aria-expanded", "true")
    record = page.get_by_test_id("record")
    expect(record).to_be_visible()
    expect(record.locator('tr[data-field="customer.id"] .kv-value')).to_have_text("4711")
    expect(record.locator('tr[data-field="customer.tier"] .kv-value')).to_have_text("gold")
    expect(record.locator('tr[data-field="http.status"] .kv-value')).to_have_text("402")
    expect(record.locator('tr[data-field="logger"] .kv-value')).to_have_text("payments.http")
    record.locator("details.raw summary").click()
    raw = record.locator("details.raw pre").inner_text()
    assert '"customer": {\n      "id": 4711,' in raw  # pretty-printed, inside attributes
    record.locator('tr[data-field="customer.tier"] button', has_text="+").click()
    expect(page.get_by_test_id("query")).to_have_value("declined customer.tier:gold")
    row.click()


def test_a_trace_id_is_a_link_to_its_trace_and_back_to_its_logs(ui: UI) -> None:
    page = loaded(ui, route="#/logs?q=declined&from=-1h")
    link = page.locator("tr.row td.c-trace a")
    expect(link).to_have_attribute("href", f"#/traces/{TRACE}")
    link.click()
    expect(page).to_have_url(re.compile(f"#/traces/{TRACE}$"))
    expect(page.get_by_test_id("trace-id")).to_have_text(TRACE)
    expect(page.get_by_test_id("trace-not-found")).to_contain_text("Trace not found")
    page.get_by_test_id("trace-logs").click()
    expect(page.get_by_test_id("query")).to_have_value(f"trace_id:{TRACE}")
    expect(page.locator("tr.row")).to_have_count(1)


def test_context_shows_the_lines_around_a_record_from_its_service_and_host(ui: UI) -> None:
    base = time.time() - 120
    lines = [
        {"@timestamp": base + i, "service": "ledger", "host": "db-1", "message": f"step {i}"}
        for i in range(30)
    ]
    lines += [
        {
            "@timestamp": base + i + 0.5,
            "service": "ledger",
            "host": "db-2",
            "message": f"other host {i}",
        }
        for i in range(30)
    ]
    ui.post_logs(lines)
    page = ui.open('#/logs?q="step 15"&from=-1h')
    expect(page.locator("tr.row")).to_have_count(1)
    page.locator("tr.row").first.click()
    page.get_by_test_id("context-button").click()
    context = page.get_by_test_id("context")
    expect(context.locator(".ctx-line")).to_have_count(21)
    messages = context.locator(".ctx-msg").all_inner_texts()
    assert messages == [f"step {i}" for i in range(5, 26)]
    expect(context.locator(".ctx-line.current .ctx-msg")).to_have_text("step 15")


def test_a_query_error_is_shown_with_its_column(ui: UI) -> None:
    page = ui.open("#/logs?q=service:(payments")
    error = page.get_by_test_id("query-error")
    expect(error).to_contain_text("Query error")
    expect(error.locator(".caret")).to_contain_text("^")


def test_syntax_help_examples_run_and_recent_queries_are_offered(ui: UI) -> None:
    page = loaded(ui)
    page.get_by_test_id("syntax-help").click()
    help_box = page.get_by_test_id("help")
    expect(help_box).to_be_visible()
    help_box.locator("button.example", has_text="level:error | stats count() by service").click()
    expect(help_box).to_be_hidden()
    expect(page.get_by_test_id("table")).to_contain_text("count()")
    query = page.get_by_test_id("query")
    query.fill("service:gateway")
    query.press("Enter")
    expect(page.locator("tr.row td.c-service").first).to_have_text("gateway")
    query.fill("")
    query.focus()
    recent = page.locator(".recent-popover")
    expect(recent).to_be_visible()
    expect(recent.locator(".recent-item")).to_have_text(
        ["service:gateway", "level:error | stats count() by service"]
    )
    recent.locator(".recent-item", has_text="level:error").click()
    expect(query).to_have_value("level:error | stats count() by service")


def test_the_time_range_picker_puts_the_range_in_the_url(ui: UI) -> None:
    page = loaded(ui, route="#/logs")
    expect(page.get_by_test_id("range")).to_contain_text("Last 15 minutes")
    page.get_by_test_id("range").click()
    page.get_by_role("button", name="Last 6 hours").click()
    expect(page).to_have_url(re.compile("from=-6h"))
    expect(page.get_by_test_id("range")).to_contain_text("Last 6 hours")
    page.get_by_test_id("range").click()
    page.get_by_test_id("range-from").fill("2020-01-01T00:00:00")
    page.get_by_test_id("range-to").fill("2020-01-02T00:00:00")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(
        re.compile("from=2020-01-01T00%3A00%3A00.000Z|from=2020-01-01T00:00:00.000Z")
    )
    expect(page.locator("tr.empty")).to_contain_text("No logs match")
    page.go_back()
    expect(page).to_have_url(re.compile("from=-6h"))
    expect(page.locator("tr.row").first).to_be_visible()


IMG = "<img src=x onerror=alert(1)>"


def column_texts(page: Page, field: str) -> list[str]:
    return page.locator(f'tr.row td.c-extra[data-field="{field}"]').all_inner_texts()


def test_a_field_added_as_a_column_from_a_facet_or_a_record_is_kept_in_the_link(
    ui: UI,
) -> None:
    ui.post_logs([{"service": "billing", "message": "hostile note", "note": IMG}])
    page = loaded(ui)
    facet = page.locator('.facet[data-field="latency_ms"]')
    facet.hover()
    facet.get_by_test_id("facet-column").click()
    expect(page).to_have_url(re.compile(r"cols=latency_ms(&|$)"))
    header = page.locator('th[data-field="latency_ms"]')
    expect(header).to_contain_text("latency_ms")
    cells = page.locator('tr.row td.c-extra[data-field="latency_ms"]')
    expect(cells.filter(has_text=re.compile(r"^\d+$")).first).to_be_visible()
    # from the expanded record: a nested attribute, then a field whose value is markup
    page.get_by_test_id("query").fill("declined OR hostile")
    page.get_by_test_id("query").press("Enter")
    expect(page.locator("tr.row")).to_have_count(2)
    page.locator("tr.row", has_text="card declined").click()
    record = page.get_by_test_id("record")
    record.locator('tr[data-field="customer.tier"]').get_by_test_id("toggle-column").click()
    expect(page).to_have_url(re.compile(r"cols=latency_ms%2Ccustomer\.tier"))
    page.locator("tr.row", has_text="hostile note").click()
    page.get_by_test_id("record").locator('tr[data-field="note"]').get_by_test_id(
        "toggle-column"
    ).click()
    expect(page.locator('th[data-field="note"]')).to_have_count(1)
    assert sorted(column_texts(page, "customer.tier")) == ["", "gold"]
    assert sorted(column_texts(page, "note")) == ["", IMG]
    assert page.locator("#page img").count() == 0

    # the link alone reproduces the view
    url = page.url
    again = ui.page.context.new_page()
    again.goto(url)
    expect(again.locator("thead th.c-extra")).to_have_count(3)
    assert [h.get_attribute("data-field") for h in again.locator("thead th.c-extra").all()] == [
        "latency_ms",
        "customer.tier",
        "note",
    ]
    again.close()

    page.locator('th[data-field="customer.tier"]').get_by_test_id("remove-column").click()
    expect(page.locator('th[data-field="customer.tier"]')).to_have_count(0)
    expect(page).to_have_url(re.compile(r"cols=latency_ms%2Cnote(&|$)"))
    assert ui.dialogs == []
    assert ui.errors == []


def test_sorting_by_a_column_orders_every_match_not_only_the_rows_shown(ui: UI) -> None:
    latencies = [int(r["latency_ms"]) for r in sample_logs(400)]
    page = loaded(ui, route="#/logs?from=-1h&limit=100&cols=latency_ms")
    time_header = page.locator('th[data-field="timestamp"]')
    expect(time_header).to_have_attribute("aria-sort", "descending")
    header = page.locator('th[data-field="latency_ms"]')
    header.get_by_test_id("sort").click()
    expect(page).to_have_url(re.compile(r"sort=-latency_ms"))
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(page.locator("tr.row td.c-extra").first).to_have_text(str(max(latencies)))
    shown = [int(v) for v in column_texts(page, "latency_ms")]
    assert shown == sorted(latencies, reverse=True)[:100]

    header.get_by_test_id("sort").click()
    expect(page).to_have_url(re.compile(r"sort=%2Blatency_ms|sort=\+latency_ms"))
    expect(page.locator("tr.row td.c-extra").first).to_have_text(str(min(latencies)))
    expect(header).to_have_attribute("aria-sort", "ascending")

    page.locator('th[data-field="timestamp"]').get_by_test_id("sort").click()
    expect(page).not_to_have_url(re.compile("sort="))
    expect(page.locator('th[data-field="timestamp"]')).to_have_attribute("aria-sort", "descending")
    # a stats query's rows are not log rows: its own pipes decide the order
    ui.open("#/logs?from=-1h&sort=-latency_ms&q=" + quote("| stats count() by service"))
    expect(page.get_by_test_id("table")).to_contain_text("count()")
    assert ui.errors == []


def test_a_numeric_attribute_facet_shows_min_percentiles_and_max(ui: UI) -> None:
    latencies = [int(r["latency_ms"]) for r in sample_logs(400)]
    page = loaded(ui)
    dist = page.locator('.facet[data-field="latency_ms"]').get_by_test_id("distribution")
    expect(dist.locator('[data-stat="min"] dd')).to_have_text(f"{min(latencies):,}")
    expect(dist.locator('[data-stat="max"] dd')).to_have_text(f"{max(latencies):,}")
    expect(dist.locator('[data-stat="p50"] dt')).to_have_text("p50")
    p50 = float(dist.locator('[data-stat="p50"] dd').inner_text().replace(",", ""))
    p99 = float(dist.locator('[data-stat="p99"] dd').inner_text().replace(",", ""))
    assert min(latencies) < p50 < p99 <= max(latencies)
    expect(dist.locator(".dist-count")).to_have_text("400 values")
    # the top values are still there to filter on, and a text field has no distribution
    expect(page.locator('.facet[data-field="latency_ms"] .facet-value').first).to_be_visible()
    region = page.locator('.facet[data-field="region"]')
    expect(region.locator(".facet-value").first).to_be_visible()
    expect(region.get_by_test_id("distribution")).to_have_count(0)
    assert ui.errors == []


def test_stats_by_bin_is_drawn_as_a_chart_above_its_table(ui: UI) -> None:
    ui.post_logs([*sample_logs(400), {"service": IMG, "level": "info", "message": "markup"}])
    page = ui.open("#/logs?from=-1h&q=" + quote("| stats count() by bin(5m), service"))
    chart = page.get_by_test_id("stats-chart")
    expect(chart).to_have_attribute("data-series", "6")
    expect(chart.locator("canvas")).to_have_count(1)
    legend = page.get_by_test_id("stats-chart-legend")
    expect(legend.locator(".ts-label", has_text="service=checkout")).to_have_count(1)
    expect(legend.locator(".ts-label", has_text=f"service={IMG}")).to_have_count(1)
    expect(page.get_by_test_id("table")).to_contain_text("bin(5m)")
    assert page.locator("#page img").count() == 0
    # one aggregate and no group: one line named after the aggregate
    ui.open("#/logs?from=-1h&q=" + quote("| stats p95(latency_ms) by bin(1m)"))
    expect(page.get_by_test_id("stats-chart")).to_have_attribute("data-series", "1")
    expect(page.get_by_test_id("stats-chart-legend")).to_contain_text("p95(latency_ms)")
    # no bin: a table only
    ui.open("#/logs?from=-1h&q=" + quote("| stats count() by service"))
    expect(page.get_by_test_id("table")).to_contain_text("count()")
    expect(page.get_by_test_id("stats-chart")).to_have_count(0)
    assert ui.dialogs == []
    assert ui.errors == []


def test_the_expanded_record_links_to_its_trace_with_its_span_selected(ui: UI) -> None:
    page = loaded(ui, route="#/logs?q=declined&from=-1h")
    page.locator("tr.row").first.click()
    link = page.get_by_test_id("record").get_by_test_id("record-trace")
    expect(link).to_have_text("View trace")
    expect(link).to_have_attribute("href", f"#/traces/{TRACE}?span=00f067aa0ba902b7")
    link.click()
    expect(page.get_by_test_id("trace-id")).to_have_text(TRACE)


def test_times_say_which_time_zone_they_are_in(ui: UI, chromium: Any) -> None:
    at = datetime(2026, 1, 15, 12, 30, 45, 250000, tzinfo=UTC)
    ui.post_logs([{"@timestamp": at.timestamp(), "service": "tz", "message": "zoned line"}])
    route = "#/logs?q=zoned&from=2026-01-15T00:00:00Z&to=2026-01-16T00:00:00Z"
    page = ui.open(route)
    expect(page.locator("tr.row td.c-time")).to_have_text("2026-01-15 12:30:45.250")
    expect(page.get_by_test_id("time-zone")).to_have_text("UTC")

    context = chromium.new_context(timezone_id="Europe/Berlin", locale="en-US")
    try:
        berlin = context.new_page()
        berlin.goto(f"{ui.server.url}/{route}")
        expect(berlin.locator("tr.row td.c-time")).to_have_text("2026-01-15 13:30:45.250")
        marker = berlin.get_by_test_id("time-zone")
        expect(marker).to_have_text("UTC+1")
        expect(marker).to_have_attribute("title", re.compile("Europe/Berlin"))
    finally:
        context.close()


def test_auto_refresh_runs_the_search_again_at_the_chosen_interval(ui: UI) -> None:
    page = loaded(ui, count=20)
    picker = page.get_by_test_id("auto-refresh")
    expect(picker).to_have_value("")
    assert picker.locator("option").all_inner_texts()[1:] == [
        f"Refresh every {v}" for v in ("5s", "10s", "30s", "1m")
    ]
    picker.select_option("5s")
    expect(page).to_have_url(re.compile(r"refresh=5s"))
    marker = f"refreshed {time.time_ns()}"
    ui.post_logs([{"service": "checkout", "level": "info", "message": marker}])
    expect(page.locator("tr.row td.c-message", has_text=marker)).to_have_count(1, timeout=9000)
    # an expanded record stays open: the refresh waits until it is closed
    page.locator("tr.row").first.click()
    second = f"while reading {time.time_ns()}"
    ui.post_logs([{"service": "checkout", "level": "info", "message": second}])
    page.wait_for_timeout(6000)
    expect(page.get_by_test_id("record")).to_be_visible()
    expect(page.locator("tr.row td.c-message", has_text=second)).to_have_count(0)
    page.locator("tr.row").first.click()
    expect(page.locator("tr.row td.c-message", has_text=second)).to_have_count(1, timeout=9000)

    picker.select_option("")
    expect(page).not_to_have_url(re.compile("refresh="))
    page.wait_for_timeout(1000)  # the search the change itself runs
    searches = len([u for u in ui.requests if "/api/v1/search" in u])
    page.wait_for_timeout(6000)
    assert len([u for u in ui.requests if "/api/v1/search" in u]) == searches
    assert ui.errors == []


def test_column_and_sort_helpers_keep_the_url_and_the_query_valid(ui: UI) -> None:
    from tests.ui.test_js_helpers import run

    out = run(
        ui,
        "log-columns.js",
        """
        const row = {service: 's', logger: 'l', attributes: {http: {status: 500}, 'a.b': 1}};
        return {
          cols: m.parseColumns('latency_ms, http.status,,level,<img>,latency_ms'),
          values: ['logger', 'http.status', 'a.b', 'missing'].map((c) => m.columnValue(row, c) ?? null),
          next: [m.nextSort('', 'latency_ms'), m.nextSort('-latency_ms', 'latency_ms'),
                 m.nextSort('+latency_ms', 'latency_ms'), m.nextSort('', 'timestamp'),
                 m.nextSort('+timestamp', 'timestamp'), m.nextSort('-latency_ms', 'level')],
          queries: [m.sortedQuery('', '-latency_ms'), m.sortedQuery('level:error', '+host'),
                    m.sortedQuery('x | limit 5', '-host'), m.sortedQuery('| stats count()', '-n'),
                    m.sortedQuery('x', ''), m.sortedQuery('x', '-bad name')],
        };
        """,
    )
    assert out == {
        "cols": ["latency_ms", "http.status"],
        "values": ["l", 500, 1, None],
        "next": ["-latency_ms", "+latency_ms", "-latency_ms", "+timestamp", "", "-level"],
        "queries": [
            "| sort -latency_ms",
            "level:error | sort +host",
            "x | limit 5",
            "| stats count()",
            "x",
            "x",
        ],
    }
