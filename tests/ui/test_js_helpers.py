"""The UI's small pure helpers, run as the browser runs them (ES modules, no build)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ui.browser import UI, require_chromium

require_chromium()

pytestmark = pytest.mark.e2e


def run(ui: UI, module: str, body: str) -> Any:
    ui.open("#/services")
    return ui.page.evaluate(
        f"async () => {{ const m = await import('/static/js/{module}'); {body} }}"
    )


def test_csv_quotes_cells_and_defuses_spreadsheet_formulas(ui: UI) -> None:
    text = run(
        ui,
        "csv.js",
        "return m.toCSV(['a', 'b'], [['=1+1', 'x,\"y\"'], [null, {k: 1}], [-5, 'line\\nbreak']]);",
    )
    assert text == 'a,b\r\n\'=1+1,"x,""y"""\r\n,"{""k"":1}"\r\n-5,"line\nbreak"\r\n'


def test_query_helpers_quote_values_and_keep_pipes(ui: UI) -> None:
    out = run(
        ui,
        "query.js",
        """return {
        plain: m.fieldTerm('service', 'checkout'),
        number: m.fieldTerm('http.status', 500),
        spaced: m.fieldTerm('service', 'api gw'),
        hostile: m.fieldTerm('service', 'a"b\\\\c'),
        dash: m.fieldTerm('host', '-x'),
        none: m.fieldTerm('host', null),
        excluded: m.fieldTerm('level', 'ERROR', true),
        added: m.addTerm('error | stats count() by service', 'host:web-1'),
        again: m.addTerm('host:web-1', 'host:web-1'),
        star: m.addTerm('*', 'level:ERROR'),
        split: m.splitPipes('"a | b" c | sort -timestamp'),
    };""",
    )
    assert out == {
        "plain": "service:checkout",
        "number": "http.status:500",
        "spaced": 'service:"api gw"',
        "hostile": 'service:"a\\"b\\\\c"',
        "dash": 'host:"-x"',
        "none": "-host:*",
        "excluded": "-level:ERROR",
        "added": "error host:web-1 | stats count() by service",
        "again": "host:web-1",
        "star": "level:ERROR",
        "split": {"search": '"a | b" c', "pipes": "| sort -timestamp"},
    }


def test_histogram_bins_are_round_and_ranges_resolve(ui: UI) -> None:
    out = run(
        ui,
        "timerange.js",
        """const now = Date.UTC(2026, 0, 2, 12, 0, 0);
      return {
        bins: [5, 15, 60, 360, 1440, 10080].map((min) => m.chooseBin(min * 60000).label),
        rel: m.resolveRange('-1h', '', now),
        abs: m.resolveRange('2026-01-01T00:00:00Z', '2026-01-01T06:00:00Z', now),
      };""",
    )
    assert out["bins"] == ["5s", "10s", "1m", "5m", "30m", "3h"]
    now = 1767355200000
    assert out["rel"] == {"fromMs": now - 3_600_000, "toMs": now}
    assert out["abs"] == {"fromMs": 1767225600000, "toMs": 1767247200000}
