"""``/api/v1/registry/`` end to end: the real server process, real HTTP, a real Prometheus."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess, free_port
from tests.prometheus import real_prometheus

pytestmark = pytest.mark.e2e

PREFIX = "/api/v1/registry"


def register(server: ServerProcess, **body: Any) -> httpx.Response:
    return httpx.post(f"{server.url}{PREFIX}/instances", json=body)


def listed(server: ServerProcess, service: str | None = None) -> list[dict[str, Any]]:
    params = {"service": service} if service else {}
    r = httpx.get(f"{server.url}{PREFIX}/instances", params=params)
    assert r.status_code == 200, r.text
    instances: list[dict[str, Any]] = r.json()["instances"]
    return instances


def wait_for(check: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met in {timeout} s")
        time.sleep(0.1)


def test_register_heartbeat_list_and_deregister(server: ServerProcess) -> None:
    r = register(
        server,
        service="orders",
        host="127.0.0.1",
        port=8001,
        hystrix_stream_path="/hystrix.stream",
        health_path="/healthz",
        metadata={"zone": "eu-1", "version": "1.4.2"},
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["instance_id"] == "127.0.0.1:8001"
    assert created["metrics_path"] == "/metrics"
    assert created["status"] == "up"
    assert created["registered_at"].endswith("Z")
    r = register(server, service="orders", instance_id="o-2", host="localhost", port=8002)
    assert r.status_code == 201
    register(server, service="payments", host="127.0.0.1", port=9001)

    orders = listed(server, "orders")
    assert [i["instance_id"] for i in orders] == ["127.0.0.1:8001", "o-2"]
    assert orders[0]["metadata"] == {"zone": "eu-1", "version": "1.4.2"}
    assert orders[0]["hystrix_stream_path"] == "/hystrix.stream"
    assert orders[0]["health_path"] == "/healthz"
    assert len(listed(server)) == 3

    time.sleep(0.05)
    r = httpx.put(f"{server.url}{PREFIX}/instances/orders/o-2/heartbeat")
    assert r.status_code == 200
    assert r.json()["last_heartbeat"] > r.json()["registered_at"]

    services = httpx.get(f"{server.url}{PREFIX}/services").json()["services"]
    assert services == [
        {"name": "orders", "instances": 2, "up": 2},
        {"name": "payments", "instances": 1, "up": 1},
    ]

    r = httpx.delete(f"{server.url}{PREFIX}/instances/orders/o-2")
    assert r.status_code == 204
    assert [i["instance_id"] for i in listed(server, "orders")] == ["127.0.0.1:8001"]
    r = httpx.delete(f"{server.url}{PREFIX}/instances/orders/o-2")
    assert r.status_code == 404
    r = httpx.put(f"{server.url}{PREFIX}/instances/orders/o-2/heartbeat")
    assert r.status_code == 404
    assert "register it again" in r.json()["error"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"host": "127.0.0.1", "port": 1}, "field 'service' is missing"),
        ({"service": "orders", "host": "127.0.0.1"}, "field 'port' is missing"),
        ({"service": "orders; drop", "host": "127.0.0.1", "port": 1}, "is not a service name"),
        ({"service": "orders", "host": "127.0.0.1", "port": 70000}, "from 1 to 65535"),
        ({"service": "orders", "host": "a b", "port": 1}, "is not a hostname"),
        (
            {"service": "orders", "host": "h", "port": 1, "metadata": {"k": "v" * 9000}},
            "over the limit of 8192",
        ),
        ({"service": "orders", "host": "h", "port": 1, "extra": 1}, "unknown field 'extra'"),
    ],
)
def test_bad_registrations_are_400_with_a_message(
    server: ServerProcess, body: dict[str, Any], message: str
) -> None:
    r = register(server, **body)
    assert r.status_code == 400
    assert message in r.json()["error"]


def test_bad_bodies_and_paths_are_4xx_not_500(server: ServerProcess) -> None:
    url = f"{server.url}{PREFIX}/instances"
    r = httpx.post(url, content=b"{nope")
    assert r.status_code == 400 and "not JSON" in r.json()["error"]
    r = httpx.post(url, content=b"x" * (70 * 1024))
    assert r.status_code == 413
    r = httpx.get(url, params={"service": "no/slash"})
    assert r.status_code == 400 and "is not a service name" in r.json()["error"]
    r = httpx.put(f"{server.url}{PREFIX}/instances/bad%20name/i-1/heartbeat")
    assert r.status_code == 400


def test_a_silent_instance_goes_down_then_is_evicted(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    server = server_factory(
        tmp_path / "data",
        env={"TRACELAKE_REGISTRY_TTL_S": "1", "TRACELAKE_REGISTRY_EVICT_AFTER_S": "3"},
    ).start()
    register(server, service="orders", host="127.0.0.1", port=8001)
    register(server, service="orders", host="127.0.0.1", port=8002)
    started = time.monotonic()
    while time.monotonic() - started < 2.5:  # 8002 heartbeats, 8001 stays silent
        httpx.put(f"{server.url}{PREFIX}/instances/orders/127.0.0.1:8002/heartbeat")
        time.sleep(0.3)
    status = {i["instance_id"]: i["status"] for i in listed(server)}
    assert status == {"127.0.0.1:8001": "down", "127.0.0.1:8002": "up"}
    sd = httpx.get(f"{server.url}{PREFIX}/prometheus-sd").json()
    assert [g["targets"] for g in sd] == [["127.0.0.1:8002"]]
    wait_for(lambda: len(listed(server)) == 1, what="eviction of 8001")
    r = httpx.put(f"{server.url}{PREFIX}/instances/orders/127.0.0.1:8001/heartbeat")
    assert r.status_code == 404


def test_registrations_survive_a_restart_and_a_crash(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = server_factory(data).start()
    register(first, service="orders", host="127.0.0.1", port=8001, metadata={"zone": "a"})
    register(first, service="payments", host="127.0.0.1", port=9001)
    before = listed(first)
    assert first.stop() == 0

    second = server_factory(data).start()
    assert listed(second) == before
    register(second, service="billing", host="127.0.0.1", port=7001)
    second.kill()  # no shutdown: the 201 alone must have made it durable

    third = server_factory(data).start()
    assert [(i["service"], i["status"]) for i in listed(third)] == [
        ("billing", "up"),
        ("orders", "up"),
        ("payments", "up"),
    ]
    r = httpx.put(f"{third.url}{PREFIX}/instances/orders/127.0.0.1:8001/heartbeat")
    assert r.status_code == 200


def test_prometheus_sd_lists_up_instances_and_static_targets(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    config = tmp_path / "tracelake.toml"
    config.write_text('[scrape_targets]\nlegacy = ["127.0.0.1:9100", "http://10.1.2.3:81/m"]\n')
    server = server_factory(tmp_path / "data", extra_args=["--config", str(config)]).start()
    register(
        server,
        service="orders",
        instance_id="o-1",
        host="127.0.0.1",
        port=8001,
        metrics_path="/prom",
        metadata={"zone": "eu-1"},
    )
    groups = httpx.get(f"{server.url}{PREFIX}/prometheus-sd").json()
    assert groups[0] == {
        "targets": ["127.0.0.1:8001"],
        "labels": {
            "__scheme__": "http",
            "__metrics_path__": "/prom",
            "service": "orders",
            "__meta_tracelake_service": "orders",
            "__meta_tracelake_source": "registry",
            "__meta_tracelake_instance_id": "o-1",
            "__meta_tracelake_metadata_zone": "eu-1",
            "zone": "eu-1",
        },
    }
    assert [(g["targets"][0], g["labels"]["__metrics_path__"]) for g in groups[1:]] == [
        ("127.0.0.1:9100", "/metrics"),
        ("10.1.2.3:81", "/m"),
    ]
    only = httpx.get(f"{server.url}{PREFIX}/prometheus-sd", params={"service": "legacy"}).json()
    assert len(only) == 2


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Start a real Prometheus whose only scrape job discovers targets at an SD URL."""
    with contextlib.ExitStack() as running:

        def start(sd_url: str) -> str:
            config = (
                "global:\n  scrape_interval: 1s\n"
                "scrape_configs:\n"
                "  - job_name: tracelake-sd\n"
                "    http_sd_configs:\n"
                f"      - url: {sd_url}\n"
                "        refresh_interval: 1s\n"
            )
            return running.enter_context(real_prometheus(tmp_path / "prometheus", config))

        yield start


def test_a_real_prometheus_discovers_registered_and_static_targets(
    server_factory: type[ServerProcess],
    tmp_path: Path,
    prometheus: Callable[[str], str],
) -> None:
    static_port = free_port()
    config = tmp_path / "tracelake.toml"
    config.write_text(f'[scrape_targets]\nlegacy = ["127.0.0.1:{static_port}"]\n')
    server = server_factory(tmp_path / "data", extra_args=["--config", str(config)]).start()
    # tracelake's own /metrics is a real endpoint for Prometheus to scrape
    register(server, service="tracelake", host="127.0.0.1", port=server.port, metadata={"z": "1"})
    prom = prometheus(f"{server.url}{PREFIX}/prometheus-sd")

    def active() -> dict[str, dict[str, Any]]:
        data = httpx.get(f"{prom}/api/v1/targets").json()["data"]["activeTargets"]
        return {t["scrapeUrl"]: t for t in data}

    own = f"{server.url}/metrics"
    legacy = f"http://127.0.0.1:{static_port}/metrics"
    found = wait_for(lambda: (t := active()) and own in t and legacy in t and t, what="targets")
    assert found[own]["labels"]["service"] == "tracelake"
    assert found[own]["labels"]["z"] == "1"
    assert found[own]["discoveredLabels"]["__meta_tracelake_source"] == "registry"
    assert found[legacy]["labels"]["service"] == "legacy"
    assert found[legacy]["discoveredLabels"]["__meta_tracelake_source"] == "static"
    wait_for(lambda: active()[own]["health"] == "up", what="tracelake scraped")

    late = register(server, service="orders", host="127.0.0.1", port=free_port())
    late_url = f"http://127.0.0.1:{late.json()['port']}/metrics"
    wait_for(lambda: late_url in active(), what="a new registration discovered")
    httpx.delete(f"{server.url}{PREFIX}/instances/orders/{late.json()['instance_id']}")
    wait_for(lambda: late_url not in active(), what="a deregistration followed")


# -- owners: an ingest token manages only the instances it registered ----------------------

#: Two services' ingest tokens, a reader and an admin (plain here, hashed at load).
OWNER_A = "tl_test-registry-owner-a-000000000000"
OWNER_B = "tl_test-registry-owner-b-000000000000"
READER = "tl_test-registry-reader-0000000000000"
OPS = "tl_test-registry-ops-000000000000000000"
OWNER_TOKENS = (
    f'[{{name = "secretsvc", scopes = ["ingest"], token = "{OWNER_A}"}}, '
    f'{{name = "othersvc", scopes = ["ingest"], token = "{OWNER_B}"}}, '
    f'{{name = "grafana", scopes = ["read"], token = "{READER}"}}, '
    f'{{name = "ops", scopes = ["admin"], token = "{OPS}"}}]'
)


def as_token(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def call(server: ServerProcess, method: str, path: str, token: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, f"{server.url}{PREFIX}{path}", headers=as_token(token), **kw)


def test_an_ingest_token_cannot_read_move_or_remove_another_tokens_instance(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    """Another ingest token's heartbeat, re-registration and deregistration answer 403
    with one line and no data; the owner and an admin manage it; after a restart the
    owner (and the SDK with its token) still may and the other token still may not."""
    data = tmp_path / "data"
    server = server_factory(data, env={"TRACELAKE_TOKENS": OWNER_TOKENS}).start()
    body = {
        "service": "secretsvc",
        "instance_id": "i1",
        "host": "127.0.0.1",
        "port": 8001,
        "metadata": {"db_url": "postgres://internal"},
    }
    assert call(server, "POST", "/instances", OWNER_A, json=body).status_code == 201
    beat = "/instances/secretsvc/i1/heartbeat"

    def refused(r: httpx.Response) -> None:
        assert r.status_code == 403, r.text
        assert list(r.json()) == ["error"] and "postgres" not in r.text
        assert "belongs to another token" in r.json()["error"] and "\n" not in r.text

    refused(call(server, "PUT", beat, OWNER_B))
    moved = {**body, "host": "10.6.6.6", "port": 6666, "metadata": {}}
    refused(call(server, "POST", "/instances", OWNER_B, json=moved))
    refused(call(server, "DELETE", "/instances/secretsvc/i1", OWNER_B))
    (listed_now,) = call(server, "GET", "/instances", READER).json()["instances"]
    assert (listed_now["host"], listed_now["port"]) == ("127.0.0.1", 8001)
    assert "owner" not in listed_now  # the listing is what it was
    sd = call(server, "GET", "/prometheus-sd", READER).json()
    assert [g["targets"] for g in sd] == [["127.0.0.1:8001"]]

    assert call(server, "PUT", beat, OWNER_A).json()["metadata"] == body["metadata"]
    assert call(server, "PUT", beat, OPS).status_code == 200
    fixed = {**body, "port": 8002}
    assert call(server, "POST", "/instances", OPS, json=fixed).status_code == 201
    assert call(server, "PUT", beat, OWNER_A).status_code == 200  # still secretsvc's
    assert server.stop() == 0

    again = server_factory(data, env={"TRACELAKE_TOKENS": OWNER_TOKENS}).start()
    refused(call(again, "PUT", beat, OWNER_B))
    assert call(again, "PUT", beat, OWNER_A).status_code == 200
    from tracelake.sdk import register as sdk_register

    with sdk_register(
        "secretsvc", 8002, host="127.0.0.1", instance_id="i1", endpoint=again.url, token=OWNER_A
    ) as mine:
        assert mine.registered and mine.last_error is None
        other = sdk_register(
            "secretsvc", 9, host="10.6.6.6", instance_id="i1", endpoint=again.url, token=OWNER_B
        )
        assert not other.registered and "403" in (other.last_error or "")
        other.close()
    assert call(again, "GET", "/instances", READER).json()["instances"] == []

    assert call(again, "POST", "/instances", OWNER_A, json=body).status_code == 201
    assert call(again, "DELETE", "/instances/secretsvc/i1", OPS).status_code == 204
