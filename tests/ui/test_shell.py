"""The shell in a real browser: every page loads cleanly, routes are deep links."""

from __future__ import annotations

import re

import pytest

from tests.ui.browser import UI, require_chromium, sample_logs

require_chromium()

from playwright.sync_api import expect  # noqa: E402

PAGES = ["logs", "traces", "service-map", "metrics", "circuits", "alerts", "services", "lake"]


@pytest.mark.e2e
def test_every_page_loads_without_console_errors(ui: UI) -> None:
    ui.post_logs(sample_logs(60))
    page = ui.open("#/logs")
    expect(page.locator("tr.row").first).to_be_visible()
    expect(page.locator("[data-testid=histogram] canvas").first).to_be_visible()
    expect(page.locator(".facet[data-field=service] .facet-value").first).to_be_visible()
    for name in PAGES:
        page.locator(f"#nav a[data-page={name}]").click()
        expect(page).to_have_url(re.compile(f"#/{name}"))
        expect(page.locator(f"#nav a[data-page={name}]")).to_have_attribute("aria-current", "page")
        expect(page.locator(f"#page .page-{name}")).to_be_visible()
        page.wait_for_load_state("networkidle")
    page.reload()
    expect(page.locator("#page .page-lake")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert ui.errors == []


@pytest.mark.e2e
def test_a_deep_link_opens_the_logs_page_with_its_query_and_range(ui: UI) -> None:
    ui.post_logs(sample_logs(80))
    page = ui.open("#/logs?q=service:auth&from=-1h")
    expect(page.get_by_test_id("query")).to_have_value("service:auth")
    expect(page.get_by_test_id("range")).to_contain_text("Last 1 hour")
    expect(page.locator("tr.row").first).to_be_visible()
    services = page.locator("tr.row td.c-service").all_inner_texts()
    assert services and set(services) == {"auth"}


@pytest.mark.e2e
def test_an_unknown_route_lands_on_logs(ui: UI) -> None:
    page = ui.open("#/nowhere")
    expect(page).to_have_url(re.compile("#/logs$"))
    expect(page.get_by_test_id("query")).to_be_visible()


@pytest.mark.e2e
def test_the_ui_requests_nothing_outside_its_server(ui: UI) -> None:
    ui.post_logs(sample_logs(20))
    page = ui.open("#/logs")
    expect(page.locator("tr.row").first).to_be_visible()
    ui.open("#/lake")
    page.get_by_test_id("run").click()
    expect(page.get_by_test_id("table")).to_be_visible()
    assert ui.requests and all(url.startswith(ui.server.url + "/") for url in ui.requests), (
        ui.requests
    )
