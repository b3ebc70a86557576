"""The pages on the demo's own data, as a new user of ``tracelake demo`` sees them, and the
screenshots README and docs/ui.md show.

One real demo (server, four service processes, traffic, faults at ``--speed 2``:
payments degraded from 10 s to 40 s of every 90 s) serves the whole module. The checks
hold what the issue of a new user asked for: the numbers on the map are the rate a query
over the same window gives; alert values read as numbers; silencing and acknowledging
work from the page's buttons; a chart with no errors has an axis to match; a client span
names whom it called; operation names have one case on every page.

Screenshots go to ``$TRACELAKE_SCREENSHOTS`` when it is set (``make screenshots`` sets
it to docs/screenshots), else to the test's temporary directory: a test run does not
rewrite the docs.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.demo.demo_process import READY_LINE, Demo, eventually
from tests.ui.browser import UI, require_chromium
from tests.ui.conftest import browser_tab

require_chromium()

from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.e2e

SPEED = "2"
#: What docs/demo.md promises the PromQL alert's summary reads like.
CHARGE_SUMMARY = re.compile(r"^payments fails \d+\.\d\d charges/s \(last minute\)$")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    running = Demo(tmp_path_factory.mktemp("demo") / "data", "--speed", SPEED)
    try:
        running.wait_for_line(READY_LINE, timeout=60)
        yield running
    finally:
        running.kill()


@pytest.fixture
def tab(chromium: Any, demo: Demo) -> Iterator[UI]:
    with browser_tab(chromium, demo) as ui:
        yield ui


def get(demo: Demo, path: str, **params: Any) -> Any:
    answer = httpx.get(f"{demo.url}{path}", params=params, timeout=10)
    answer.raise_for_status()
    return answer.json()


def firing(demo: Demo, alert: str) -> dict[str, Any] | None:
    alerts = get(demo, "/api/v1/alerts")["data"]["alerts"]
    return next(
        (a for a in alerts if a["labels"]["alertname"] == alert and a["state"] == "firing"), None
    )


def failed_charge_trace(demo: Demo) -> str | None:
    """A trace in which orders' call to payments failed (payments answered 503)."""
    traces = get(demo, "/api/v2/traces", serviceName="payments", annotationQuery="error", limit=20)
    for spans in traces:
        for span in spans:
            remote = (span.get("remoteEndpoint") or {}).get("serviceName")
            if (
                span.get("kind") == "CLIENT"
                and "error" in span.get("tags", {})
                and remote == "payments"
            ):
                return str(span["traceId"])
    return None


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_map_shows_each_service_at_the_rate_a_query_over_the_same_window_gives(
    tab: UI, demo: Demo
) -> None:
    # a window wholly past, whose spans have all arrived (exported every few seconds)
    eventually(lambda: demo.sql("SELECT count(*) FROM spans")[0][0] > 0, "spans", demo, 30)
    time.sleep(max(0.0, 45 - (time.time() - first_span_s(demo))))
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10)
    start = end - timedelta(seconds=30)
    red = get(demo, "/api/v1/traces/red", **{"from": iso(start), "to": iso(end)})
    seconds = red["covered"]["seconds"]
    assert 29 <= seconds <= 30, red["covered"]  # the demo ran before the window began
    ((count,),) = demo.sql(
        "SELECT count(*) FROM spans WHERE service = 'gateway' "
        "AND (kind IN ('SERVER', 'CONSUMER') OR parent_id IS NULL) "
        f"AND timestamp >= TIMESTAMPTZ '{start.isoformat()}' "
        f"AND timestamp < TIMESTAMPTZ '{end.isoformat()}'"
    )
    rate = count / seconds
    assert 3.5 < rate < 6.5  # the demo sends ~5 requests/s to the gateway

    page = tab.open(f"#/map?from={iso(start)}&to={iso(end)}")
    node = page.locator('g.map-node[data-service="gateway"] text.rate')
    expect(node).to_have_text(re.compile(r"^[\d.]+ req/s · "))
    shown = float((node.text_content() or "").split()[0])  # SVG text
    assert shown == pytest.approx(rate, rel=5e-3)  # 3 significant digits of the same rate
    expect(page.get_by_test_id("summary")).to_contain_text("the time with spans")


def first_span_s(demo: Demo) -> float:
    ((first,),) = demo.sql("SELECT epoch_us(min(timestamp)) FROM spans")
    return float(first) / 1e6


def test_an_alert_value_is_a_plain_number_and_its_summary_reads_as_the_demo_docs_say(
    tab: UI, demo: Demo
) -> None:
    eventually(lambda: firing(demo, "PaymentsChargeErrors"), "the charge alert", demo, 90)
    page = tab.open("#/alerts")
    row = page.locator('[data-testid=alert][data-alert="PaymentsChargeErrors"]')
    value = row.get_by_test_id("alert-value")
    expect(value).to_have_text(re.compile(r"^0\.\d{1,4}$"))  # e.g. 0.18: no exponent, no SI
    raw = value.get_attribute("title")
    assert raw is not None and float(value.inner_text()) == pytest.approx(float(raw), rel=1e-3)
    assert CHARGE_SUMMARY.match(row.locator("td.annotation div").first.inner_text())
    for cell in page.get_by_test_id("alert-value").all():
        assert "e" not in cell.inner_text().lower()


def test_acknowledge_and_silence_from_the_alerts_page_each_listed_until_ended_now(
    tab: UI, demo: Demo
) -> None:
    eventually(lambda: firing(demo, "PaymentsChargeErrors"), "the charge alert", demo, 90)
    page = tab.open("#/alerts")
    row = page.locator('[data-testid=alert][data-alert="PaymentsChargeErrors"]')
    silences = page.get_by_test_id("silence-row")

    row.get_by_test_id("ack").click()
    expect(row.get_by_test_id("quiet")).to_have_text(re.compile(r"^acknowledged until \d\d:\d\d$"))
    expect(silences).to_have_count(1)
    expect(silences.first).to_have_attribute("data-kind", "ack")
    expect(silences.first).to_contain_text("alertname=PaymentsChargeErrors")
    silences.first.get_by_test_id("expire").click()
    expect(silences).to_have_count(0)
    expect(page.locator(".alerts-silences")).to_have_text("No silence or acknowledgement in force.")

    row.get_by_test_id("silence").click()
    expect(row.get_by_test_id("quiet")).to_have_text(re.compile(r"^silenced until \d\d:\d\d$"))
    expect(silences).to_have_count(1)
    expect(silences.first).to_have_attribute("data-kind", "silence")
    expect(silences.first.locator(".kv-pair")).to_have_text(["alertname=PaymentsChargeErrors"])
    expect(silences.first).to_contain_text("ui")
    silences.first.get_by_test_id("expire").click()
    expect(silences).to_have_count(0)
    expect(row.get_by_test_id("silence")).to_be_visible()
    assert get(demo, "/api/v1/silences")["data"] == [] or all(
        not s["active"] for s in get(demo, "/api/v1/silences")["data"]
    )


def test_the_errors_chart_of_a_service_without_errors_has_a_small_axis(tab: UI, demo: Demo) -> None:
    page = tab.open("#/metrics?service=inventory&from=-5m")
    errors = page.get_by_test_id("red-errors")
    expect(errors).to_have_attribute("data-y-axis", re.compile(r"err/s"))
    expect(page.get_by_test_id("red-error-total")).to_have_text(re.compile(r"^0 \(0\.0 %\)$"))
    ticks = [t.split()[0] for t in (errors.get_attribute("data-y-axis") or "").split(" | ")]
    assert max(float(t) for t in ticks) <= 1, ticks  # 0 to 1 err/s, not 0 to 100


def test_a_client_span_names_the_service_it_called_and_links_to_its_circuit(
    tab: UI, demo: Demo
) -> None:
    trace = eventually(lambda: failed_charge_trace(demo), "a failed charge", demo, 90)
    page = tab.open(f"#/traces/{trace}")
    call = (
        page.get_by_test_id("span-row")
        .filter(has=page.locator(".wf-remote", has_text="→ payments"))
        .filter(has=page.locator(".wf-op", has_text="POST /charge"))
    )
    call = call.and_(page.locator(".wf-row.error")).first
    expect(call.locator(".wf-name")).to_have_text(
        re.compile(r"^orders\s*→ payments\s*POST /charge")
    )
    link = call.get_by_test_id("circuit-link")
    expect(link).to_have_attribute("href", "#/circuits?cluster=orders&circuit=payments")
    link.click()
    expect(page).to_have_url(re.compile(r"#/circuits\?cluster=orders&circuit=payments$"))
    tile = page.locator('[data-testid=circuit][data-name="payments"]')
    expect(tile).to_have_attribute("aria-current", "true")


def test_operation_names_are_shown_as_the_spans_carry_them_on_traces_and_metrics(
    tab: UI, demo: Demo
) -> None:
    eventually(lambda: get(demo, "/api/v2/spans", serviceName="payments"), "spans", demo, 30)
    page = tab.open("#/traces?service=payments&from=-15m")
    operations = page.get_by_test_id("operation").locator("option")
    expect(operations).to_contain_text(["All operations", "POST /charge"])
    assert "post /charge" not in operations.all_inner_texts()
    # the traces payments takes part in start at the gateway, named as its spans are
    expect(page.locator(".root-op").first).to_have_text(re.compile(r"^(POST|GET) /"))
    roots = page.locator(".root-op").all_inner_texts()
    assert all(re.match(r"^(POST|GET) /", op) for op in roots), roots
    page = tab.open("#/metrics?service=payments&from=-15m")
    ops = page.get_by_test_id("red-operation").locator("td").first
    expect(ops).to_have_text("POST /charge")


def screenshots_dir(tmp_path: Path) -> Path:
    target = os.environ.get("TRACELAKE_SCREENSHOTS")
    return Path(target) if target else tmp_path / "screenshots"


def test_screenshots_of_every_page_the_docs_show_from_the_demos_data(
    tab: UI, demo: Demo, tmp_path: Path
) -> None:
    """Each page in the state docs/ui.md describes, during payments' degraded phase."""
    out = screenshots_dir(tmp_path)
    # a circuit open and alerts firing: the second half of a degraded phase
    eventually(
        lambda: firing(demo, "PaymentsFailing") and firing(demo, "PaymentsChargeErrors"),
        "both alerts firing",
        demo,
        120,
    )
    page = tab.open("#/alerts")
    expect(page.get_by_test_id("firing-count")).not_to_have_text("0 firing")
    expect(page.get_by_test_id("history-row").first).to_be_visible()
    tab.screenshot(out, "alerts")

    page = tab.open("#/circuits?cluster=orders&circuit=payments")
    payments = page.locator('[data-testid=circuit][data-name="payments"]')
    expect(payments).to_have_attribute("data-state", "open", timeout=90_000)
    page.mouse.move(5, 890)
    tab.screenshot(out, "circuits")

    trace = eventually(lambda: failed_charge_trace(demo), "a failed charge", demo, 30)
    page = tab.open(f"#/traces/{trace}")
    expect(page.get_by_test_id("trace-log-lines").locator(".trace-log").first).to_be_visible()
    page.locator(".wf-row.error", has=page.locator(".wf-remote")).first.click()
    expect(page.get_by_test_id("span-detail")).to_be_visible()
    tab.screenshot(out, "trace")

    page = tab.open("#/traces?service=gateway&from=-5m")
    expect(page.get_by_test_id("trace-link").first).to_be_visible()
    tab.screenshot(out, "traces")

    page = tab.open("#/map?from=-5m")
    expect(page.locator("g.map-node")).to_have_count(4)
    page.mouse.move(5, 890)
    tab.screenshot(out, "map")

    page = tab.open(
        "#/metrics?service=payments&from=-3m"
        "&q=sum%20by%20(service%2C%20status)%20(rate(demo_requests_total%5B1m%5D))"
    )
    expect(page.get_by_test_id("red-status")).to_contain_text("buckets")
    expect(page.get_by_test_id("series").first).to_be_visible()
    tab.screenshot(out, "metrics")

    page = tab.open("#/services")
    expect(page.get_by_test_id("summary")).to_contain_text("4 of 4 instances up")
    tab.screenshot(out, "services")

    page = tab.open("#/logs?q=level%3Aerror%20service%3Apayments&from=-5m")
    rows = page.locator("tr.row")
    expect(rows.first).to_be_visible()
    page.mouse.move(5, 890)
    tab.screenshot(out, "logs")
    rows.first.click()
    expect(page.get_by_test_id("record")).to_be_visible()
    tab.screenshot(out, "logs-expanded")

    page = tab.open(
        "#/lake?sql=SELECT%20service%2C%20level%2C%20count(*)%20AS%20lines%20FROM%20logs"
        "%20GROUP%20BY%20ALL%20ORDER%20BY%20lines%20DESC"
    )
    expect(page.get_by_test_id("table").locator("tbody tr").first).to_be_visible()
    tab.screenshot(out, "lake")
    assert sorted(p.stem for p in out.glob("*.png")) == sorted(
        ["alerts", "circuits", "lake", "logs", "logs-expanded", "map", "metrics", "services",
         "trace", "traces"]
    )  # fmt: skip
    assert [e for e in tab.errors if e.startswith("pageerror")] == []
