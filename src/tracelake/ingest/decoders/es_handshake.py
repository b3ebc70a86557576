"""Canned answers to the calls Elasticsearch shippers make before their first ``_bulk``.

Vector, Logstash, Filebeat, Fluent Bit and the official ``elasticsearch`` clients refuse
to ship unless the server looks like Elasticsearch: ``GET /`` must report a version
(``8.x`` is the sweet spot — it decides ``_type`` suppression, data streams and the
product check), ``/_license`` must say ``"status":"active"``, ``/_cluster/health`` must
answer 200, and every response must carry ``X-Elastic-Product: Elasticsearch``. Template,
ILM, ingest-pipeline, alias and data-stream set-up calls are acknowledged but not kept:
the lake has no mappings, so existence checks answer 404 and the PUT that follows is
acknowledged. ``_refresh`` and ``_flush`` (the official clients' bulk helpers call
``_refresh`` when they finish) succeed on every shard: a stored row is already
searchable. ``_cat/health`` (rsyslog's omelasticsearch checks it before shipping) is
the green one-node cluster in the cat API's text.

Everything here is pure: :func:`respond` maps a method and a path (relative to the
``/es`` mount point, query string removed) to an :class:`EsResponse`; the HTTP shell
writes it out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

#: The Elasticsearch version we claim. 8.x: clients stop sending ``_type``, Logstash
#: and Beats pass their version checks, the official clients' product check passes.
ES_VERSION = "8.17.0"
LUCENE_VERSION = "9.12.0"
BUILD_HASH = "2b6a7fed44faa321997703718f07ee0420804b41"
BUILD_DATE = "2024-12-11T12:08:05.663969764Z"
TAGLINE = "You Know, for Search"
CLUSTER_NAME = "tracelake"
NODE_NAME = "tracelake"
CLUSTER_UUID = "dHJhY2VsYWtlLWNsdXN0ZXI"
NODE_ID = "dHJhY2VsYWtlLW5vZGUtMQ"

#: Send on **every** response under ``/es`` (``_bulk`` and errors included): the
#: official clients and Logstash ≥ 7.14 check the product header.
RESPONSE_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Elastic-Product", "Elasticsearch"),
    ("Content-Type", "application/json"),
)


@dataclass(frozen=True, slots=True)
class EsResponse:
    """What to answer: status, body (empty for ``HEAD``) and headers."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = RESPONSE_HEADERS


def root_info(
    *,
    cluster_name: str = CLUSTER_NAME,
    node_name: str = NODE_NAME,
    version: str = ES_VERSION,
) -> dict[str, Any]:
    """``GET /``: name, cluster, and the ``version`` object clients read."""
    return {
        "name": node_name,
        "cluster_name": cluster_name,
        "cluster_uuid": CLUSTER_UUID,
        "version": {
            "number": version,
            "build_flavor": "default",
            "build_type": "docker",
            "build_hash": BUILD_HASH,
            "build_date": BUILD_DATE,
            "build_snapshot": False,
            "lucene_version": LUCENE_VERSION,
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0",
        },
        "tagline": TAGLINE,
    }


def cluster_health(*, cluster_name: str = CLUSTER_NAME) -> dict[str, Any]:
    """``GET /_cluster/health[/<index>]``: a green one-node cluster (Vector's healthcheck)."""
    return {
        "cluster_name": cluster_name,
        "status": "green",
        "timed_out": False,
        "number_of_nodes": 1,
        "number_of_data_nodes": 1,
        "active_primary_shards": 0,
        "active_shards": 0,
        "relocating_shards": 0,
        "initializing_shards": 0,
        "unassigned_shards": 0,
        "delayed_unassigned_shards": 0,
        "number_of_pending_tasks": 0,
        "number_of_in_flight_fetch": 0,
        "task_max_waiting_in_queue_millis": 0,
        "active_shards_percent_as_number": 100.0,
    }


def _license() -> dict[str, Any]:
    return {
        "status": "active",
        "uid": "7472616365-6c616b65-0000-0000-000000000001",
        "type": "basic",
        "issue_date": "1970-01-01T00:00:00.000Z",
        "issue_date_in_millis": 0,
        "max_nodes": 1000,
        "max_resource_units": None,
        "issued_to": CLUSTER_NAME,
        "issuer": "elasticsearch",
        "start_date_in_millis": -1,
    }


def license_info() -> dict[str, Any]:
    """``GET /_license``: Logstash marks the connection dead unless ``status`` is active."""
    return {"license": _license()}


def xpack_info() -> dict[str, Any]:
    """``GET /_xpack`` (Beats 7.x): build, a basic active license, no features."""
    lic = _license()
    return {
        "build": {"hash": BUILD_HASH, "date": BUILD_DATE},
        "license": {
            "uid": lic["uid"],
            "type": "basic",
            "mode": "basic",
            "status": "active",
        },
        "features": {},
        "tagline": "You know, for X",
    }


def nodes_info(
    *, publish_address: str = "127.0.0.1:7700", version: str = ES_VERSION
) -> dict[str, Any]:
    """``GET /_nodes[/...]``: one node. Sniffing cannot work through the ``/es`` prefix,
    so clients should keep it off; this answer only keeps them from failing."""
    return {
        "_nodes": {"total": 1, "successful": 1, "failed": 0},
        "cluster_name": CLUSTER_NAME,
        "nodes": {
            NODE_ID: {
                "name": NODE_NAME,
                "transport_address": publish_address,
                "host": publish_address.rsplit(":", 1)[0],
                "ip": publish_address.rsplit(":", 1)[0],
                "version": version,
                "build_flavor": "default",
                "build_type": "docker",
                "build_hash": BUILD_HASH,
                "roles": ["data", "ingest", "master"],
                "attributes": {},
                "http": {
                    "bound_address": [publish_address],
                    "publish_address": publish_address,
                    "max_content_length_in_bytes": 104857600,
                },
            }
        },
    }


def shards_done() -> dict[str, Any]:
    """``_refresh`` and ``_flush``: one shard, done (Elasticsearch 8's shape)."""
    return {"_shards": {"total": 1, "successful": 1, "failed": 0}}


def cat_health(now: float, *, cluster_name: str = CLUSTER_NAME) -> bytes:
    """``GET /_cat/health``: the cat API's one text line (no ``?v`` header), as Elasticsearch
    8 prints it: epoch, time, cluster, status, nodes, data nodes, shards, primaries,
    relocating, initializing, unassigned, pending tasks, max task wait, active percent."""
    clock = time.strftime("%H:%M:%S", time.gmtime(now))
    return f"{int(now)} {clock} {cluster_name} green 1 1 0 0 0 0 0 0 - 100.0%\n".encode()


def acknowledged(index: str | None = None) -> dict[str, Any]:
    """Any set-up ``PUT``/``POST``/``DELETE``; index creation also names the index."""
    if index is None:
        return {"acknowledged": True}
    return {"acknowledged": True, "shards_acknowledged": True, "index": index}


def error_body(status: int, error_type: str, reason: str) -> dict[str, Any]:
    """An Elasticsearch-shaped error: the official clients read ``error.type``."""
    cause = {"type": error_type, "reason": reason}
    return {"error": {"root_cause": [cause], **cause}, "status": status}


def not_found(kind: str, name: str) -> dict[str, Any]:
    """404 for a template, policy, pipeline or data stream we do not keep."""
    if kind == "alias":  # Elasticsearch's own shape for a missing alias
        return {"error": f"alias [{name}] missing", "status": 404}
    reasons = {
        "index": ("index_not_found_exception", f"no such index [{name}]"),
        "data_stream": ("index_not_found_exception", f"no such index [{name}]"),
    }
    error_type, reason = reasons.get(
        kind, ("resource_not_found_exception", f"{kind} [{name}] not found")
    )
    return error_body(404, error_type, reason)


def _json(status: int, body: dict[str, Any], method: str) -> EsResponse:
    return EsResponse(status, b"" if method == "HEAD" else orjson.dumps(body))


#: First path segment → the kind of definition it manages, for the 404 + ack answers.
_DEFINITIONS: dict[tuple[str, ...], str] = {
    ("_index_template",): "index_template",
    ("_component_template",): "component_template",
    ("_template",): "template",
    ("_ilm", "policy"): "lifecycle policy",
    ("_ingest", "pipeline"): "pipeline",
    ("_data_stream",): "data_stream",
    ("_alias",): "alias",
}

#: ``GET`` of a definition collection without a name: an empty listing.
_EMPTY_LISTINGS: dict[str, dict[str, Any]] = {
    "index_template": {"index_templates": []},
    "component_template": {"component_templates": []},
    "template": {},
    "lifecycle policy": {},
    "pipeline": {},
    "data_stream": {"data_streams": []},
    "alias": {},
}
#: Text answers carry the cat API's content type, and the product header like the rest.
_TEXT_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Elastic-Product", "Elasticsearch"),
    ("Content-Type", "text/plain; charset=UTF-8"),
)


def respond(
    method: str,
    path: str,
    *,
    publish_address: str = "127.0.0.1:7700",
    version: str = ES_VERSION,
) -> EsResponse | None:
    """Answer a handshake route, or ``None`` when ``path`` is not one (``_bulk`` etc.).

    ``path`` is relative to the ``/es`` mount (``"/"``, ``"/_license"``,
    ``"/_index_template/ecs-logstash"``) without its query string; percent-escapes
    may stay (Logstash's ``/%3Clogstash-%7Bnow%2Fd%7D-000001%3E`` is just a name).
    """
    method = method.upper()
    parts = tuple(p for p in path.split("/") if p)
    if not parts:
        if method in ("GET", "HEAD"):
            return _json(200, root_info(version=version), method)
        return None
    head = parts[0]
    if head == "_bulk" or (len(parts) == 2 and parts[1] == "_bulk"):
        return None
    if parts[-1] in ("_refresh", "_flush") and len(parts) <= 2 and method in ("GET", "POST"):
        return _json(200, shards_done(), method)
    if method in ("GET", "HEAD"):
        if parts == ("_cat", "health"):
            body = b"" if method == "HEAD" else cat_health(time.time())
            return EsResponse(200, body, _TEXT_HEADERS)
        if head == "_cluster" and parts[1:2] == ("health",):
            return _json(200, cluster_health(), method)
        if head == "_license":
            return _json(200, license_info(), method)
        if head == "_xpack":
            return _json(200, xpack_info(), method)
        if head == "_nodes":
            return _json(200, nodes_info(publish_address=publish_address, version=version), method)
    for prefix, kind in _DEFINITIONS.items():
        if parts[: len(prefix)] == prefix:
            name = "/".join(parts[len(prefix) :])
            if method in ("GET", "HEAD"):
                if not name:
                    return _json(200, _EMPTY_LISTINGS[kind], method)
                return _json(404, not_found(kind, name), method)
            if method in ("PUT", "POST", "DELETE") and name:
                return _json(200, acknowledged(), method)
            return None
    if len(parts) == 1 and not head.startswith("_"):
        # An index (or alias) itself: HEAD/GET for existence, PUT to create it.
        if method in ("GET", "HEAD"):
            return _json(404, not_found("index", head), method)
        if method == "PUT":
            return _json(200, acknowledged(index=head), method)
    return None
