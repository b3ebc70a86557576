"""The disk floor (store/diskfloor.py) and how the store obeys it, with free space
injected: refusal under the floor, resumption by itself, no compaction meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tests.conftest import sample
from tests.store.conftest import append, ipc_of, make_store, messages
from tracelake.errors import Overloaded
from tracelake.store import Store
from tracelake.store.diskfloor import RETRY_AFTER_S, DiskFloor

MakeStore = Callable[..., Store]
__all__ = ["make_store"]  # the store tests' fixture, used here too


class FakeDisk:
    """Free space that a test sets, and how often it was measured."""

    def __init__(self, free: int) -> None:
        self.free = free
        self.measured = 0

    def __call__(self) -> int:
        self.measured += 1
        return self.free


def test_floor_refuses_with_the_setting_name_and_free_bytes_in_the_message() -> None:
    floor = DiskFloor(1000, FakeDisk(999), recheck_s=0)
    with pytest.raises(Overloaded) as caught:
        floor.check()
    assert "disk_free_floor_bytes (1000)" in caught.value.message
    assert "999 bytes free" in caught.value.message
    assert caught.value.retry_after == RETRY_AFTER_S
    assert floor.refused == 1


def test_floor_lets_appends_through_again_once_space_returns() -> None:
    disk = FakeDisk(10)
    floor = DiskFloor(100, disk, recheck_s=0)
    assert floor.below()
    disk.free = 100
    floor.check()  # no raise: exactly at the floor is enough
    assert not floor.below()


def test_zero_floor_never_refuses_and_never_measures() -> None:
    disk = FakeDisk(0)
    floor = DiskFloor(0, disk)
    floor.check()
    assert disk.measured == 0


def test_free_space_is_measured_at_most_once_per_recheck_interval() -> None:
    now = [0.0]
    disk = FakeDisk(500)
    floor = DiskFloor(100, disk, clock=lambda: now[0], recheck_s=1.0)
    for _ in range(50):
        floor.check()
    assert disk.measured == 1
    now[0] = 1.0
    floor.check()
    assert disk.measured == 2


def test_a_full_disk_error_forces_the_next_check_to_measure_again() -> None:
    now = [0.0]
    disk = FakeDisk(500)
    floor = DiskFloor(100, disk, clock=lambda: now[0], recheck_s=60.0)
    floor.check()
    error = floor.disk_full()
    assert "disk full" in error.message and error.retry_after == RETRY_AFTER_S
    disk.free = 5
    with pytest.raises(Overloaded):
        floor.check()
    assert disk.measured == 2


def test_store_under_the_floor_refuses_appends_and_stores_nothing(make_store: MakeStore) -> None:
    store = make_store()
    disk = FakeDisk(1)
    store.floor = DiskFloor(1 << 20, disk, recheck_s=0)
    with pytest.raises(Overloaded):
        append(store, ipc_of("refused"))
    assert messages(store) == []
    disk.free = 2 << 20
    append(store, ipc_of("taken"))
    assert messages(store) == ["taken"]


def test_store_under_the_floor_flushes_but_does_not_compact(make_store: MakeStore) -> None:
    store = make_store(compaction_interval_s=0.0, compaction_min_segments=2, flush_interval_s=0.0)
    for i in range(3):
        append(store, ipc_of(f"m{i}"))
        store.flush()
    disk = FakeDisk(1)
    store.floor = DiskFloor(1 << 20, disk, recheck_s=0)
    append_ok = store.segment_count()
    store.maintain(now=1e9)
    assert store.stats.compactions == 0, "compaction needs room for its merged copy"
    assert store.segment_count() == append_ok
    disk.free = 2 << 20
    store.maintain(now=2e9)
    assert store.stats.compactions >= 1
    assert messages(store) == ["m0", "m1", "m2"]


def test_free_space_the_floor_and_refusals_are_published(make_store: MakeStore) -> None:
    store = make_store()
    store.floor = DiskFloor(100, FakeDisk(7), recheck_s=0)
    with pytest.raises(Overloaded):
        asyncio.run(store.append("logs", ipc_of("x")))
    assert sample(store, "tracelake_disk_free_bytes") == 7
    assert sample(store, "tracelake_disk_floor_bytes") == 100
    assert sample(store, "tracelake_ingest_disk_refused_total") == 1
