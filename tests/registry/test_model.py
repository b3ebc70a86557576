"""Checking a registration: defaults, and a clear 400 for each kind of bad field."""

from __future__ import annotations

from typing import Any

import pytest

from tracelake.errors import BadRequest
from tracelake.registry.model import MAX_METADATA_BYTES, parse_registration


def test_minimal_registration_gets_the_defaults() -> None:
    reg = parse_registration({"service": "orders", "host": "10.0.0.5", "port": 8001})
    assert reg.instance_id == "10.0.0.5:8001"
    assert reg.metrics_path == "/metrics"
    assert reg.hystrix_stream_path is None and reg.health_path is None
    assert reg.metadata == {}


def test_ipv6_host_is_normalised_and_bracketed_in_the_default_id() -> None:
    reg = parse_registration({"service": "orders", "host": "[0:0::1]", "port": 8001})
    assert reg.host == "::1"
    assert reg.instance_id == "[::1]:8001"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"service": None}, "field 'service' is missing"),
        ({"port": None}, "field 'port' is missing"),
        ({"service": "orders service"}, "is not a service name"),
        ({"service": "../etc"}, "is not a service name"),
        ({"service": "a" * 129}, "is not a service name"),
        ({"service": "ünïcode"}, "is not a service name"),
        ({"host": "bad host!"}, "is not a hostname or IP address"),
        ({"port": 0}, "port 0 must be a whole number from 1 to 65535"),
        ({"port": "8001"}, "must be a whole number"),
        ({"port": True}, "must be a whole number"),
        ({"instance_id": "a/b"}, "instance_id 'a/b' is not valid"),
        ({"metrics_path": "metrics"}, "must be a URL path starting with '/'"),
        ({"hystrix_stream_path": "/a b"}, "must be a URL path"),
        ({"metadata": ["a"]}, "metadata must be a JSON object"),
        ({"metadata": {"zone": 1}}, "metadata.zone must be a string, got int"),
        ({"metadata": {"bad key": "x"}}, "metadata key 'bad key' is not valid"),
        ({"metadata": {f"k{i}": "v" for i in range(65)}}, "65 keys, over the limit of 64"),
        ({"colour": "blue"}, "unknown field 'colour'"),
    ],
)
def test_bad_fields_are_refused_with_a_message_naming_them(
    change: dict[str, Any], message: str
) -> None:
    body = {"service": "orders", "host": "127.0.0.1", "port": 8001, **change}
    with pytest.raises(BadRequest, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_registration(body)


def test_oversize_metadata_is_refused() -> None:
    metadata = {f"k{i}": "x" * 200 for i in range(50)}
    with pytest.raises(BadRequest, match=f"over the limit of {MAX_METADATA_BYTES}"):
        parse_registration(
            {"service": "orders", "host": "127.0.0.1", "port": 1, "metadata": metadata}
        )


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(BadRequest, match="must be a JSON object"):
        parse_registration([{"service": "orders"}])
