"""The canned Elasticsearch handshake answers: shapes shippers check, and the routing."""

from __future__ import annotations

import orjson
import pytest

from tracelake.ingest.decoders import es_handshake
from tracelake.ingest.decoders.es_handshake import EsResponse, respond


def _json(response: EsResponse | None) -> dict[str, object]:
    assert response is not None
    parsed = orjson.loads(response.body)
    assert isinstance(parsed, dict)
    return parsed


def test_every_response_carries_the_product_header() -> None:
    for method, path in [("GET", "/"), ("GET", "/_license"), ("GET", "/_ilm/policy/x")]:
        response = respond(method, path)
        assert response is not None
        assert ("X-Elastic-Product", "Elasticsearch") in response.headers
        assert ("Content-Type", "application/json") in response.headers


def test_root_is_an_8x_default_flavour_cluster() -> None:
    body = _json(respond("GET", "/"))
    assert body["tagline"] == "You Know, for Search"
    version = body["version"]
    assert isinstance(version, dict)
    assert version["number"] == "8.17.0"
    major, minor, _patch = (int(p) for p in str(version["number"]).split("."))
    assert (major, minor) >= (7, 14)  # Logstash: the product header is then required
    assert version["build_flavor"] == "default"  # not "serverless": no extra API-version call
    assert version["lucene_version"] == "9.12.0"
    assert list(body) == ["name", "cluster_name", "cluster_uuid", "version", "tagline"]


def test_root_golden_bytes() -> None:
    assert respond("GET", "/") == EsResponse(
        200,
        b'{"name":"tracelake","cluster_name":"tracelake","cluster_uuid":"dHJhY2VsYWtlLWNsdXN0ZXI",'
        b'"version":{"number":"8.17.0","build_flavor":"default","build_type":"docker",'
        b'"build_hash":"2b6a7fed44faa321997703718f07ee0420804b41",'
        b'"build_date":"2024-12-11T12:08:05.663969764Z","build_snapshot":false,'
        b'"lucene_version":"9.12.0","minimum_wire_compatibility_version":"7.17.0",'
        b'"minimum_index_compatibility_version":"7.0.0"},"tagline":"You Know, for Search"}',
    )


def test_head_answers_status_without_a_body() -> None:
    response = respond("HEAD", "/")
    assert response is not None
    assert (response.status, response.body) == (200, b"")
    missing = respond("HEAD", "/_index_template/ecs-logstash")
    assert missing is not None
    assert (missing.status, missing.body) == (404, b"")


def test_version_can_be_chosen() -> None:
    version = _json(respond("GET", "/", version="7.17.25"))["version"]
    assert isinstance(version, dict)
    assert version["number"] == "7.17.25"


def test_cluster_health_is_green_200() -> None:
    for path in ("/_cluster/health", "/_cluster/health/logs-*"):
        response = respond("GET", path)
        assert response is not None and response.status == 200
        assert _json(response)["status"] == "green"


def test_license_is_active() -> None:
    # Logstash's license checker marks the connection dead without status "active".
    for path in ("/_license", "/_license/"):
        lic = _json(respond("GET", path))["license"]
        assert isinstance(lic, dict)
        assert lic["status"] == "active" and lic["type"] == "basic"


def test_xpack_has_an_active_license() -> None:
    body = _json(respond("GET", "/_xpack"))
    assert body["license"] == {
        "uid": "7472616365-6c616b65-0000-0000-000000000001",
        "type": "basic",
        "mode": "basic",
        "status": "active",
    }
    assert body["features"] == {}


def test_nodes_lists_one_node_with_http_address() -> None:
    body = _json(respond("GET", "/_nodes/_all/http", publish_address="10.0.0.5:7700"))
    nodes = body["nodes"]
    assert isinstance(nodes, dict) and len(nodes) == 1
    (node,) = nodes.values()
    assert node["http"]["publish_address"] == "10.0.0.5:7700"
    assert node["version"] == "8.17.0"


@pytest.mark.parametrize(
    "path",
    [
        "/_index_template/filebeat-8.17.0",
        "/_component_template/logs@custom",
        "/_template/logstash",
        "/_ilm/policy/logstash-policy",
        "/_ingest/pipeline/filebeat-8.17.0-nginx-access",
        "/_data_stream/filebeat-8.17.0",
    ],
)
def test_definitions_are_not_kept_404_then_put_acknowledged(path: str) -> None:
    missing = respond("GET", path)
    assert missing is not None and missing.status == 404
    error = _json(missing)
    assert error["status"] == 404
    assert isinstance(error["error"], dict) and error["error"]["type"]
    put = respond("PUT", path)
    assert put == EsResponse(200, b'{"acknowledged":true}')
    assert respond("DELETE", path) == EsResponse(200, b'{"acknowledged":true}')


def test_definition_listings_are_empty() -> None:
    assert _json(respond("GET", "/_index_template")) == {"index_templates": []}
    assert _json(respond("GET", "/_data_stream")) == {"data_streams": []}
    assert _json(respond("GET", "/_ilm/policy")) == {}


def test_index_existence_and_creation() -> None:
    head = respond("HEAD", "/app-logs")
    assert head is not None and head.status == 404
    # Logstash's ILM bootstrap creates its first index through a date-math name.
    name = "%3Clogstash-%7Bnow%2Fd%7D-000001%3E"
    put = respond("PUT", f"/{name}")
    assert put is not None and put.status == 200
    assert _json(put) == {"acknowledged": True, "shards_acknowledged": True, "index": name}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/_bulk"),
        ("PUT", "/_bulk"),
        ("POST", "/app/_bulk"),
        ("GET", "/_search"),
        ("POST", "/"),
        ("GET", "/_cat/indices"),
        ("POST", "/_index_template"),
    ],
)
def test_other_routes_are_not_handshakes(method: str, path: str) -> None:
    assert respond(method, path) is None


def test_error_body_shape_the_clients_parse() -> None:
    assert es_handshake.error_body(429, "es_rejected_execution_exception", "queue full") == {
        "error": {
            "root_cause": [{"type": "es_rejected_execution_exception", "reason": "queue full"}],
            "type": "es_rejected_execution_exception",
            "reason": "queue full",
        },
        "status": 429,
    }


@pytest.mark.parametrize("path", ["/_refresh", "/pino/_refresh", "/logs-a,logs-b/_flush"])
def test_refresh_and_flush_succeed_on_every_shard(path: str) -> None:
    """The bulk helpers refresh when they finish: a 404 there fails a run that stored all."""
    answer = respond("POST", path)
    assert answer is not None and answer.status == 200
    assert _json(answer) == {"_shards": {"total": 1, "successful": 1, "failed": 0}}
    assert respond("GET", path) == answer


def test_cat_health_is_one_green_text_line() -> None:
    """rsyslog's omelasticsearch checks ``_cat/health`` before it ships."""
    answer = respond("GET", "/_cat/health")
    assert answer is not None and answer.status == 200
    assert ("Content-Type", "text/plain; charset=UTF-8") in answer.headers
    fields = answer.body.decode().split()
    assert fields[2:4] == ["tracelake", "green"] and fields[-1] == "100.0%"


def test_aliases_are_missing_then_acknowledged() -> None:
    """Logstash's ILM checks its rollover alias, then creates it with the first index."""
    missing = respond("HEAD", "/_alias/logstash")
    assert missing is not None and missing.status == 404 and missing.body == b""
    assert _json(respond("GET", "/_alias/logstash")) == {
        "error": "alias [logstash] missing",
        "status": 404,
    }
    assert respond("PUT", "/_alias/logstash") == EsResponse(200, b'{"acknowledged":true}')
