"""The Lake page: SQL over the lake's tables, the table list, errors, CSV."""

from __future__ import annotations

import csv
import io
import re

import pytest

from tests.ui.browser import UI, require_chromium, sample_logs

require_chromium()

from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.e2e


def test_the_lake_page_runs_sql_and_offers_the_result_as_csv(ui: UI) -> None:
    ui.post_logs(sample_logs(200))
    ui.post_logs([{"service": 'quote,"svc"', "level": "info", "message": "=1+1"}])
    page = ui.open("#/lake")
    expect(page.get_by_test_id("schema")).to_contain_text("logs")
    page.get_by_test_id("sql").fill(
        "SELECT service, level, count(*) AS n\nFROM logs\n"
        "GROUP BY service, level\nORDER BY n DESC, service, level"
    )
    page.get_by_test_id("run").click()
    table = page.get_by_test_id("table")
    expect(table.locator("thead th")).to_have_text(["service", "level", "n"])
    expect(page.get_by_test_id("sql-status")).to_contain_text("rows")
    rows = table.locator("tbody tr").count()
    assert rows > 5
    expect(page).to_have_url(re.compile(r"#/lake\?sql=SELECT"))
    with page.expect_download() as download_info:
        page.get_by_test_id("csv").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    text = download.path().read_text(encoding="utf-8")
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == ["service", "level", "n"]
    assert len(parsed) == rows + 1
    assert ['quote,"svc"', "INFO", "1"] in parsed
    assert sum(int(r[2]) for r in parsed[1:]) == 201


def test_the_lake_page_lists_tables_with_their_columns(ui: UI) -> None:
    page = ui.open("#/lake")
    schema = page.get_by_test_id("schema")
    expect(schema.locator("summary", has_text="logs")).to_be_visible()
    expect(schema.locator("summary", has_text="spans")).to_be_visible()
    expect(schema).not_to_contain_text("tl_mem_")
    logs = schema.locator("details", has=page.locator("summary", has_text="logs"))
    expect(logs.locator("li")).to_contain_text(["timestamp", "service", "level", "message"])
    logs.locator("summary button").click()
    expect(page.get_by_test_id("sql")).to_have_value(re.compile("FROM logs"))
    expect(page.get_by_test_id("table")).to_be_visible()


def test_rejected_sql_is_shown_clearly(ui: UI) -> None:
    page = ui.open("#/lake")
    page.get_by_test_id("sql").fill("DROP TABLE logs")
    page.get_by_test_id("sql").press("Control+Enter")
    error = page.get_by_test_id("sql-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("SQL rejected")
    expect(error).to_contain_text("only SELECT")
    expect(page.get_by_test_id("csv")).to_be_disabled()


def test_a_shared_lake_link_runs_its_query(ui: UI) -> None:
    ui.post_logs(sample_logs(10))
    page = ui.open("#/lake?sql=SELECT%20count(*)%20AS%20total%20FROM%20logs")
    expect(page.get_by_test_id("table").locator("tbody td")).to_have_text("10")
