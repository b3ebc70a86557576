"""The registry's rules with a fake clock: leases, down, eviction, restore, owners."""

from __future__ import annotations

import pytest

from tracelake.errors import Forbidden, NotFound
from tracelake.registry import Registration, Registry
from tracelake.registry.state import Caller
from tracelake.registry.targets import ScrapeTarget


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def reg(service: str = "orders", port: int = 8001, **kw: object) -> Registration:
    return Registration(
        service=service,
        instance_id=f"127.0.0.1:{port}",
        host="127.0.0.1",
        port=port,
        **kw,  # type: ignore[arg-type]
    )


def test_registered_instance_is_up_with_the_registration_time() -> None:
    clock = Clock()
    registry = Registry(10, 60, clock=clock)
    record = registry.register(reg(metadata={"zone": "a"}))
    assert record.status == "up"
    assert record.registered_at == record.last_heartbeat == 1_000.0
    assert registry.instances() == [record]
    assert registry.instances("payments") == []


def test_silent_instance_turns_down_after_the_ttl_and_is_evicted_later() -> None:
    clock = Clock()
    registry = Registry(10, 60, clock=clock)
    registry.register(reg())
    clock.now += 10  # exactly the TTL: still up
    assert not registry.expire()
    clock.now += 0.5
    expiry = registry.expire()
    assert [r.status for r in expiry.down] == ["down"]
    assert registry.instances()[0].status == "down"
    clock.now += 49  # 59.5 s silent: down but kept
    assert not registry.expire()
    clock.now += 1
    expiry = registry.expire()
    assert [r.instance_id for r in expiry.evicted] == ["127.0.0.1:8001"]
    assert registry.instances() == []
    with pytest.raises(NotFound, match="register it again"):
        registry.heartbeat("orders", "127.0.0.1:8001")


def test_a_heartbeat_after_the_eviction_deadline_is_not_found_before_any_expiry_pass() -> None:
    clock = Clock()
    registry = Registry(10, 60, clock=clock)
    registry.register(reg())
    changes = registry.changes
    clock.now += 60.5  # silent past eviction; the timer has not run
    with pytest.raises(NotFound, match="register it again"):
        registry.heartbeat("orders", "127.0.0.1:8001")
    assert registry.instances() == [] and registry.changes > changes


def test_heartbeat_renews_the_lease_and_brings_a_down_instance_back_up() -> None:
    clock = Clock()
    registry = Registry(10, 60, clock=clock)
    registry.register(reg())
    for _ in range(5):
        clock.now += 8
        registry.heartbeat("orders", "127.0.0.1:8001")
        assert not registry.expire()
    clock.now += 11
    registry.expire()
    assert registry.instances()[0].status == "down"
    record = registry.heartbeat("orders", "127.0.0.1:8001")
    assert record.status == "up" and record.last_heartbeat == clock.now
    assert record.registered_at == 1_000.0


def test_deregister_removes_and_an_unknown_instance_is_not_found() -> None:
    registry = Registry(clock=Clock())
    registry.register(reg())
    registry.deregister("orders", "127.0.0.1:8001")
    assert registry.instances() == []
    with pytest.raises(NotFound):
        registry.deregister("orders", "127.0.0.1:8001")


def test_eviction_is_never_before_the_ttl() -> None:
    clock = Clock()
    registry = Registry(30, 5, clock=clock)
    registry.register(reg())
    clock.now += 20
    assert not registry.expire()
    assert registry.instances()[0].status == "up"


def test_restored_records_count_their_silence_from_the_restore() -> None:
    clock = Clock()
    first = Registry(10, 60, clock=clock)
    first.register(reg())
    saved = first.instances()
    clock.now += 3_600  # the server was down for an hour
    second = Registry(10, 60, clock=clock)
    second.restore(saved)
    assert not second.expire()
    assert second.instances()[0].status == "up"
    clock.now += 11
    assert [r.instance_id for r in second.expire().down] == ["127.0.0.1:8001"]


def test_every_change_bumps_the_change_counter_but_reads_do_not() -> None:
    clock = Clock()
    registry = Registry(10, 60, clock=clock)
    seen = [registry.changes]
    registry.register(reg())
    seen.append(registry.changes)
    registry.heartbeat("orders", "127.0.0.1:8001")
    seen.append(registry.changes)
    registry.instances()
    registry.scrape_targets()
    registry.expire()
    seen.append(registry.changes)
    clock.now += 11
    registry.expire()
    seen.append(registry.changes)
    assert seen == [0, 1, 2, 2, 3]


def test_scrape_targets_are_up_instances_then_static_targets_on_other_addresses() -> None:
    clock = Clock()
    static = [
        ScrapeTarget("orders", "127.0.0.1:8001", "http://127.0.0.1:8001/metrics"),
        ScrapeTarget("legacy", "10.0.0.9:9100", "http://10.0.0.9:9100/metrics"),
    ]
    registry = Registry(10, 60, static=static, clock=clock)
    registry.register(reg(port=8001, metadata={"zone": "eu-1", "build.id": "7"}))
    registry.register(reg(port=8002, metrics_path="/prom"))
    clock.now += 5
    registry.heartbeat("orders", "127.0.0.1:8001")
    clock.now += 6
    registry.expire()  # 8002 is down now
    targets = registry.scrape_targets()
    assert targets == [
        ScrapeTarget(
            "orders",
            "127.0.0.1:8001",
            "http://127.0.0.1:8001/metrics",
            {"zone": "eu-1", "build_id": "7"},
            instance_id="127.0.0.1:8001",
        ),
        static[1],
    ]
    assert targets[0].labels == {"zone": "eu-1", "build_id": "7"}
    assert registry.scrape_targets("legacy") == [static[1]]
    assert registry.scrape_targets("orders") == targets[:1]


def test_services_count_instances_and_those_up() -> None:
    clock = Clock()
    registry = Registry(10, 60, clock=clock)
    registry.register(reg("orders", 8001))
    registry.register(reg("orders", 8002))
    clock.now += 11
    registry.heartbeat("orders", "127.0.0.1:8002")
    registry.register(reg("payments", 9001))
    registry.expire()
    summary = [(s.name, s.instances, s.up) for s in registry.services()]
    assert summary == [("orders", 2, 1), ("payments", 1, 1)]
    assert registry.knows("orders") and not registry.knows("billing")


# -- owners ---------------------------------------------------------------------------------

ALICE, BOB, OPS = Caller("alice"), Caller("bob"), Caller("ops", admin=True)


def test_an_instance_is_managed_only_by_the_token_that_registered_it() -> None:
    """Another token's heartbeat, re-registration and deregistration are Forbidden and
    change nothing; the owner's own succeed."""
    registry = Registry(10, 60, clock=Clock())
    first = registry.register(reg(metadata={"secret": "s"}), ALICE)
    assert first.owner == "alice"
    changes = registry.changes
    with pytest.raises(Forbidden, match="belongs to another token"):
        registry.heartbeat("orders", "127.0.0.1:8001", BOB)
    moved = Registration("orders", "127.0.0.1:8001", "10.6.6.6", 6666)
    with pytest.raises(Forbidden):
        registry.register(moved, BOB)
    with pytest.raises(Forbidden):
        registry.deregister("orders", "127.0.0.1:8001", BOB)
    assert registry.instances() == [first] and registry.changes == changes
    assert registry.heartbeat("orders", "127.0.0.1:8001", ALICE).owner == "alice"
    assert registry.register(reg(), ALICE).owner == "alice"
    registry.deregister("orders", "127.0.0.1:8001", ALICE)
    assert registry.instances() == []


def test_an_admin_manages_any_instance_and_leaves_its_owner() -> None:
    """An admin token heartbeats, re-registers and deregisters another token's instance
    without taking it over."""
    registry = Registry(10, 60, clock=Clock())
    registry.register(reg(), ALICE)
    assert registry.heartbeat("orders", "127.0.0.1:8001", OPS).owner == "alice"
    assert registry.register(reg(metadata={"fixed": "by ops"}), OPS).owner == "alice"
    registry.heartbeat("orders", "127.0.0.1:8001", ALICE)
    registry.deregister("orders", "127.0.0.1:8001", OPS)
    assert registry.instances() == []
    assert registry.register(reg(), OPS).owner == "ops"  # a new one is the admin's own


def test_without_tokens_nobody_owns_an_instance_and_a_token_may_take_it() -> None:
    """Registered with no tokens configured: anyone manages it, as before owners; the
    first token that registers it again becomes its owner."""
    registry = Registry(10, 60, clock=Clock())
    assert registry.register(reg()).owner is None
    registry.heartbeat("orders", "127.0.0.1:8001", BOB)
    assert registry.register(reg(), ALICE).owner == "alice"
    with pytest.raises(Forbidden):
        registry.heartbeat("orders", "127.0.0.1:8001", BOB)
    assert registry.register(reg()).owner == "alice"  # tokens off again: kept, not lost


def test_the_owner_survives_a_restore() -> None:
    """After a restart the owner still manages its instance and another token still may not."""
    clock = Clock()
    first = Registry(10, 60, clock=clock)
    first.register(reg(), ALICE)
    second = Registry(10, 60, clock=clock)
    second.restore(first.instances())
    assert second.heartbeat("orders", "127.0.0.1:8001", ALICE).owner == "alice"
    with pytest.raises(Forbidden):
        second.register(reg(), BOB)
