"""Store fixtures: an open store over a temp directory and a helper to make batches."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracelake.ingest.tables.logs import logs_batch
from tracelake.model import IngestResult
from tracelake.settings import Settings
from tracelake.store import Store
from tracelake.store.ipc import to_ipc

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z in µs


def ipc_of(*messages: str, ts_us: int = T0, step_us: int = 1_000_000) -> bytes:
    objects = [
        {"message": m, "timestamp": (ts_us + i * step_us) * 1000} for i, m in enumerate(messages)
    ]
    batch = logs_batch(objects, list(range(1, len(objects) + 1)), IngestResult(), ts_us + 10**12)
    return to_ipc(batch)


def settings_for(path: Path, **overrides: object) -> Settings:
    return Settings.load(
        env={}, overrides={"data_dir": str(path), "retention_days": 100_000, **overrides}
    )


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator:
    stores: list[Store] = []

    def make(**overrides: object) -> Store:
        store = Store(settings_for(tmp_path / "data", **overrides))
        store.open()
        stores.append(store)
        return store

    yield make
    for store in stores:
        if store.wal is not None:
            store.wal.close()


def append(store: Store, ipc: bytes) -> None:
    asyncio.run(store.append("logs", ipc))


def messages(store: Store) -> list[str]:
    results = store.query(
        "SELECT message FROM logs ORDER BY timestamp, message",
        [],
        tables=["logs"],
        timeout_s=10,
        max_rows=1_000_000,
    )
    return [r[0] for r in results.rows]
