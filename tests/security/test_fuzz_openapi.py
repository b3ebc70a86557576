"""The native API's OpenAPI description: it covers every native route, the server
serves it, and schemathesis, generating requests from it against the real server,
finds no 500, no undocumented status and no hang."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance
from starlette.routing import Route

from tests.conftest import ServerProcess
from tracelake.api.openapi import NATIVE_PREFIXES
from tracelake.app import OPENAPI
from tracelake.server import Server
from tracelake.settings import Settings

#: The description the server serves, as built from the endpoint table.
SPEC = orjson.loads(OPENAPI)

#: Endless by design (server-sent events until the client leaves): described, not fuzzed.
NOT_FUZZED = ("/api/v1/tail",)
#: A generated request that takes longer than this counts as a hang.
REQUEST_TIMEOUT_S = 20.0


def native_routes(tmp_path: Path) -> set[tuple[str, str]]:
    """(method, path) of every native route the composition root wires."""
    settings = Settings.load(env={}, overrides={"data_dir": str(tmp_path), "ingest_workers": 0})
    server = Server(settings)
    found = set()
    for route in server.app.routes:
        if isinstance(route, Route) and route.path.startswith(NATIVE_PREFIXES):
            found |= {(m, route.path) for m in route.methods or () if m != "HEAD"}
    return found


def test_every_native_route_is_described_with_each_of_its_methods(tmp_path: Path) -> None:
    described = {(m.upper(), path) for path, item in SPEC["paths"].items() for m in item}
    routes = native_routes(tmp_path / "data")
    assert routes, "the app has native routes"
    missing = routes - described
    assert not missing, f"routes without an OpenAPI description (Endpoint.doc): {sorted(missing)}"


def test_every_described_operation_has_an_id_a_summary_and_its_error_answers() -> None:
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            assert operation.get("operationId") and operation.get("summary"), where
            if operation.get("security") != []:
                assert {"401", "403"} <= set(operation["responses"]), where


def test_the_server_serves_the_description(server: ServerProcess) -> None:
    response = httpx.get(f"{server.url}/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert orjson.loads(response.content) == SPEC


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("openapi") / "data"
    server = ServerProcess(data, env={"TRACELAKE_QUERY_TIMEOUT_S": "5"}).start()
    yield server
    server.stop()


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    """NDJSON bodies: a generated string is sent as it is, anything else as JSON lines."""
    if isinstance(value, str):
        return value.encode()
    items = value if isinstance(value, list) else [value]
    return b"\n".join(orjson.dumps(item) for item in items)


NATIVE_API = schemathesis.openapi.from_dict(SPEC).exclude(path=list(NOT_FUZZED))
OPERATIONS = {result.ok().label: result.ok() for result in NATIVE_API.get_all_operations()}
#: Every operation with valid requests; those with inputs also with invalid ones.
RUNS = [
    (label, mode)
    for label, operation in sorted(OPERATIONS.items())
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE
    or operation.definition.raw.get("parameters")
    or operation.definition.raw.get("requestBody")
]


@pytest.mark.parametrize(("label", "mode"), RUNS)
def test_generated_requests_get_no_500_and_only_documented_answers(
    label: str, mode: GenerationMode, fuzzed_server: ServerProcess
) -> None:
    """Valid requests (positive) and requests that break the description (negative)."""

    @given(case=OPERATIONS[label].as_strategy(generation_mode=mode))
    @settings(
        max_examples=20,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: Any) -> None:
        response = case.call(base_url=fuzzed_server.url, timeout=REQUEST_TIMEOUT_S)
        case.validate_response(
            response,
            checks=[not_a_server_error, status_code_conformance, content_type_conformance],
        )

    check()
