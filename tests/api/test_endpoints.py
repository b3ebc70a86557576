"""``Endpoint``: the rules a declaration yields, and the one method a description needs."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, WebSocketRoute

from tracelake.api.endpoints import ANY, INGEST, PUBLIC, READ, Endpoint
from tracelake.api.openapi import document


async def handler(request: Request) -> Response:
    return Response()


def test_rules_name_each_method_but_head() -> None:
    endpoint = Endpoint("/a", handler, ("GET", "HEAD", "POST"), READ)
    assert list(endpoint.rules()) == [("GET", "/a", READ), ("POST", "/a", READ)]
    assert isinstance(endpoint.route(), Route)


def test_any_method_yields_one_rule_for_every_method() -> None:
    endpoint = Endpoint("/es", handler, ("GET", "PUT"), INGEST, any_method=True)
    assert list(endpoint.rules()) == [(ANY, "/es", INGEST)]


def test_a_mount_covers_everything_under_its_path() -> None:
    endpoint = Endpoint("/static", handler, ("GET",), PUBLIC, mount=True)
    assert list(endpoint.rules()) == [("GET", "/static/{path:path}", PUBLIC)]
    assert isinstance(endpoint.route(), Mount)


def test_a_websocket_endpoint_is_checked_as_the_get_of_its_upgrade() -> None:
    endpoint = Endpoint("/tail", handler, ("GET",), READ, websocket=True)
    assert list(endpoint.rules()) == [("GET", "/tail", READ)]
    assert isinstance(endpoint.route(), WebSocketRoute)


def test_a_described_endpoint_serves_one_method() -> None:
    doc = {"operationId": "a", "summary": "a", "responses": {}}
    with pytest.raises(ValueError, match="one method"):
        Endpoint("/a", handler, ("GET", "POST"), READ, doc=doc)


def test_the_scope_decides_security_and_the_body_the_timeout() -> None:
    doc = {"operationId": "a", "summary": "a", "responses": {"200": {"description": "OK"}}}
    public = Endpoint("/-/a", handler, ("GET",), PUBLIC, doc=doc)
    posted = Endpoint("/api/v1/a", handler, ("POST",), INGEST, doc={**doc, "requestBody": {}})
    paths = document([public, posted])["paths"]
    assert paths["/-/a"]["get"]["security"] == []
    assert set(paths["/-/a"]["get"]["responses"]) == {"200", "431"}
    assert "security" not in paths["/api/v1/a"]["post"]
    assert set(paths["/api/v1/a"]["post"]["responses"]) == {"200", "401", "403", "408", "431"}
