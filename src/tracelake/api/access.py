"""Who may call which route: the one table of scopes, and the middleware that enforces it.

Every route of ``build_app`` is declared once in ``RULES`` with the scope it needs;
``tests/api/test_access.py`` walks the app's routes and fails on a route without a rule
(or a rule without a route), so a new route cannot ship undeclared. Adding one is one
line: ``("POST", "/api/v1/things", INGEST),``.

Scopes: ``public`` (anyone: readiness, liveness, the login page, static assets),
``ingest`` (write only), ``read`` (everything that returns data), ``admin``
(configuration changes; an admin token may also do everything else).

With no tokens configured the middleware lets everything through (the server then only
binds loopback, see ``security/exposure.py``). With tokens, a request to a path and
method without a rule is refused: unknown means denied. A browser asking for a page
without a session is sent to ``/login``; a cookie-authenticated request that changes
state must come from our own pages: ``Sec-Fetch-Site: same-origin`` where the browser
sends Fetch Metadata, else an ``Origin`` (or ``Referer``) equal to this server's own.
SameSite=Strict already keeps other sites' requests from carrying the cookie; the
check also covers browsers and proxies that get SameSite wrong. Basic credentials are
ambient too (a browser replays them): a state-changing request carrying them is refused
when the browser says another site sent it; shippers send no such header.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from tracelake.security.credentials import Presented, presented
from tracelake.security.sessions import Sessions
from tracelake.security.tokens import Token, TokenSet

PUBLIC = "public"
INGEST = "ingest"
READ = "read"
ADMIN = "admin"
#: Any method (the Elasticsearch handshake routes answer GET, HEAD, PUT, POST, DELETE).
ANY = "*"
#: The page a browser without a session is sent to.
LOGIN_PATH = "/login"

_ZIPKIN_QUERIES = (
    "/services",
    "/spans",
    "/remoteServices",
    "/traces",
    "/trace/{trace_id}",
    "/traceMany",
    "/dependencies",
    "/autocompleteKeys",
    "/autocompleteValues",
)

_PROMQL_BOTH = ("query", "query_range", "labels", "series", "format_query", "query_exemplars")
_PROMQL_GET = ("label/{name}/values", "metadata", "status/buildinfo")
_LOKI = ("/loki/api/v1/", "/loki/loki/api/v1/")  # Loki's paths, and under a /loki data source URL
_LOKI_BOTH = (
    "query",
    "query_range",
    "labels",
    "series",
    "index/stats",
    "index/volume",
    "index/volume_range",
)
_LOKI_GET = (
    "label/{name}/values",
    "detected_fields",
    "status/buildinfo",
    "tail",
)  # tail: WebSocket

#: (method, route path as declared in its module, scope). More specific paths first.
RULES: tuple[tuple[str, str, str], ...] = (
    ("GET", "/-/ready", PUBLIC),
    ("GET", "/-/health", PUBLIC),
    ("GET", "/metrics", READ),
    ("GET", LOGIN_PATH, PUBLIC),
    ("POST", LOGIN_PATH, PUBLIC),
    ("POST", "/logout", PUBLIC),
    ("GET", "/static/{path:path}", PUBLIC),
    ("GET", "/", READ),
    # logs
    ("POST", "/api/v1/logs", INGEST),
    ("GET", "/api/v1/search", READ),
    ("GET", "/api/v1/tail", READ),
    ("POST", "/api/v1/sql", READ),
    ("POST", "/api/v1/events", INGEST),
    ("POST", "/api/v1/lake/compact", ADMIN),
    ("GET", "/api/v1/openapi.json", PUBLIC),  # the same description in every install
    # services register themselves with the token they ship with (docs/security.md)
    ("POST", "/api/v1/registry/instances", INGEST),
    ("GET", "/api/v1/registry/instances", READ),
    ("PUT", "/api/v1/registry/instances/{service}/{instance_id}/heartbeat", INGEST),
    ("DELETE", "/api/v1/registry/instances/{service}/{instance_id}", INGEST),
    ("GET", "/api/v1/registry/services", READ),
    ("GET", "/api/v1/registry/prometheus-sd", READ),
    ("GET", "/api/v1/alerts", READ),
    ("GET", "/api/v1/alerts/history", READ),
    ("GET", "/api/v1/rules", READ),
    ("GET", "/prometheus/api/v1/alerts", READ),
    ("GET", "/prometheus/api/v1/rules", READ),
    # the Prometheus query API (Grafana's data source): form POSTs are queries too
    *((m, "/prometheus/api/v1/" + p, READ) for p in _PROMQL_BOTH for m in ("GET", "POST")),
    *(("GET", "/prometheus/api/v1/" + p, READ) for p in _PROMQL_GET),
    ("POST", "/v1/logs", INGEST),
    ("POST", "/loki/api/v1/push", INGEST),
    *((m, p + q, READ) for p in _LOKI for q in _LOKI_BOTH for m in ("GET", "POST")),
    *(("GET", p + q, READ) for p in _LOKI for q in _LOKI_GET),
    ("GET", "/loki/ready", PUBLIC),
    ("POST", "/es/_bulk", INGEST),
    ("PUT", "/es/_bulk", INGEST),
    ("POST", "/es/{index}/_bulk", INGEST),
    ("PUT", "/es/{index}/_bulk", INGEST),
    (ANY, "/es", INGEST),  # the clients' handshake, sent with their ingest credentials
    (ANY, "/es/{path:path}", INGEST),
    # traces
    ("POST", "/v1/traces", INGEST),
    ("POST", "/v1/metrics", INGEST),
    ("POST", "/prometheus/api/v1/write", INGEST),
    ("POST", "/api/v2/spans", INGEST),
    ("POST", "/zipkin/api/v2/spans", INGEST),
    *(
        ("GET", prefix + path, READ)
        for prefix in ("/api/v2", "/zipkin/api/v2")
        for path in _ZIPKIN_QUERIES
    ),
    ("GET", "/zipkin/config.json", READ),
    ("GET", "/api/v1/traces/red", READ),
    ("GET", "/api/v1/traces/{trace_id}/logs", READ),
    # breakers
    ("GET", "/turbine.stream", READ),
    ("POST", "/turbine.stream", READ),
)

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
        rules: Iterable[tuple[str, str, str]] = RULES,
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


def same_origin(
    origin: str | None,
    referer: str | None,
    host: str | None,
    scheme: str,
    fetch_site: str | None = None,
) -> bool:
    """Whether a browser request comes from this server's own pages. ``Sec-Fetch-Site``
    cannot be set by a script and is what the browser itself says, so it decides when
    present; browsers send it only to HTTPS and loopback origins."""
    if fetch_site:
        return fetch_site == "same-origin"
    if not host:
        return False
    source = origin if origin and origin != "null" else referer
    if not source:
        return False
    parts = urlsplit(source)
    return parts.scheme == scheme and parts.netloc.lower() == host.lower()


def cross_site(origin: str | None, host: str | None, scheme: str, fetch_site: str | None) -> bool:
    """Whether a browser says the request comes from another site's page."""
    if fetch_site:
        return fetch_site not in ("same-origin", "none")
    if origin:
        return not same_origin(origin, None, host, scheme)
    return False


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
        if scope["type"] != "http" or not self.guard.enabled:
            await self.app(scope, receive, send)
            return
        found: dict[str, str] = {}
        for key, value in scope["headers"]:
            name = _HEADERS_WANTED.get(key)
            if name is not None and name not in found:
                found[name] = value.decode("latin-1")
        verdict = self.guard.check(scope["method"], scope["path"], scheme=scope["scheme"], **found)
        if verdict.status == 0:
            if verdict.token is not None:
                scope.setdefault("state", {})["token"] = verdict.token
            await self.app(scope, receive, send)
            return
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
