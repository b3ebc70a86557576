"""The state file: a round trip, a missing file, and a damaged file named in the error."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import orjson
import pytest

from tracelake.errors import ConfigError
from tracelake.registry import Registration, Registry, persist
from tracelake.registry.keeper import RegistryKeeper
from tracelake.registry.state import Caller


def _registry() -> Registry:
    registry = Registry(10, 60)
    registry.register(
        Registration(
            "orders",
            "o-1",
            "127.0.0.1",
            8001,
            hystrix_stream_path="/hystrix.stream",
            metadata={"zone": "a"},
        )
    )
    registry.register(Registration("payments", "[::1]:9001", "::1", 9001, health_path="/ok"))
    return registry


def test_records_survive_a_save_and_load(tmp_path: Path) -> None:
    records = _registry().instances()
    persist.save(tmp_path / "registry.json", records)
    assert persist.load(tmp_path / "registry.json") == records


def test_the_owner_token_is_kept_and_a_file_without_owners_loads(tmp_path: Path) -> None:
    """A record's owner survives a save and load; a file written before owners existed
    loads with nobody owning its instances."""
    registry = Registry(10, 60)
    registry.register(Registration("orders", "o-1", "127.0.0.1", 8001), Caller("shipper"))
    path = tmp_path / "registry.json"
    persist.save(path, registry.instances())
    assert [r.owner for r in persist.load(path)] == ["shipper"]
    doc = orjson.loads(path.read_bytes())
    del doc["instances"][0]["owner"]
    path.write_bytes(orjson.dumps(doc))
    assert [r.owner for r in persist.load(path)] == [None]
    doc["instances"][0]["owner"] = "no spaces allowed"
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(ConfigError, match="owner 'no spaces allowed' is not a token name"):
        persist.load(path)


def test_no_file_is_an_empty_registry(tmp_path: Path) -> None:
    assert persist.load(tmp_path / "registry.json") == []


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "not JSON"),
        (b'{"version": 99, "instances": []}', "not a version 1 registry file"),
        (
            orjson.dumps(
                {
                    "version": 1,
                    "instances": [
                        {
                            "service": "bad name",
                            "host": "h",
                            "port": 1,
                            "status": "up",
                            "registered_at": 1,
                            "last_heartbeat": 1,
                        }
                    ],
                }
            ),
            "instance 0: service 'bad name' is not a service name",
        ),
    ],
)
def test_a_damaged_file_stops_the_start_with_its_path_and_reason(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "registry.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        persist.load(path)
    assert str(path) in info.value.message and reason in info.value.message
    assert "delete it to start empty" in info.value.message


def test_keeper_writes_only_after_a_change_and_restores(tmp_path: Path) -> None:
    registry = _registry()
    keeper = RegistryKeeper(registry, tmp_path)
    asyncio.run(keeper.save())
    first = keeper.path.stat().st_mtime_ns
    keeper.path.write_bytes(keeper.path.read_bytes())  # touch: a rewrite would differ again
    touched = keeper.path.stat().st_mtime_ns
    asyncio.run(keeper.save())  # nothing changed: no write
    assert keeper.path.stat().st_mtime_ns == touched >= first
    registry.deregister("payments", "[::1]:9001")
    keeper.close()
    again = Registry(10, 60)
    RegistryKeeper(again, tmp_path).load()
    assert [r.instance_id for r in again.instances()] == ["o-1"]


def test_saves_from_worker_threads_and_the_shutdown_write_never_collide(tmp_path: Path) -> None:
    registry = _registry()
    keeper = RegistryKeeper(registry, tmp_path)
    errors: list[BaseException] = []

    def churn(n: int) -> None:
        try:
            for i in range(40):
                registry.register(Registration("orders", f"t{n}-{i}", "127.0.0.1", 8001))
                if n % 2:
                    keeper.close()  # the shutdown write, from another thread
                else:
                    asyncio.run(keeper.save())
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=churn, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "writers deadlocked"
    assert errors == []
    keeper.close()
    assert len(persist.load(keeper.path)) == len(registry.instances()) == 2 + 6 * 40
