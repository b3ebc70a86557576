"""The UI's login: a form that takes a read token and sets an HttpOnly session cookie.

``GET /login`` shows the form; ``POST /login`` checks the token, starts a session
(``security/sessions.py``) and sets ``tracelake_session`` HttpOnly, SameSite=Strict,
Path=/ and, over TLS, Secure; ``POST /logout`` ends it. Both posts must come from this
server's own origin (a login CSRF would log a victim into an attacker's session). The
page carries no inline script or style, under the same Content-Security-Policy as the
UI, and shows only fixed messages: nothing a request sends is reflected into it.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tracelake import __version__
from tracelake.api.access import LOGIN_PATH, Guard
from tracelake.api.endpoints import PUBLIC, Endpoint
from tracelake.security.credentials import SESSION_COOKIE, session_from_cookie
from tracelake.security.origins import same_origin
from tracelake.security.tokens import Token
from tracelake.ui import HERE, SECURITY_HEADERS

LOGIN_HTML = HERE / "templates" / "login.html"
#: A login form is one short field; anything bigger is not one.
MAX_FORM_BYTES = 4096
#: Roles the UI is for: a token needs one of these to log in.
UI_SCOPES = ("read", "admin")


def render(error: str = "") -> str:
    """The form, with a fixed error line (escaped anyway) when there is one."""
    return (
        LOGIN_HTML.read_text(encoding="utf-8")
        .replace("{{version}}", __version__)
        .replace("{{error_hidden}}", "" if error else " hidden")
        .replace("{{error}}", escape(error))
    )


def _page(error: str = "", status: int = 200) -> Response:
    # same-origin, not no-referrer: the form's POST must carry our Origin to pass the check.
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-store", "Referrer-Policy": "same-origin"}
    return HTMLResponse(render(error), status_code=status, headers=headers)


def _guard(request: Request) -> Guard:
    guard: Guard = request.app.state.guard
    return guard


def _from_our_pages(request: Request) -> bool:
    return same_origin(
        request.headers.get("origin"),
        request.headers.get("referer"),
        request.headers.get("host"),
        request.url.scheme,
        request.headers.get("sec-fetch-site"),
    )


async def login_page(request: Request) -> Response:
    if not _guard(request).enabled:  # nothing to log in to
        return RedirectResponse("/", status_code=303)
    return _page()


async def login(request: Request) -> Response:
    guard = _guard(request)
    if not guard.enabled:
        return RedirectResponse("/", status_code=303)
    if not _from_our_pages(request):
        return _page("This form must be sent from the tracelake login page.", 403)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return _page("That is not a token.", 413)
    fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=4)
    plain = (fields.get("token") or [""])[0].strip()
    token: Token | None = guard.tokens.verify(plain) if plain else None
    if token is None:
        return _page("That token is not valid.", 401)
    if not any(token.grants(scope) for scope in UI_SCOPES):
        return _page("That token cannot read: the UI needs a read token.", 403)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        guard.sessions.create(token),
        max_age=int(guard.sessions.ttl_s),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def logout(request: Request) -> Response:
    guard = _guard(request)
    if guard.enabled and not _from_our_pages(request):
        return _page("Log out from the tracelake UI itself.", 403)
    sid = session_from_cookie(request.headers.get("cookie", ""))
    if sid is not None:
        guard.sessions.end(sid)
    response = RedirectResponse(LOGIN_PATH if guard.enabled else "/", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


endpoints = [
    Endpoint(LOGIN_PATH, login_page, ("GET",), PUBLIC),
    Endpoint(LOGIN_PATH, login, ("POST",), PUBLIC),
    Endpoint("/logout", logout, ("POST",), PUBLIC),
]
