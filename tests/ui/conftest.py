"""Browser fixtures: one chromium per module, a fresh tab and a fresh server per test.

Modules whose tests can share one server start it module-scoped and open their tabs
with ``browser_tab(chromium, server)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ServerProcess
from tests.ui.browser import CHROMIUM, CHROMIUM_ARGS, UI, VIEWPORT, Served


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextlib.contextmanager
def browser_tab(chromium: Any, server: Served) -> Iterator[UI]:
    """A fresh browser context and tab on ``server``'s UI, recording what went wrong."""
    context = chromium.new_context(
        viewport=VIEWPORT, accept_downloads=True, locale="en-US", timezone_id="UTC"
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    tab = UI(page=page, server=server)
    page.on(
        "console", lambda m: tab.errors.append(f"console: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: tab.errors.append(f"pageerror: {e}"))
    page.on("request", lambda r: tab.requests.append(r.url))

    def on_dialog(dialog: Any) -> None:
        tab.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def ui(chromium: Any, server: ServerProcess) -> Iterator[UI]:
    with browser_tab(chromium, server) as tab:
        yield tab
