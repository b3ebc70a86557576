"""Every route has exactly one access rule, and the rules hold against the real server.

The first tests walk ``build_app(...).routes``: the rules are derived from the same
endpoint table as the routes (``app.py``), and a route without a rule (or a rule
without a route) fails here, which is what keeps that derivation honest.
The rest start one server with an ingest, a read and an admin token and try every rule
with no token, with each token that must be refused, and with one that must pass; then
real clients (the Elasticsearch client, an OTLP exporter, the SDK's log handler) send
their credentials the way they always do.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from starlette.routing import Match, Mount, Route, WebSocketRoute

from tests.conftest import ServerProcess
from tests.security.kit import ADMIN, INGEST, READ, TOKENS_TOML, bearer
from tracelake.api.access import ANY, PUBLIC, Guard, RuleTable
from tracelake.api.context import AppContext
from tracelake.app import RULES, build_app
from tracelake.security.tokens import parse_tokens
from tracelake.settings import Settings

TOKENS = {"ingest": INGEST, "read": READ, "admin": ADMIN}
RULE_TABLE = RuleTable(RULES)


def app_routes() -> list[Any]:
    # build_app reads only the settings while it assembles the routes.
    ctx = cast(AppContext, SimpleNamespace(settings=Settings.load(env={})))
    return list(build_app(ctx).routes)


def declared(route: Any) -> list[tuple[str, str]]:
    """(method, path template) pairs a route serves, as the rules name them."""
    if isinstance(route, Mount):
        return [("GET", route.path + "/{path:path}")]
    if isinstance(route, WebSocketRoute):  # the upgrade is a GET, checked by the middleware
        return [("GET", route.path)]
    assert isinstance(route, Route), f"unexpected route type {type(route).__name__}"
    return [(m, route.path) for m in sorted(route.methods or ()) if m != "HEAD"]


def concrete(template: str) -> str:
    """A path the template matches: ``{x:path}`` -> ``a/b``, ``{x}`` -> ``x1``."""
    return re.sub(r"\{[^}:]+\}", "x1", re.sub(r"\{[^}]+:path\}", "a/b", template))


def rule_of(method: str, template: str) -> str | None:
    rules = {(m, p): s for m, p, s in RULES}
    return rules.get((method, template), rules.get((ANY, template)))


# -- the table covers the app, and only the app --------------------------------------------


def test_every_route_and_method_has_an_access_rule() -> None:
    missing = [
        f"{method} {path}"
        for route in app_routes()
        for method, path in declared(route)
        if rule_of(method, path) is None
    ]
    assert missing == [], f"give these a scope in their module's endpoints: {missing}"


def test_every_rule_names_a_route_that_exists() -> None:
    served = {pair for route in app_routes() for pair in declared(route)}
    paths = {path for _, path in served}
    stale = [
        f"{m} {p}"
        for m, p, _ in RULES
        if (m == ANY and p not in paths) or (m != ANY and (m, p) not in served)
    ]
    assert stale == [], f"these rules have no route: {stale}"


def test_the_middleware_resolves_each_route_to_its_own_rule() -> None:
    """What the middleware looks up for a concrete path is the rule of the route the
    router would pick for it (so rule order cannot hand a route another's scope)."""
    routes = app_routes()
    for route in routes:
        for method, template in declared(route):
            path = concrete(template)
            kind = "websocket" if isinstance(route, WebSocketRoute) else "http"
            scope = {"type": kind, "method": method, "path": path, "root_path": ""}
            first = next(r for r in routes if r.matches(scope)[0] == Match.FULL)
            if first is not route:
                continue  # shadowed by an earlier route: the router never reaches it
            assert RULE_TABLE.scope(method, path) == rule_of(method, template), path


def test_a_rule_declared_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        RuleTable([("GET", "/a", "read"), ("GET", "/a", "admin")])


# -- the decision, without a server ---------------------------------------------------------

GUARD = Guard(parse_tokens([f"read:{READ}", f"ingest:{INGEST}", f"admin:{ADMIN}"]), rules=RULES)


def test_no_tokens_configured_lets_everything_through() -> None:
    open_guard = Guard((), rules=RULES)
    assert not open_guard.enabled
    assert open_guard.check("POST", "/no/such/route").status == 0


def test_an_unknown_route_is_denied_even_to_admin() -> None:
    verdict = GUARD.check("GET", "/api/v1/brand-new", authorization=f"Bearer {ADMIN}")
    assert verdict.status == 403 and "no access rule" in verdict.message
    assert GUARD.check("DELETE", "/api/v1/logs", authorization=f"Bearer {ADMIN}").status == 403
    assert GUARD.check("GET", "/api/v1/brand-new").status == 401


def test_a_browser_without_a_session_is_sent_to_the_login_page() -> None:
    verdict = GUARD.check("GET", "/")
    assert (verdict.status, verdict.location) == (303, "/login")


def test_a_cookie_session_may_change_state_only_from_our_own_origin() -> None:
    sid = GUARD.sessions.create(GUARD.tokens.verify(READ))  # type: ignore[arg-type]
    cookie = f"tracelake_session={sid}"
    host = "logs.example.com:7700"

    def post(**headers: str) -> int:
        return GUARD.check("POST", "/api/v1/sql", cookie=cookie, host=host, **headers).status

    assert post(origin="http://logs.example.com:7700") == 0
    assert post(referer="http://logs.example.com:7700/#/lake") == 0
    assert post(origin="http://evil.example.net") == 403
    assert post(origin="https://logs.example.com:7700") == 403  # another scheme, another origin
    assert post(origin="null", referer="http://evil.example.net/") == 403
    assert post() == 403  # neither header: not a request the UI makes
    assert GUARD.check("GET", "/api/v1/search", cookie=cookie).status == 0  # reads need none
    # A bearer token is not ambient authority: no origin check applies.
    assert GUARD.check("POST", "/api/v1/sql", authorization=f"Bearer {READ}").status == 0


def test_basic_credentials_a_browser_replays_may_not_change_state_from_another_site() -> None:
    basic = "Basic " + base64.b64encode(f"elastic:{INGEST}".encode()).decode()
    host = "logs.example.com:7700"

    def post(authorization: str, **headers: str) -> int:
        return GUARD.check(
            "POST", "/api/v1/logs", authorization=authorization, host=host, **headers
        ).status

    assert post(basic) == 0  # a shipper: no browser headers at all
    assert post(basic, fetch_site="same-origin") == 0
    assert post(basic, fetch_site="cross-site") == 403
    assert post(basic, origin="http://evil.example.net") == 403
    assert post(basic, origin="null") == 403
    # A Bearer header is set by the page's own code (an OTLP exporter in a web app), never
    # replayed by the browser: another site may send it.
    assert post(f"Bearer {INGEST}", fetch_site="cross-site") == 0


# -- against the real server ---------------------------------------------------------------


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("access")
    server = ServerProcess(root / "data", env={"TRACELAKE_TOKENS": TOKENS_TOML}).start()
    yield server
    server.stop()


def request(server: ServerProcess, method: str, path: str, token: str | None) -> int:
    headers = {"Accept": "application/json", **(bearer(token) if token else {})}
    with httpx.stream(
        method, server.url + path, headers=headers, content=b"" if method != "GET" else None
    ) as r:  # streamed: /api/v1/tail and /turbine.stream never end by themselves
        return r.status_code


CASES = [
    (method if method != ANY else "POST", path, scope)
    for method, path, scope in RULES
    if scope != PUBLIC
]


@pytest.mark.parametrize(
    ("method", "template", "scope"), CASES, ids=[f"{m} {p}" for m, p, _ in CASES]
)
def test_each_rule_refuses_no_token_and_the_wrong_scopes(
    secured: ServerProcess, method: str, template: str, scope: str
) -> None:
    path = concrete(template).replace("/x1/_bulk", "/idx/_bulk")
    no_token = request(secured, method, path, None)
    assert no_token == (303 if path == "/" else 401)
    for name, token in TOKENS.items():
        status = request(secured, method, path, token)
        if name == scope or name == "admin":
            assert status not in (401, 403), f"{name} token refused on {method} {path}"
        else:
            assert status == 403, f"{name} token got {status} on {method} {path}"


def test_public_routes_answer_without_a_token(secured: ServerProcess) -> None:
    assert httpx.get(f"{secured.url}/-/ready").status_code == 200
    assert httpx.get(f"{secured.url}/-/health").status_code == 200
    assert httpx.get(f"{secured.url}/login").status_code == 200
    assert httpx.get(f"{secured.url}/static/favicon.svg").status_code == 200


def test_a_wrong_token_is_401_with_a_challenge_and_says_what_to_do(
    secured: ServerProcess,
) -> None:
    r = httpx.get(f"{secured.url}/api/v1/search", headers=bearer("tl_" + "z" * 40))
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert "not valid" in r.json()["error"]
    r = httpx.get(f"{secured.url}/api/v1/search")
    assert r.status_code == 401 and "Authorization: Bearer" in r.json()["error"]


def test_an_ingest_token_writes_but_cannot_read_back(secured: ServerProcess) -> None:
    marker = f"secret-{time.time_ns()}"
    r = httpx.post(
        f"{secured.url}/api/v1/logs", content=f'{{"message":"{marker}"}}', headers=bearer(INGEST)
    )
    assert r.status_code == 200 and r.json()["accepted"] == 1
    for path, params in [("/api/v1/search", {"q": marker}), ("/metrics", {})]:
        assert (
            httpx.get(secured.url + path, params=params, headers=bearer(INGEST)).status_code == 403
        )
    denied = httpx.post(
        f"{secured.url}/api/v1/sql", json={"sql": "SELECT 1"}, headers=bearer(INGEST)
    )
    assert denied.status_code == 403 and "needs the read scope" in denied.json()["error"]
    rows = httpx.get(
        f"{secured.url}/api/v1/search", params={"q": marker}, headers=bearer(READ)
    ).json()["rows"]
    assert [row["message"] for row in rows] == [marker]


def test_basic_auth_password_is_the_token_for_elasticsearch_and_loki_clients(
    secured: ServerProcess,
) -> None:
    es = pytest.importorskip("elasticsearch")
    helpers = pytest.importorskip("elasticsearch.helpers")
    client = es.Elasticsearch(f"{secured.url}/es", basic_auth=("elastic", INGEST))
    ok, errors = helpers.bulk(client, [{"_index": "auth-es", "_source": {"message": "m"}}])
    assert ok == 1 and not errors
    reader = es.Elasticsearch(f"{secured.url}/es", basic_auth=("elastic", READ))
    with pytest.raises(es.AuthorizationException):
        helpers.bulk(reader, [{"_index": "auth-es", "_source": {"message": "m"}}])
    loki_body = {
        "streams": [{"stream": {"app": "auth-loki"}, "values": [[str(time.time_ns()), "l"]]}]
    }
    basic = base64.b64encode(f"tenant:{INGEST}".encode()).decode()
    pushed = httpx.post(
        f"{secured.url}/loki/api/v1/push",
        json=loki_body,
        headers={"Authorization": f"Basic {basic}"},
    )
    assert pushed.status_code == 204
    assert httpx.post(f"{secured.url}/loki/api/v1/push", json=loki_body).status_code == 401


def test_otlp_exporter_headers_carry_the_token(secured: ServerProcess) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExportResult

    provider = TracerProvider(resource=Resource.create({"service.name": "auth-otlp"}))
    with provider.get_tracer("t").start_as_current_span("op"):
        pass
    span = provider.get_tracer("t").start_span("op2")
    span.end()
    spans = [cast(Any, span)]
    good = OTLPSpanExporter(endpoint=f"{secured.url}/v1/traces", headers=bearer(INGEST))
    bad = OTLPSpanExporter(endpoint=f"{secured.url}/v1/traces", headers=bearer(READ), timeout=5)
    assert good.export(spans) == SpanExportResult.SUCCESS
    assert bad.export(spans) == SpanExportResult.FAILURE


def test_the_sdk_log_handler_sends_its_token(secured: ServerProcess, tmp_path: Path) -> None:
    from tracelake.sdk.logging import TracelakeHandler

    handler = TracelakeHandler(f"{secured.url}", token=INGEST)
    log = logging.getLogger(f"auth-sdk-{time.time_ns()}")
    log.propagate = False
    log.addHandler(handler)
    log.warning("through the sdk")
    handler.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = httpx.get(
            f"{secured.url}/api/v1/search",
            params={"q": '"through the sdk"'},
            headers=bearer(READ),
        ).json()["rows"]
        if rows:
            break
        time.sleep(0.2)
    assert [r["message"] for r in rows] == ["through the sdk"]
