"""The Alerts page in a real browser, over the real alert manager.

The server loads a rule file with two log rules evaluated every second. Error logs of
``checkout`` (one service named with markup among them) make one rule go pending, then
firing; the page shows the rules' states, the active alerts and the history.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ServerProcess
from tests.ui.browser import UI, require_chromium, shared_server
from tests.ui.conftest import browser_tab

require_chromium()

from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.e2e

IMG = "<img src=x onerror=alert(1)>"

RULES = """
groups:
  - name: shop
    interval: 1s
    rules:
      - alert: ServiceFailing
        log_query: "level:error"
        window: 5m
        threshold: 3
        group_by: [service]
        for: 2s
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.service }} logged {{ $value }} errors"
      - alert: DiskFull
        log_query: 'message:"disk full"'
        window: 5m
        threshold: 1
"""


@pytest.fixture(scope="module")
def alert_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    base = tmp_path_factory.mktemp("alerts")
    rules = base / "rules.yml"
    rules.write_text(RULES)
    config = base / "tracelake.toml"
    config.write_text(f"ingest_workers = 0\nalert_rule_files = [{str(rules)!r}]\n")
    with shared_server(base / "data", "--config", str(config)) as server:
        yield server


@pytest.fixture
def tab(chromium: Any, alert_server: ServerProcess) -> Iterator[UI]:
    with browser_tab(chromium, alert_server) as ui:
        yield ui


def test_rules_are_listed_inactive_before_anything_fails(tab: UI) -> None:
    page = tab.open("#/alerts")
    rules = page.get_by_test_id("rule")
    expect(rules).to_have_count(2)
    expect(page.locator('[data-testid="rule"][data-rule="ServiceFailing"]')).to_have_attribute(
        "data-state", "inactive"
    )
    expect(page.locator('[data-testid="rule"][data-rule="DiskFull"]')).to_contain_text("disk full")
    expect(page.get_by_test_id("firing-count")).to_have_text("0 firing")
    expect(page.locator(".alerts-active")).to_contain_text("Nothing is firing or pending.")
    expect(page.get_by_test_id("rule-group")).to_contain_text("shop")
    assert [e for e in tab.errors if e.startswith("pageerror")] == []


def test_failures_make_an_alert_pending_then_firing_with_its_history(tab: UI) -> None:
    tab.post_logs(
        [
            {"service": "checkout", "level": "error", "message": f"payment failed {i}"}
            for i in range(4)
        ]
        + [{"service": IMG, "level": "error", "message": f"{IMG} broke"} for _ in range(3)]
    )
    page = tab.open("#/alerts")
    checkout = page.locator('[data-testid="alert"]').filter(has_text="service=checkout")
    expect(checkout).to_have_count(1, timeout=15_000)
    # pending for 2 s, then firing; the page refreshes itself every 5 s
    expect(checkout).to_have_attribute("data-state", "firing", timeout=20_000)
    expect(checkout.get_by_test_id("state")).to_have_text("firing")
    expect(checkout).to_contain_text("severity=page")
    expect(checkout).to_contain_text("checkout logged 4 errors")
    hostile = page.locator('[data-testid="alert"]').filter(has_text=f"service={IMG}")
    expect(hostile).to_contain_text(f"{IMG} logged 3 errors")
    expect(page.get_by_test_id("firing-count")).to_have_text("2 firing")
    expect(page.locator('[data-testid="rule"][data-rule="ServiceFailing"]')).to_have_attribute(
        "data-state", "firing"
    )

    history = page.get_by_test_id("history-row").filter(has_text="service=checkout")
    expect(history.first).to_have_attribute("data-to", "firing")
    assert [r.get_attribute("data-to") for r in history.all()] == ["firing", "pending"]
    page.wait_for_timeout(300)
    assert page.evaluate("() => document.querySelectorAll('#page :is(script, img)').length") == 0
    assert tab.dialogs == []
