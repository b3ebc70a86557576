"""``/es``: the official elasticsearch client's bulk helper ships to tracelake unmodified."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ServerProcess

es = pytest.importorskip("elasticsearch")
helpers = pytest.importorskip("elasticsearch.helpers")


def test_bulk_helper_stores_documents_and_reports_per_item_failures(server: ServerProcess) -> None:
    client = es.Elasticsearch(f"{server.url}/es", request_timeout=30)
    assert client.info()["version"]["number"]
    docs = [
        {"_index": "checkout", "_source": {"message": f"order {i}", "level": "info"}}
        for i in range(50)
    ]
    docs.append(
        {"_index": "checkout", "_source": {"message": "bad time", "@timestamp": "not a time"}}
    )
    ok, errors = helpers.bulk(client, docs, raise_on_error=False)
    assert ok == 50 and len(errors) == 1
    assert "timestamp" in str(errors[0])
    rows = httpx.get(
        f"{server.url}/api/v1/search", params={"q": "service:checkout", "limit": "100"}
    ).json()["rows"]
    assert len(rows) == 50 and rows[0]["attributes"]["_index"] == "checkout"


def test_handshake_routes_carry_the_product_header(server: ServerProcess) -> None:
    r = httpx.get(f"{server.url}/es/")
    assert r.status_code == 200 and r.headers["X-Elastic-Product"] == "Elasticsearch"
    assert httpx.get(f"{server.url}/es/_cluster/health").json()["status"] in ("green", "yellow")


def test_garbage_bulk_body_is_a_400_in_elasticsearch_shape(server: ServerProcess) -> None:
    r = httpx.post(
        f"{server.url}/es/_bulk",
        content=b"{not an action}\n",
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 400 and r.json()["error"]["type"]
