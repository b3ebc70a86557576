"""The UI's HTTP side: the page, its security headers, static assets, package data."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.conftest import ServerProcess
from tracelake import ui

STATIC = Path(ui.__file__).parent / "static"


def test_index_is_served_with_a_strict_content_security_policy(server: ServerProcess) -> None:
    r = httpx.get(f"{server.url}/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/static/js/app.js' in r.text
    assert "<script>" not in r.text and " style=" not in r.text  # nothing inline


def test_static_assets_are_served_with_their_types(server: ServerProcess) -> None:
    for path, kind in [
        ("/static/js/app.js", "javascript"),
        ("/static/js/pages/logs.js", "javascript"),
        ("/static/css/app.css", "text/css"),
        ("/static/vendor/uplot/uPlot.iife.min.js", "javascript"),
        ("/static/favicon.svg", "image/svg+xml"),
    ]:
        r = httpx.get(f"{server.url}{path}")
        assert r.status_code == 200, path
        assert kind in r.headers["content-type"], (path, r.headers["content-type"])


def test_api_routes_win_over_the_ui_and_static_files_stay_in_their_directory(
    server: ServerProcess,
) -> None:
    assert httpx.get(f"{server.url}/api/v1/search").json()["kind"] == "rows"
    assert httpx.get(f"{server.url}/-/health").json()["status"] == "ok"
    assert httpx.get(f"{server.url}/static/../__init__.py").status_code == 404
    assert httpx.get(f"{server.url}/static/nope.js").status_code == 404


def test_every_page_is_its_own_module_listed_in_the_navigation() -> None:
    app = (STATIC / "js" / "app.js").read_text()
    pages = re.findall(
        r'id: "([a-z-]+)", title: "([^"]+)", load: \(\) => import\("\./pages/([a-z-]+)\.js"\)', app
    )
    assert [title for _, title, _ in pages] == [
        "Logs",
        "Traces",
        "Service map",
        "Metrics",
        "Circuits",
        "Alerts",
        "Services",
        "Lake",
    ]
    for page_id, _, module in pages:
        assert page_id == module and (STATIC / "js" / "pages" / f"{module}.js").is_file()


def test_the_ui_loads_nothing_from_other_origins() -> None:
    ours = [p for p in STATIC.rglob("*") if p.is_file() and "vendor" not in p.parts]
    ours.append(Path(ui.__file__).parent / "templates" / "index.html")
    for path in ours:
        text = path.read_text()
        text = text.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text), (
            f"external URL in {path.name}"
        )


def test_no_module_writes_html_from_strings() -> None:
    for path in (STATIC / "js").rglob("*.js"):
        text = path.read_text()
        for banned in (
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ):
            assert banned not in text, f"{banned} in {path.name}"


def test_the_vendored_chart_library_is_named_with_version_and_licence() -> None:
    vendor = STATIC / "vendor" / "uplot"
    readme = (vendor / "README.md").read_text()
    assert "uPlot" in readme and "1.6.32" in readme and "MIT" in readme
    assert (vendor / "LICENSE").read_text().startswith("The MIT License")
    assert (vendor / "uPlot.iife.min.js").stat().st_size > 10_000
