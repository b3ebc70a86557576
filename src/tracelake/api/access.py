"""Who may call which route: the rules, derived from the endpoint table, and the
middleware that enforces them.

Every route is declared once, in its own module's ``endpoints``, with the scope it needs
(``public``, ``ingest``, ``read`` or ``admin``: see ``api/endpoints.py``). The rules a
``Guard`` enforces are derived from the table of all of them (``RULES`` in ``app.py``),
so a route cannot be served
without a rule; ``tests/api/test_access.py`` walks the app's routes and checks that each
resolves to its own rule. Adding a route is one line in its module:
``Endpoint("/api/v1/things", post_things, ("POST",), INGEST),``.

With no tokens configured the middleware lets everything through (the server then only
binds loopback, see ``security/exposure.py``). With tokens, a request to a path and
method without a rule is refused: unknown means denied. A browser asking for a page
without a session is sent to ``/login``; a cookie-authenticated request that changes
state must come from our own pages (``security/origins.py``): ``Sec-Fetch-Site:
same-origin`` where the browser sends Fetch Metadata, else an ``Origin`` (or
``Referer``) equal to this server's own. SameSite=Strict already keeps other sites'
requests from carrying the cookie; the check also covers browsers and proxies that get
SameSite wrong. Basic credentials are ambient too (a browser replays them): a
state-changing request carrying them is refused when the browser says another site sent
it; shippers send no such header.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from tracelake.api.endpoints import ANY, PUBLIC
from tracelake.security.credentials import Presented, presented
from tracelake.security.origins import cross_site, same_origin
from tracelake.security.sessions import Sessions
from tracelake.security.tokens import Token, TokenSet

#: The page a browser without a session is sent to.
LOGIN_PATH = "/login"

#: Paths a browser navigates to: without a session they redirect to the login page.
PAGES = frozenset({"/"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with a request: let it through (``status`` 0) or answer it now."""

    status: int = 0
    message: str = ""
    location: str = ""
    token: Token | None = None


ALLOW = Verdict()


class RuleTable:
    """``RULES`` compiled for lookup: exact paths in a dict, templated ones as regexes."""

    def __init__(self, rules: Iterable[tuple[str, str, str]]) -> None:
        self.exact: dict[str, dict[str, str]] = {}
        self.patterns: list[tuple[re.Pattern[str], str, dict[str, str]]] = []
        by_template: dict[str, dict[str, str]] = {}
        for method, path, scope in rules:
            methods = by_template.setdefault(path, {})
            if method in methods:
                raise ValueError(f"access rule {method} {path} is declared twice")
            methods[method] = scope
        for path, methods in by_template.items():
            if "{" in path:
                regex, _, _ = compile_path(path)
                self.patterns.append((regex, path, methods))
            else:
                self.exact[path] = methods

    def scope(self, method: str, path: str) -> str | None:
        """The scope ``method path`` needs, or None when no rule covers it."""
        if method == "HEAD":
            method = "GET"
        methods = self.exact.get(path)
        if methods is None:
            for regex, _, candidate in self.patterns:
                if regex.match(path):
                    methods = candidate
                    break
            else:
                return None
        return methods.get(method) or methods.get(ANY)

    def templates(self) -> set[tuple[str, str]]:
        """Every declared (method, path template)."""
        out = {(m, p) for p, methods in self.exact.items() for m in methods}
        out |= {(m, p) for _, p, methods in self.patterns for m in methods}
        return out


class Guard:
    """The access decision, sans-IO: tokens, sessions and rules in, a ``Verdict`` out."""

    def __init__(
        self,
        tokens: Sequence[Token],
        *,
        sessions: Sessions | None = None,
        rules: Iterable[tuple[str, str, str]],
    ) -> None:
        self.tokens = TokenSet(tokens)
        self.sessions = sessions if sessions is not None else Sessions()
        self.rules = RuleTable(rules)

    @property
    def enabled(self) -> bool:
        """Whether any token is configured (else every request passes)."""
        return bool(self.tokens)

    def authenticate(
        self, authorization: str | None, cookie: str | None
    ) -> tuple[Token | None, Presented]:
        """The token a request carries (None: none or not valid), and how it came."""
        offered = presented(authorization, cookie)
        if offered.token is not None:
            return self.tokens.verify(offered.token), offered
        if offered.session is not None:
            return self.sessions.get(offered.session), offered
        return None, offered

    def check(
        self,
        method: str,
        path: str,
        *,
        authorization: str | None = None,
        cookie: str | None = None,
        origin: str | None = None,
        referer: str | None = None,
        host: str | None = None,
        fetch_site: str | None = None,
        scheme: str = "http",
    ) -> Verdict:
        if not self.enabled:
            return ALLOW
        scope = self.rules.scope(method, path)
        if scope == PUBLIC:
            return ALLOW
        token, offered = self.authenticate(authorization, cookie)
        if token is None:
            if path in PAGES and method in ("GET", "HEAD"):
                return Verdict(303, "log in first", location=LOGIN_PATH)
            if authorization or cookie:
                return Verdict(401, "the token or session is not valid: check it, or log in again")
            return Verdict(401, "this server needs a token: send Authorization: Bearer <token>")
        if scope is None:
            return Verdict(403, f"{method} {path} has no access rule: it is closed to every token")
        if not token.grants(scope):
            have = ", ".join(sorted(token.scopes))
            return Verdict(
                403, f"{method} {path} needs the {scope} scope; token {token.name!r} has {have}"
            )
        if method not in _SAFE_METHODS and (
            # the cookie must prove it comes from our pages; Basic credentials a browser
            # replays must not come from another site's (API clients send neither header)
            (
                offered.session is not None
                and not same_origin(origin, referer, host, scheme, fetch_site)
            )
            or (offered.basic and cross_site(origin, host, scheme, fetch_site))
        ):
            return Verdict(403, "cross-site request refused: send it from the tracelake UI itself")
        return Verdict(token=token)


_HEADERS_WANTED = {
    b"authorization": "authorization",
    b"cookie": "cookie",
    b"origin": "origin",
    b"referer": "referer",
    b"host": "host",
    b"sec-fetch-site": "fetch_site",
}


class AccessMiddleware:
    """Pure ASGI: one pass over the headers, one ``Guard.check``, then the app or an answer."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or not self.guard.enabled:
            await self.app(scope, receive, send)
            return
        found: dict[str, str] = {}
        for key, value in scope["headers"]:
            name = _HEADERS_WANTED.get(key)
            if name is not None and name not in found:
                found[name] = value.decode("latin-1")
        if kind == "websocket":  # the upgrade is a GET; wss is https
            method, scheme = "GET", "https" if scope["scheme"] == "wss" else "http"
        else:
            method, scheme = scope["method"], scope["scheme"]
        verdict = self.guard.check(method, scope["path"], scheme=scheme, **found)
        if verdict.status == 0:
            if verdict.token is not None:
                scope.setdefault("state", {})["token"] = verdict.token
            await self.app(scope, receive, send)
        elif kind == "websocket":
            # Closing before accepting refuses the upgrade: the client sees HTTP 403.
            await send({"type": "websocket.close", "code": 1008, "reason": verdict.message[:120]})
        else:
            await _answer(verdict, send)


async def _answer(verdict: Verdict, send: Send) -> None:
    headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
    if verdict.status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="tracelake"'))
    if verdict.location:
        headers.append((b"location", verdict.location.encode()))
    body = orjson.dumps({"error": verdict.message})
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": verdict.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
