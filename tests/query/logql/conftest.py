"""LogQL fixtures: a real store in a temp directory, log rows written through it.

``lake`` gives a ``Lake``: ``add(rows)`` appends rows placed at ``NOW + seconds`` (built
from the clock, so no retention window ever ages them out), ``logs``/``matrix``/
``vector`` run LogQL through ``LogQLEngine`` over the memtable, or over Parquet segments
after ``flush()``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from tracelake.query.logql import Answer, LogQLEngine
from tracelake.query.sql import Sql
from tracelake.schema import LOGS
from tracelake.settings import Settings
from tracelake.store import Store
from tracelake.store.duck import Results
from tracelake.store.ipc import to_ipc

#: A whole minute a little in the past: rows sit at NOW + seconds (negative: before).
NOW = (int(time.time()) // 60 - 5) * 60
S = 10**9


class Lake:
    def __init__(self, store: Store) -> None:
        self.store = store

        async def runner(
            sql: Sql, *, start_ns: int | None, end_ns: int | None, max_rows: int, arrow: bool
        ) -> Results:
            return store.query(
                sql.text, sql.params, tables=["logs"], timeout_s=30, max_rows=max_rows, arrow=arrow
            )

        self.engine = LogQLEngine(runner, max_rows=store.settings.query_max_rows)

    def add(self, rows: Sequence[dict[str, Any]]) -> None:
        """Rows as {"t": seconds from NOW, "service", "level", "host", "message",
        "attributes": {...}, ...}; level is stored upper-case as the pipeline does."""
        columns: dict[str, list[Any]] = {name: [] for name in LOGS.names}
        for row in rows:
            columns["timestamp"].append(round((NOW + row["t"]) * 1e6))
            for name in LOGS.names[1:]:
                value = row.get(name)
                if name == "attributes" and value is not None:
                    value = orjson.dumps(value).decode()
                if name == "level":
                    value = (value or "info").upper()
                columns[name].append(value)
        batch = pa.record_batch([pa.array(columns[f.name], f.type) for f in LOGS], schema=LOGS)
        asyncio.run(self.store.append("logs", to_ipc(batch)))

    def flush(self) -> None:
        self.store.flush()

    def run(self, q: str, start: float, end: float, **kw: Any) -> Answer:
        return asyncio.run(
            self.engine.query(
                q,
                start_ns=round((NOW + start) * S),
                end_ns=round((NOW + end) * S),
                step_ns=round(kw.pop("step", 60) * S),
                limit=kw.pop("limit", 100),
                forward=kw.pop("forward", False),
                **kw,
            )
        )

    def lines(self, q: str, start: float = -3600, end: float = 3600, **kw: Any) -> list[str]:
        """The lines of a log query, in the answer's order."""
        return [e.line for e in self.run(q, start, end, **kw).entries]

    def matrix(
        self, q: str, start: float, end: float, step: float = 60
    ) -> dict[tuple[tuple[str, str], ...], list[float | None]]:
        """Per series, the value at each step (None where absent)."""
        answer = self.run(q, start, end, step=step)
        return {
            k: [None if v != v else float(v) for v in values] for k, values in answer.series.items()
        }

    def vector(self, q: str, at: float) -> dict[tuple[tuple[str, str], ...], float]:
        answer = self.run(q, at, at, instant=True)
        if answer.scalar is not None:
            return {(): float(answer.scalar[-1])}
        return {k: float(v[-1]) for k, v in answer.series.items()}


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[Lake]:
    settings = Settings.load(env={}, overrides={"data_dir": str(tmp_path / "data")})
    store = Store(settings)
    store.open()
    try:
        yield Lake(store)
    finally:
        store.close()
