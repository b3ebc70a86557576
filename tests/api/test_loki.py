"""``POST /loki/api/v1/push``: JSON and snappy-protobuf pushes; labels become fields."""

from __future__ import annotations

import httpx

from tests.conftest import ServerProcess
from tests.ingest.decoders.test_loki import _proto


def test_json_push_stores_lines_with_labels_as_fields(server: ServerProcess) -> None:
    import time

    ns = str(time.time_ns())
    body = {
        "streams": [
            {
                "stream": {"service_name": "cart", "level": "error", "env": "prod"},
                "values": [[ns, "cart is empty"]],
            }
        ]
    }
    r = httpx.post(f"{server.url}/loki/api/v1/push", json=body)
    assert r.status_code == 204
    row = httpx.get(f"{server.url}/api/v1/search", params={"q": '"cart is empty"'}).json()["rows"][
        0
    ]
    assert (
        row["service"] == "cart" and row["level"] == "ERROR" and row["attributes"]["env"] == "prod"
    )


def test_snappy_protobuf_push_as_promtail_sends_it(server: ServerProcess) -> None:
    import time

    body = _proto([('{job="worker"}', [(time.time_ns(), "proto line", {})])])  # snappy'd already
    r = httpx.post(
        f"{server.url}/loki/api/v1/push",
        content=body,
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert r.status_code == 204
    assert httpx.get(f"{server.url}/api/v1/search", params={"q": '"proto line"'}).json()["rows"]


def test_a_bad_entry_is_named_in_a_400_and_the_good_ones_stored(server: ServerProcess) -> None:
    import time

    body = {
        "streams": [
            {"stream": {"app": "x"}, "values": [[str(time.time_ns()), "kept"], ["soon", "bad ts"]]}
        ]
    }
    r = httpx.post(f"{server.url}/loki/api/v1/push", json=body)
    assert r.status_code == 400 and r.text
    assert httpx.get(f"{server.url}/api/v1/search", params={"q": "kept"}).json()["rows"]
