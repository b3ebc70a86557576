"""Logging in to the UI with a read token, in a real browser against a secured server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import ServerProcess
from tests.security.kit import INGEST, READ, bearer, secured
from tests.ui.browser import VIEWPORT, require_chromium

require_chromium()

from playwright.sync_api import Page, expect  # noqa: E402

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(server_factory: type[ServerProcess], tmp_path: Path) -> ServerProcess:
    server = secured(server_factory, tmp_path / "data")
    lines = [{"message": f"order {i} placed", "service": "checkout"} for i in range(3)]
    body = b"\n".join(orjson.dumps(line) for line in lines)
    assert (
        httpx.post(f"{server.url}/api/v1/logs", content=body, headers=bearer(INGEST)).json()[
            "accepted"
        ]
        == 3
    )
    return server


@pytest.fixture
def page(chromium: Any) -> Iterator[Page]:
    context = chromium.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def log_in(page: Page, token: str) -> None:
    page.fill("#token", token)
    page.click("button[type=submit]")


def test_the_ui_sends_a_browser_without_a_session_to_the_login_page(
    page: Page, server: ServerProcess
) -> None:
    page.goto(f"{server.url}/#/logs")
    expect(page).to_have_url(f"{server.url}/login#/logs")  # a redirect keeps the fragment
    expect(page.locator("#login-error")).to_be_hidden()


def test_only_a_token_that_can_read_logs_in(page: Page, server: ServerProcess) -> None:
    page.goto(f"{server.url}/login")
    log_in(page, "tl_" + "n" * 40)
    expect(page.locator("#login-error")).to_have_text("That token is not valid.")
    log_in(page, INGEST)
    expect(page.locator("#login-error")).to_contain_text("the UI needs a read token")
    assert page.context.cookies() == []


def test_a_read_token_opens_the_ui_with_an_httponly_strict_cookie(
    page: Page, server: ServerProcess
) -> None:
    page.goto(f"{server.url}/login")
    log_in(page, READ)
    expect(page).to_have_url(f"{server.url}/#/logs")
    expect(page.locator("tr.row")).to_have_count(3)  # the API answers the session's calls
    (cookie,) = page.context.cookies()
    assert cookie["name"] == "tracelake_session" and cookie["value"] != READ
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]
    assert "tracelake_session" not in page.evaluate("document.cookie")  # scripts cannot see it
    sql = """async () => (await fetch('/api/v1/sql', {method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({sql: 'SELECT count(*) FROM logs'})})).status"""
    assert page.evaluate(sql) == 200  # a same-origin POST carries Origin and passes


def test_another_site_cannot_use_the_session(page: Page, server: ServerProcess) -> None:
    """A page on another site posts the classic JSON-as-text/plain form and links to the
    API: SameSite=Strict keeps the session cookie off both, so both meet a 401."""
    page.goto(f"{server.url}/login")
    log_in(page, READ)
    expect(page).to_have_url(f"{server.url}/#/logs")
    attacker = "http://localhost:9"  # another site than 127.0.0.1, served by the browser
    html = f"""<form method="post" action="{server.url}/api/v1/sql" enctype="text/plain">
      <input name='{{"sql": "SELECT count(*) FROM logs", "x": "' value='"}}'></form>
      <a id="link" href="{server.url}/api/v1/search?q=">logs</a>"""
    page.route(f"{attacker}/**", lambda route: route.fulfill(content_type="text/html", body=html))
    for action in ("document.forms[0].submit()", "document.getElementById('link').click()"):
        page.goto(f"{attacker}/")
        with page.expect_navigation():
            page.evaluate(action)
        assert "this server needs a token" in page.inner_text("body"), action


def test_the_origin_check_refuses_a_cookie_post_from_elsewhere(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url) as browser:
        login = browser.post("/login", data={"token": READ}, headers={"Origin": server.url})
        assert login.status_code == 303
        ok = browser.post("/api/v1/sql", json={"sql": "SELECT 1"}, headers={"Origin": server.url})
        assert ok.status_code == 200
        evil = browser.post(
            "/api/v1/sql", json={"sql": "SELECT 1"}, headers={"Origin": "http://evil.example"}
        )
        assert evil.status_code == 403 and "cross-site" in evil.json()["error"]
        forged = browser.post(
            "/login", data={"token": READ}, headers={"Origin": "http://evil.example"}
        )
        assert forged.status_code == 403


def test_logout_ends_the_session(page: Page, server: ServerProcess) -> None:
    page.goto(f"{server.url}/login")
    log_in(page, READ)
    expect(page.locator("tr.row")).to_have_count(3)
    assert page.evaluate("async () => (await fetch('/logout', {method: 'POST'})).url").endswith(
        "/login"
    )
    assert page.context.cookies() == []
    page.goto(f"{server.url}/")
    expect(page).to_have_url(f"{server.url}/login")


def test_an_api_call_after_the_session_ended_returns_the_page_to_login(
    page: Page, server: ServerProcess
) -> None:
    page.goto(f"{server.url}/login")
    log_in(page, READ)
    expect(page.locator("tr.row")).to_have_count(3)
    (cookie,) = page.context.cookies()
    ended = httpx.post(
        f"{server.url}/logout",
        cookies={cookie["name"]: cookie["value"]},
        headers={"Origin": server.url},
    )
    assert ended.status_code == 303
    page.evaluate("import('/static/js/api.js').then((api) => api.search({q: ''})).catch(() => 0)")
    expect(page).to_have_url(f"{server.url}/login")
