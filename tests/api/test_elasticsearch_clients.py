"""``/es`` with shippers nobody here wrote: pino-elasticsearch (the official JS client's bulk
helper) and the official Python client, each run to its end without an error."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.clients.node import require_node, run_node
from tests.conftest import ServerProcess

es = pytest.importorskip("elasticsearch")
helpers = pytest.importorskip("elasticsearch.helpers")

PINO = r"""
const pino = require('pino')
const pinoElastic = require('pino-elasticsearch')
const stream = pinoElastic({ node: process.env.ES_URL, index: 'pino-app', esVersion: 8, flushBytes: 200 })
const errors = []
const done = (stats) => { console.log(JSON.stringify({ stats, errors })); process.exit(0) }
stream.on('error', (e) => { errors.push(String(e)); done(null) })
stream.on('insertError', (e) => errors.push(String(e)))
stream.on('insert', done)
const logger = pino({ level: 'trace' }, stream)
for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal']) {
  logger[level]({ step: level }, 'pino says ' + level)
}
stream.end()
"""


def _rows(server: ServerProcess, q: str) -> list[dict]:
    answer = httpx.get(f"{server.url}/api/v1/search", params={"q": q, "limit": "1000"})
    return list(answer.json()["rows"])


def test_pino_elasticsearch_ships_with_pino_levels_and_no_error_event(
    server: ServerProcess,
) -> None:
    """The bulk helper refreshes the index when it ends: that answer decides the run."""
    require_node()
    out = json.loads(run_node(PINO, {"ES_URL": f"{server.url}/es"}).stdout.splitlines()[-1])
    assert out["errors"] == []
    assert out["stats"]["successful"] == 6 and out["stats"]["failed"] == 0
    levels = {r["attributes"]["step"]: r["level"] for r in _rows(server, '"pino says"')}
    assert levels == {
        "trace": "TRACE",
        "debug": "DEBUG",
        "info": "INFO",
        "warn": "WARN",
        "error": "ERROR",
        "fatal": "FATAL",
    }


def test_python_client_set_up_calls_and_bulk_helpers_run_to_the_end(
    server: ServerProcess,
) -> None:
    """What a shipper built on the Python client calls around its bulk loads."""
    client = es.Elasticsearch(f"{server.url}/es", request_timeout=30)
    assert client.info()["version"]["number"].startswith("8.")
    assert client.cluster.health()["status"] == "green"
    assert client.license.get()["license"]["status"] == "active"
    assert not client.indices.exists(index="py-app")
    assert client.indices.create(index="py-app")["acknowledged"]
    assert client.indices.put_index_template(
        name="py-app", index_patterns=["py-app*"], template={}
    )["acknowledged"]
    assert client.indices.exists_index_template(name="py-app").body is False
    docs = [{"_index": "py-app", "message": f"python bulk {i}", "level": 20} for i in range(30)]
    assert helpers.bulk(client, docs[:10], refresh=True) == (10, [])
    assert all(ok for ok, _ in helpers.streaming_bulk(client, docs[10:20]))
    assert all(ok for ok, _ in helpers.parallel_bulk(client, docs[20:], thread_count=2))
    assert client.indices.refresh(index="py-app")["_shards"]["failed"] == 0
    assert client.indices.refresh()["_shards"]["successful"] == 1
    rows = _rows(server, '"python bulk"')
    assert len(rows) == 30 and {r["level"] for r in rows} == {"INFO"}  # Python's 20
