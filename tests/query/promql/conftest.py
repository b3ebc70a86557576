"""PromQL fixtures: a real store in a temp directory, samples written through it.

``lake`` gives a ``Lake``: add samples with ``add(name, labels, [(t_seconds, value)…])``,
then ``query(q, t)`` / ``query_range(q, start, end, step)`` evaluate over the store's
memtable, or its Parquet segments after ``flush()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pytest

from tracelake.query.promql import PromQLEngine
from tracelake.query.promql.values import Scalar, Vector
from tracelake.schema import METRICS
from tracelake.settings import Settings
from tracelake.store import Store
from tracelake.store.ipc import to_ipc

#: 2026-01-01T00:00:00Z: tests place samples at T0 + seconds.
T0 = 1_767_225_600


class Lake:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = PromQLEngine(store, store.settings)

    def add(
        self, name: str, labels: dict[str, str], samples: Sequence[tuple[float, float]]
    ) -> None:
        """Samples at T0 + t seconds."""
        text = orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode()
        batch = pa.record_batch(
            [
                pa.array([round((T0 + t) * 1e6) for t, _ in samples], pa.timestamp("us", tz="UTC")),
                pa.array([name] * len(samples), pa.string()),
                pa.array([text] * len(samples), pa.string()),
                pa.array([v for _, v in samples], pa.float64()),
                pa.array([labels.get("service", labels.get("job"))] * len(samples), pa.string()),
            ],
            schema=METRICS,
        )
        asyncio.run(self.store.append("metrics", to_ipc(batch)))

    def flush(self) -> None:
        self.store.flush()

    def query(self, q: str, t: float) -> dict[tuple[tuple[str, str], ...], float] | float:
        """An instant query at T0 + t: {labels: value} for a vector, the number for a scalar."""
        value = self.engine.instant(q, T0 + t).value
        if isinstance(value, Scalar):
            return float(value.values[0])
        assert isinstance(value, Vector)
        return {s.labels: float(s.values[0]) for s in value.series if s.present[0]}

    def query_range(
        self, q: str, start: float, end: float, step: float
    ) -> dict[tuple[tuple[str, str], ...], list[float | None]]:
        """Per series, the value at each step (None where absent)."""
        value = self.engine.range(q, T0 + start, T0 + end, step).value
        if isinstance(value, Scalar):
            return {(): [float(v) for v in value.values]}
        assert isinstance(value, Vector)
        return {
            s.labels: [float(v) if p else None for v, p in zip(s.values, s.present, strict=True)]
            for s in value.series
        }


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[Lake]:
    settings = Settings.load(
        env={}, overrides={"data_dir": str(tmp_path / "data"), "retention_days": 100_000}
    )
    store = Store(settings)
    store.open()
    yield Lake(store)
    if store.wal is not None:
        store.wal.close()


def labels(**kv: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(kv.items()))


__all__ = ["T0", "Lake", "labels", "np"]
