"""The web UI: one HTML page at ``/`` and its static assets under ``/static``.

No build step: ``static/js`` holds plain ES modules (one per page, routed by the URL
hash), ``static/css`` the styles and ``static/vendor`` the one vendored chart library.
The page is served with a strict Content-Security-Policy (same origin only, no inline
script or style), so data that reaches the page can only ever be text.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

from tracelake import __version__
from tracelake.api.endpoints import PUBLIC, READ, Endpoint

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
INDEX_HTML = HERE / "templates" / "index.html"

#: Same origin only; no inline script or style; nothing may frame the UI.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # same-origin POSTs carry Origin (api/access.py)
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


def render_index() -> str:
    """The page, with the version stamped into asset URLs so upgrades bypass caches."""
    return INDEX_HTML.read_text(encoding="utf-8").replace("{{version}}", __version__)


async def index(request: Request) -> Response:
    return HTMLResponse(render_index(), headers=SECURITY_HEADERS)


class Assets(StaticFiles):
    """Static files that browsers revalidate (ETag) instead of caching blindly."""

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


endpoints = [
    Endpoint("/", index, ("GET",), READ),
    Endpoint("/static", Assets(directory=STATIC_DIR), ("GET",), PUBLIC, mount=True),
]
