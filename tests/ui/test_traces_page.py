"""The Traces page in a real browser: the search, the waterfall and the trace's logs."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import orjson
import pytest

from tests.ui.browser import UI, require_chromium

require_chromium()

from playwright.sync_api import Page, expect  # noqa: E402

pytestmark = pytest.mark.e2e

TRACE = "5b8aa5a2d2c872e8321cf37308d69df2"
OTHER = "0af7651916cd43dd8448eb211c80319c"
IMG = "<img src=x onerror=alert(1)>"


def span(
    trace: str,
    span_id: str,
    parent: str | None,
    service: str,
    name: str,
    kind: str | None,
    start_ms: float,
    duration_ms: float,
    base_us: int,
    **extra: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": trace,
        "id": span_id,
        "name": name,
        "timestamp": base_us + int(start_ms * 1000),
        "duration": int(duration_ms * 1000),
        "localEndpoint": {"serviceName": service},
    }
    if kind:
        out["kind"] = kind
    if parent:
        out["parentId"] = parent
    if "remote" in extra:
        out["remoteEndpoint"] = {"serviceName": extra.pop("remote")}
    if "annotations" in extra:
        out["annotations"] = [
            {"timestamp": base_us + int(at * 1000), "value": value}
            for at, value in extra.pop("annotations")
        ]
    out.update(extra)
    return out


def checkout_trace(trace: str = TRACE, ago_s: float = 20.0) -> list[dict[str, Any]]:
    """gateway → orders → payments, with a database span and an error in payments."""
    base = int((time.time() - ago_s) * 1_000_000)
    return [
        span(trace, "a000000000000001", None, "gateway", "get /checkout", "SERVER", 0, 120, base,
             tags={"http.method": "GET", "http.path": "/checkout"}),
        span(trace, "a000000000000002", "a000000000000001", "gateway", "post /orders", "CLIENT",
             5, 105, base, remote="orders"),
        span(trace, "a000000000000003", "a000000000000002", "orders", "post /orders", "SERVER",
             8, 100, base),
        span(trace, "a000000000000004", "a000000000000003", "orders", "select orders", None,
             12, 6, base, tags={"db.system": "postgresql"}),
        span(trace, "a000000000000005", "a000000000000003", "orders", "charge", "CLIENT",
             20, 80, base, remote="payments"),
        span(trace, "a000000000000006", "a000000000000005", "payments", "charge", "SERVER",
             22, 76, base, tags={"error": "card declined", "card.tier": "gold"},
             annotations=[(30, "bank.request"), (95, "bank.timeout")]),
    ]  # fmt: skip


def post_spans(ui: UI, spans: list[dict[str, Any]]) -> None:
    answer = httpx.post(
        f"{ui.server.url}/api/v2/spans",
        content=orjson.dumps(spans),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 202, answer.text
    deadline = time.monotonic() + 10
    trace = spans[0]["traceId"]
    while time.monotonic() < deadline:
        if httpx.get(f"{ui.server.url}/api/v2/trace/{trace}").status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError(f"trace {trace} not readable")


def trace_logs(trace: str = TRACE, ago_s: float = 20.0) -> list[dict[str, Any]]:
    base = time.time() - ago_s
    return [
        {"@timestamp": base + 0.010, "service": "orders", "level": "info",
         "message": "order 4711 created", "trace_id": trace, "span_id": "a000000000000003"},
        {"@timestamp": base + 0.090, "service": "payments", "level": "error",
         "message": "card declined by issuer", "trace_id": trace, "span_id": "a000000000000006"},
    ]  # fmt: skip


def fed(ui: UI) -> None:
    post_spans(ui, checkout_trace())
    post_spans(
        ui,
        [
            span(
                OTHER,
                "b000000000000001",
                None,
                "gateway",
                "get /health",
                "SERVER",
                0,
                2,
                int((time.time() - 40) * 1_000_000),
            ),
        ],
    )
    ui.post_logs(trace_logs())


def open_trace(ui: UI, trace: str = TRACE) -> Page:
    page = ui.open(f"#/traces/{trace}")
    expect(page.get_by_test_id("span-row")).to_have_count(6)
    return page


def test_the_list_finds_the_trace_and_opens_its_waterfall(ui: UI) -> None:
    fed(ui)
    page = ui.open("#/traces?from=-1h")
    rows = page.locator("tr.trace-row")
    expect(rows).to_have_count(2)
    row = page.locator(f'tr.trace-row[data-trace-id="{TRACE}"]')
    expect(row.locator(".root-service")).to_have_text("gateway")
    expect(row.locator(".root-op")).to_have_text("get /checkout")
    expect(row.locator(".c-spans")).to_have_text("6")
    expect(row.locator(".dur-text")).to_have_text("120 ms")
    expect(row.get_by_test_id("error-mark")).to_have_text("1 error")
    expect(page.locator(f'tr.trace-row[data-trace-id="{OTHER}"] .error-mark')).to_have_count(0)

    row.get_by_test_id("trace-link").click()
    expect(page).to_have_url(re.compile(f"#/traces/{TRACE}$"))
    expect(page.get_by_test_id("span-row")).to_have_count(6)
    expect(page.get_by_test_id("trace-facts")).to_contain_text("120 ms · 6 spans · 3 services")
    assert ui.errors == []


def test_filters_go_to_the_api_and_the_url(ui: UI) -> None:
    fed(ui)
    page = ui.open("#/traces?from=-1h")
    expect(page.locator("tr.trace-row")).to_have_count(2)
    page.get_by_test_id("service").select_option("gateway")
    expect(page).to_have_url(re.compile("service=gateway"))
    expect(
        page.get_by_test_id("operation").locator("option", has_text="get /health")
    ).to_have_count(1)
    page.get_by_test_id("min-duration").fill("50ms")
    page.get_by_test_id("find").click()
    expect(page).to_have_url(re.compile("min=50ms"))
    expect(page.locator("tr.trace-row")).to_have_count(1)
    expect(page.locator("tr.trace-row")).to_have_attribute("data-trace-id", TRACE)

    ui.open("#/traces?from=-1h&tags=card.tier%3Dgold")
    expect(page.get_by_test_id("tags")).to_have_value("card.tier=gold")
    expect(page.locator("tr.trace-row")).to_have_count(1)
    ui.open("#/traces?from=-1h&tags=card.tier%3Dsilver")
    expect(page.locator("tr.empty")).to_contain_text("No traces match")
    ui.open("#/traces?from=-1h&min=fast")
    expect(page.get_by_test_id("trace-error")).to_contain_text('"fast" is not a duration')
    assert ui.errors == []


def test_the_waterfall_nests_spans_and_highlights_the_error(ui: UI) -> None:
    fed(ui)
    page = open_trace(ui)
    rows = page.get_by_test_id("span-row")
    depths = [(r.get_attribute("data-span-id"), r.get_attribute("data-depth")) for r in rows.all()]
    assert depths == [
        ("a000000000000001", "0"),
        ("a000000000000002", "1"),
        ("a000000000000003", "2"),
        ("a000000000000004", "3"),
        ("a000000000000005", "3"),
        ("a000000000000006", "4"),
    ]
    error = page.locator(".wf-row.error")
    expect(error).to_have_count(1)
    expect(error).to_have_attribute("data-span-id", "a000000000000006")
    expect(error.locator(".error-mark")).to_have_text("error")

    error.click()
    detail = page.get_by_test_id("span-detail")
    expect(detail).to_be_visible()
    expect(detail.locator('tr[data-field="kind"] td')).to_have_text("SERVER")
    expect(detail.locator('tr[data-field="error"] td')).to_have_text("card declined")
    expect(detail.locator('tr[data-field="card.tier"] td')).to_have_text("gold")
    expect(detail.locator('tr[data-field="parent id"] td')).to_have_text("a000000000000005")
    expect(detail).to_contain_text("bank.timeout")
    page.locator('.wf-row[data-span-id="a000000000000005"]').click()
    expect(page.get_by_test_id("span-detail")).to_have_count(1)
    expect(page.locator('tr[data-field="remote service"] td')).to_have_text("payments")
    page.locator('.wf-row[data-span-id="a000000000000005"]').click()
    expect(page.get_by_test_id("span-detail")).to_have_count(0)
    assert ui.errors == []


def test_the_trace_logs_are_beside_the_waterfall(ui: UI) -> None:
    fed(ui)
    page = open_trace(ui)
    lines = page.locator(".trace-log")
    expect(lines).to_have_count(2)
    expect(lines.nth(0).locator(".trace-log-msg")).to_have_text("order 4711 created")
    expect(lines.nth(1).locator(".level")).to_have_text("ERROR")
    expect(lines.nth(1).locator(".trace-log-service")).to_have_text("payments")
    waterfall = page.get_by_test_id("waterfall").bounding_box()
    panel = page.get_by_test_id("trace-log-panel").bounding_box()
    assert waterfall and panel and panel["x"] >= waterfall["x"] + waterfall["width"] - 1
    lines.nth(1).locator(".span-ref").click()
    expect(page.get_by_test_id("span-detail")).to_contain_text("card declined")
    page.get_by_test_id("span-detail").locator('tr[data-field="span id"]').hover()

    page.get_by_test_id("trace-logs").click()
    expect(page.get_by_test_id("query")).to_have_value(f"trace_id:{TRACE}")
    expect(page.locator("tr.row")).to_have_count(2)
    assert ui.errors == []


def test_a_trace_id_on_the_logs_page_opens_the_waterfall(ui: UI) -> None:
    fed(ui)
    page = ui.open(f"#/logs?q=trace_id:{TRACE}&from=-1h")
    expect(page.locator("tr.row")).to_have_count(2)
    page.locator("tr.row td.c-trace a").first.click()
    expect(page).to_have_url(re.compile(f"#/traces/{TRACE}$"))
    expect(page.get_by_test_id("span-row")).to_have_count(6)
    expect(page.locator(".trace-log")).to_have_count(2)
    assert ui.errors == []


def test_an_unknown_trace_says_so_and_still_shows_its_logs(ui: UI) -> None:
    missing = "00000000000000000000000000abcdef"
    ui.post_logs([{"service": "cron", "level": "warn", "message": "no spans here",
                   "trace_id": missing}])  # fmt: skip
    page = ui.open(f"#/traces/{missing}")
    expect(page.get_by_test_id("trace-not-found")).to_contain_text("Trace not found")
    expect(page.locator(".trace-log-msg")).to_have_text("no spans here")
    ui.open("#/traces/not-a-trace-id")
    expect(page.get_by_test_id("trace-not-found")).to_contain_text("Not a trace id")
    expect(page.get_by_test_id("trace-id")).to_have_text("not-a-trace-id")
    # 404 and 400 answers are expected here; the page itself must not fail
    assert not [e for e in ui.errors if e.startswith("pageerror")], ui.errors


def test_markup_in_spans_and_logs_is_shown_as_text(ui: UI) -> None:
    trace = "7777777777777777aaaaaaaaaaaaaaaa"
    base = int((time.time() - 10) * 1_000_000)
    post_spans(
        ui,
        [
            span(
                trace,
                "c000000000000001",
                None,
                IMG,
                IMG,
                "SERVER",
                0,
                50,
                base,
                tags={"payload": IMG, IMG: "key"},
                annotations=[(5, IMG)],
            ),
            span(
                trace,
                "c000000000000002",
                "c000000000000001",
                "web",
                f"get {IMG}",
                "CLIENT",
                2,
                40,
                base,
                remote=IMG,
            ),
        ],
    )
    ui.post_logs([{"service": IMG, "level": IMG, "message": IMG, "trace_id": trace}])
    page = ui.open("#/traces?from=-1h")
    row = page.locator(f'tr.trace-row[data-trace-id="{trace}"]')
    expect(row.locator(".root-service")).to_have_text(IMG)
    expect(row.locator(".root-op")).to_have_text(IMG)
    expect(page.get_by_test_id("service").locator("option", has_text=IMG)).to_have_count(1)
    row.get_by_test_id("trace-link").click()
    rows = page.get_by_test_id("span-row")
    expect(rows).to_have_count(2)
    expect(rows.first.locator(".wf-service")).to_have_text(IMG)
    expect(rows.nth(1).locator(".wf-op")).to_have_text(f"get {IMG}")
    rows.first.click()
    detail = page.get_by_test_id("span-detail")
    expect(detail.locator('tr[data-field="payload"] td')).to_have_text(IMG)
    expect(detail).to_contain_text(IMG)
    expect(page.locator(".trace-log-msg")).to_have_text(IMG)
    expect(page.locator(".trace-log-service")).to_have_text(IMG)
    time.sleep(0.3)
    assert page.locator("#page img").count() == 0
    assert ui.dialogs == []
    assert ui.errors == []


def test_span_helpers(ui: UI) -> None:
    from tests.ui.test_js_helpers import run

    out = run(
        ui,
        "tracing.js",
        """
        const s = (id, parentId, ts, extra = {}) => ({traceId: 't', id, parentId, timestamp: ts,
            duration: 10, localEndpoint: {serviceName: 'a'}, ...extra});
        const tree = m.spanTree([
          s('3', '1', 30), s('1', undefined, 0), s('2', '1', 20), s('4', 'gone', 5),
          s('5', '2', 25), s('2', '1', 21, {shared: true}),
        ]).map((e) => `${e.span.id}${e.span.shared ? 's' : ''}:${e.depth}${e.orphan ? '!' : ''}`);
        return {
          tree,
          durations: [m.formatDuration(840), m.formatDuration(12500), m.formatDuration(3210000)],
          parsed: ['150ms', '1.5s', '200us', '7', 'fast', ''].map(m.parseDuration),
          colours: m.serviceColor('orders') === m.serviceColor('orders'),
        };
        """,
    )
    assert out["tree"] == ["1:0", "2:1", "2s:2", "5:3", "3:1", "4:0!"]
    assert out["durations"] == ["840 µs", "12.5 ms", "3.21 s"]
    assert out["parsed"] == [150_000, 1_500_000, 200, 7000, None, None]
    assert out["colours"] is True


def test_the_scatter_plots_each_trace_by_start_and_duration_and_a_dot_opens_it(ui: UI) -> None:
    fed(ui)
    page = ui.open("#/traces?from=-1h")
    scatter = page.get_by_test_id("scatter")
    expect(scatter).to_have_attribute("data-points", "2")
    dots = scatter.locator("circle.scatter-dot")
    expect(dots).to_have_count(2)
    slow = scatter.locator(f'circle[data-trace-id="{TRACE}"]')
    fast = scatter.locator(f'circle[data-trace-id="{OTHER}"]')
    expect(slow).to_have_class(re.compile(r"\berror\b"))
    expect(fast).not_to_have_class(re.compile(r"\berror\b"))
    expect(slow.locator("title")).to_contain_text("gateway get /checkout · 120 ms · 6 spans")
    # a longer trace is drawn higher, a later one further right
    slow_box, fast_box = slow.bounding_box(), fast.bounding_box()
    assert slow_box and fast_box
    assert slow_box["y"] < fast_box["y"]
    assert slow_box["x"] > fast_box["x"]
    expect(page.get_by_test_id("time-zone")).to_have_text("UTC")
    slow.click()
    expect(page).to_have_url(re.compile(f"#/traces/{TRACE}$"))
    expect(page.get_by_test_id("span-row")).to_have_count(6)
    page.go_back()
    page.locator(f'circle[data-trace-id="{OTHER}"]').focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"#/traces/{OTHER}$"))
    assert ui.errors == []


def test_each_row_counts_spans_per_service_and_names_the_failing_span(ui: UI) -> None:
    fed(ui)
    otel = "1234567890abcdef1234567890abcdef"
    base = int((time.time() - 30) * 1_000_000)
    exception = (
        '{"exception":{"exception.message":"stock service timed out","exception.type":"Timeout"}}'
    )
    post_spans(
        ui,
        [
            span(otel, "d000000000000001", None, "shop", "get /cart", "SERVER", 0, 40, base),
            span(otel, "d000000000000002", "d000000000000001", "shop", "reserve", None, 2, 30,
                 base, tags={"error": "", "otel.status_code": "ERROR"},
                 annotations=[(20, exception)]),
        ],
    )  # fmt: skip
    page = ui.open("#/traces?from=-1h")
    row = page.locator(f'tr.trace-row[data-trace-id="{TRACE}"]')
    counts = row.get_by_test_id("service-counts").locator(".svc-count")
    expect(counts).to_have_text(["orders 3", "gateway 2", "payments 1"])
    expect(row.locator('.svc-count[data-service="payments"]')).to_have_class(
        re.compile(r"\berror\b")
    )
    expect(row.get_by_test_id("error-message")).to_have_text("payments: card declined")
    ok = page.locator(f'tr.trace-row[data-trace-id="{OTHER}"]')
    expect(ok.get_by_test_id("service-counts")).to_have_text("gateway 1")
    expect(ok.get_by_test_id("error-message")).to_have_count(0)
    # an OpenTelemetry error with no description: the exception event's message
    expect(
        page.locator(f'tr.trace-row[data-trace-id="{otel}"]').get_by_test_id("error-message")
    ).to_have_text("shop: stock service timed out")
    assert ui.errors == []


def test_a_trace_whose_root_has_not_arrived_is_marked_missing_root(ui: UI) -> None:
    fed(ui)
    partial = "9999999999999999bbbbbbbbbbbbbbbb"
    base = int((time.time() - 5) * 1_000_000)
    root = span(partial, "e000000000000001", None, "gateway", "post /order", "SERVER", 0, 90, base)
    children = [
        span(partial, "e000000000000003", "e000000000000002", "inventory", "post /reserve",
             "SERVER", 12, 30, base),
        span(partial, "e000000000000002", "e000000000000001", "orders", "post /reserve",
             "CLIENT", 10, 40, base, remote="inventory"),
    ]  # fmt: skip
    post_spans(ui, children)
    page = ui.open("#/traces?from=-1h")
    row = page.locator(f'tr.trace-row[data-trace-id="{partial}"]')
    expect(row.get_by_test_id("missing-root")).to_have_text("missing root span")
    expect(row).to_have_class(re.compile(r"\bmissing-root\b"))
    # the earliest span that arrived stands in, said to be that, not the root
    expect(row.locator(".root-service")).to_have_text("orders")
    expect(row.get_by_test_id("trace-link")).to_have_attribute("title", re.compile("earliest span"))
    expect(
        page.locator(f'tr.trace-row[data-trace-id="{TRACE}"]').get_by_test_id("missing-root")
    ).to_have_count(0)
    expect(page.locator(f'circle[data-trace-id="{partial}"] title')).to_contain_text(
        "missing root span"
    )

    row.get_by_test_id("trace-link").click()
    expect(page.get_by_test_id("span-row")).to_have_count(2)
    expect(page.get_by_test_id("wf-missing-root")).to_contain_text("Missing root span")
    expect(page.get_by_test_id("wf-missing-root")).to_contain_text("e000000000000001")
    expect(page.locator(".trace-head").get_by_test_id("missing-root")).to_be_visible()
    expect(page.get_by_test_id("trace-facts")).to_contain_text("earliest span orders: post")
    expect(page.locator(".wf-orphan")).to_have_text("parent missing")

    # once the root arrives, the trace is whole
    answer = httpx.post(f"{ui.server.url}/api/v2/spans", content=orjson.dumps([root]),
                        headers={"Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 202
    deadline = time.monotonic() + 10
    while len(httpx.get(f"{ui.server.url}/api/v2/trace/{partial}").json()) < 3:
        assert time.monotonic() < deadline, "root span not readable"
        time.sleep(0.1)
    page.reload()
    expect(page.get_by_test_id("span-row")).to_have_count(3)
    expect(page.get_by_test_id("wf-missing-root")).to_have_count(0)
    expect(page.get_by_test_id("trace-facts")).to_contain_text("gateway: post /order")
    ui.open("#/traces?from=-1h")
    row = page.locator(f'tr.trace-row[data-trace-id="{partial}"]')
    expect(row.locator(".root-service")).to_have_text("gateway")
    expect(row.get_by_test_id("missing-root")).to_have_count(0)
    assert ui.errors == []


def test_view_trace_on_a_log_record_opens_the_trace_at_its_span(ui: UI) -> None:
    fed(ui)
    page = ui.open('#/logs?q="card declined"&from=-1h')
    expect(page.locator("tr.row")).to_have_count(1)
    page.locator("tr.row").click()
    page.get_by_test_id("record-trace").click()
    expect(page).to_have_url(re.compile(f"#/traces/{TRACE}\\?span=a000000000000006$"))
    detail = page.get_by_test_id("span-detail")
    expect(detail.locator('tr[data-field="span id"] td')).to_have_text("a000000000000006")
    expect(detail.locator('tr[data-field="error"] td')).to_have_text("card declined")
    expect(page.locator('.wf-row[data-span-id="a000000000000006"]')).to_have_attribute(
        "aria-expanded", "true"
    )
    assert ui.errors == []
