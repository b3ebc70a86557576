"""Registry-backed clusters: which registered instances make a turbine cluster."""

from __future__ import annotations

import asyncio

from tracelake.registry import Registration, Registry
from tracelake.turbine import FirstMatch, Instance, RegistrySource, StaticClusterSource


class Clock:
    now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_up_instances_with_a_stream_make_the_cluster() -> None:
    clock = Clock()
    registry = Registry(10, 60, clock=clock)
    registry.register(Registration("orders", "a", "10.0.0.5", 8001, hystrix_stream_path="/h"))
    registry.register(Registration("orders", "b", "::1", 8002, hystrix_stream_path="/h.s"))
    registry.register(Registration("orders", "c", "10.0.0.7", 8003))  # no stream
    source = RegistrySource(registry)
    assert asyncio.run(source.instances("orders")) == [
        Instance("10.0.0.5:8001", "http://10.0.0.5:8001/h", "orders"),
        Instance("[::1]:8002", "http://[::1]:8002/h.s", "orders"),
    ]
    clock.now += 11
    registry.heartbeat("orders", "b")
    registry.expire()  # a is down now
    assert [i.host for i in asyncio.run(source.instances("orders")) or []] == ["[::1]:8002"]


def test_an_unregistered_service_is_unknown_and_one_all_down_is_empty() -> None:
    clock = Clock()
    registry = Registry(10, 60, clock=clock)
    source = RegistrySource(registry)
    assert asyncio.run(source.instances("orders")) is None
    registry.register(Registration("orders", "a", "10.0.0.5", 8001, hystrix_stream_path="/h"))
    clock.now += 11
    registry.expire()
    assert asyncio.run(source.instances("orders")) == []


def test_a_static_cluster_of_the_same_name_wins_and_polling_follows_the_registry() -> None:
    registry = Registry()
    registry.register(Registration("orders", "a", "10.0.0.5", 8001, hystrix_stream_path="/h"))
    registry.register(Registration("billing", "b", "10.0.0.6", 8001, hystrix_stream_path="/h"))
    both = FirstMatch(StaticClusterSource({"orders": ["127.0.0.1:9000"]}), RegistrySource(registry))
    assert [i.host for i in asyncio.run(both.instances("orders")) or []] == ["127.0.0.1:9000"]
    assert [i.host for i in asyncio.run(both.instances("billing")) or []] == ["10.0.0.6:8001"]
    assert both.poll_interval_s == 1.0
