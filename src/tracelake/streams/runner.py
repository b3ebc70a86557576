"""The loop that keeps every continuous query's windows committed.

A window ``[start, end)`` is computed once the wall clock passes ``end + lateness``:
one DuckDB statement (statement.py) over the lake — segments plus the memtable, so
every acknowledged record is seen — then committed to ``derived`` and ``metrics`` and
checkpointed (checkpoint.py explains why that is exactly once across crashes). A
record acknowledged before that moment is in its window, however late its timestamp;
one acknowledged after it stays in the lake but not in the window.

The loop sleeps until the next window of any query is due. Several due windows of a
query (after downtime) are committed together, up to ``MAX_WINDOWS_PER_COMMIT``. A
failing window (a timeout, an overloaded store, a full disk) is retried, never skipped;
before the retry the query's resume point is found again from the lake, as after a
crash, because a commit that failed at step 2 or 3 has already written its ``derived``
rows and must not write them twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from tracelake.errors import TracelakeError
from tracelake.settings import Settings
from tracelake.store import Store
from tracelake.store.duck import Results
from tracelake.store.ipc import to_ipc
from tracelake.streams.checkpoint import CheckpointFile, resume_point
from tracelake.streams.output import Value, canonical_labels, derived_batch, metrics_batch
from tracelake.streams.query import ContinuousQuery
from tracelake.streams.statement import WindowStatement
from tracelake.streams.windows import Window, utc

log = logging.getLogger("tracelake.streams")

MAX_WINDOWS_PER_COMMIT = 60
#: Longest sleep between looks at the clock, and the pause after a failed commit.
IDLE_S = 0.5
RETRY_S = 1.0
#: Rows a recovery query may return (one commit's derived rows).
_RECOVERY_MAX_ROWS = 10_000_000


@dataclass(slots=True)
class StreamStats:
    """What ``StreamRunner.collect`` publishes on /metrics."""

    windows: int = 0
    failures: int = 0
    truncated_windows: int = 0
    last_delay_s: float = 0.0
    restored_samples: int = 0


class StreamRunner:
    """Computes and commits the due windows of ``queries``, from ``store``, forever."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        queries: Sequence[ContinuousQuery],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self.queries = list(queries)
        self.statements = {q.name: WindowStatement.of(q) for q in self.queries}
        self.checkpoints = CheckpointFile(settings.data_path / "streams" / "checkpoints.json")
        self.stats = StreamStats()
        self.committed_end_us: dict[str, int] = {}
        self._clock = clock

    def _now_us(self) -> int:
        return int(self._clock() * 1e6)

    # -- start: where each query resumes ----------------------------------------------

    async def recover(self) -> None:
        """Find each query's resume point; rewrite metrics a crash kept from the lake."""
        await asyncio.to_thread(self.checkpoints.load)
        for q in self.queries:
            await self._resume(q)
            log.info(
                "continuous query %s: windows after %s", q.name, _iso(self.committed_end_us[q.name])
            )

    async def _resume(self, q: ContinuousQuery) -> None:
        """Set ``q``'s committed end from the checkpoint and ``derived``, as they are now."""
        derived_end = await self._sql_one(
            'SELECT max(epoch_us(window_end)) FROM derived WHERE "query" = ?',
            [q.name],
            tables=["derived"],
        )
        first_end = q.windows.ending_at_or_before(self._now_us()).end_us
        point = resume_point(self.checkpoints.get(q.name), derived_end, first_end)
        if point.unconfirmed_after_us is not None:
            await self._restore_metrics(q, point.unconfirmed_after_us, point.committed_end_us)
        if self.checkpoints.get(q.name) != point.committed_end_us:
            await asyncio.to_thread(self.checkpoints.save, q.name, point.committed_end_us)
        self.committed_end_us[q.name] = point.committed_end_us

    async def _restore_metrics(self, q: ContinuousQuery, after_us: int, end_us: int) -> None:
        """Write the metrics of derived windows in ``(after, end]`` unless they are there."""
        bounds = [utc(after_us), utc(end_us)]
        rows = await self._sql(
            'SELECT epoch_us("timestamp"), epoch_us(window_end), labels, aggregate, value '
            'FROM derived WHERE "query" = ? AND window_end > ? AND window_end <= ?',
            [q.name, *bounds],
            tables=["derived"],
        )
        values = [Value(*row) for row in rows]
        if not values:
            return
        names = sorted({q.metric_prefix + v.aggregate for v in values})
        present = await self._sql_one(
            'SELECT count(*) FROM metrics WHERE list_contains(?, name) AND "timestamp" > ? '
            'AND "timestamp" <= ?',
            [names, *bounds],
            tables=["metrics"],
        )
        if present:
            return
        await self.store.append("metrics", to_ipc(metrics_batch(q.metric_prefix, values)))
        self.stats.restored_samples += len(values)
        log.warning(
            "continuous query %s: restored %d metric samples of windows committed before a crash",
            q.name,
            len(values),
        )

    # -- the loop ---------------------------------------------------------------------

    async def run(self) -> None:
        """Recover, then commit windows as they become due, until cancelled."""
        if not self.queries:
            return
        while True:
            try:
                await self.recover()
                break
            except Exception:
                log.exception("continuous queries: recovery failed; retrying in %.0f s", RETRY_S)
                await asyncio.sleep(RETRY_S)
        failed: set[str] = set()  # queries whose last commit failed: resume them first
        while True:
            pause = IDLE_S
            for q in self.queries:
                try:
                    if q.name in failed:
                        await self._resume(q)
                        failed.discard(q.name)
                    end = self.committed_end_us[q.name]
                    now = self._now_us()
                    due = list(
                        islice(q.windows.due(end, now, q.lateness_us), MAX_WINDOWS_PER_COMMIT)
                    )
                    if due:
                        await self.commit(q, due)
                except Exception as e:  # a window is retried, never skipped
                    failed.add(q.name)
                    self.stats.failures += 1
                    log.error(
                        "continuous query %s: window %s failed, retrying in %.0f s: %s",
                        q.name,
                        _iso(q.windows.after(self.committed_end_us[q.name]).start_us),
                        RETRY_S,
                        e,
                        exc_info=not isinstance(e, TracelakeError),
                    )
                    pause = RETRY_S
                    continue
                next_due = q.windows.next_due_us(self.committed_end_us[q.name], q.lateness_us)
                pause = min(pause, max(0.0, (next_due - self._now_us()) / 1e6))
            await asyncio.sleep(pause)

    async def commit(self, q: ContinuousQuery, windows: list[Window]) -> None:
        """Compute ``windows`` (consecutive, oldest first) and commit them as one step."""
        statement = self.statements[q.name]
        values: list[Value] = []
        for window in windows:
            results = await asyncio.to_thread(self._compute, q, statement, window)
            for row in results.rows:
                labels, outputs = statement.split(row)
                text = canonical_labels(labels)
                values += [
                    Value(window.start_us, window.end_us, text, name, value)
                    for name, value in outputs
                ]
        committed_at = self._now_us()
        if values:
            await self.store.append("derived", to_ipc(derived_batch(q.name, values, committed_at)))
            await self.store.append("metrics", to_ipc(metrics_batch(q.metric_prefix, values)))
        end = windows[-1].end_us
        await asyncio.to_thread(self.checkpoints.save, q.name, end)
        self.committed_end_us[q.name] = end
        self.stats.windows += len(windows)
        self.stats.last_delay_s = (committed_at - end - q.lateness_us) / 1e6

    def _compute(self, q: ContinuousQuery, statement: WindowStatement, window: Window) -> Results:
        results = self.store.query(
            statement.sql,
            statement.params(window),
            tables=[q.source],
            start_us=window.start_us,
            end_us=window.end_us,
            max_rows=self.settings.stream_max_groups,
        )
        if results.truncated:
            self.stats.truncated_windows += 1
            log.error(
                "continuous query %s: window %s has more than %d groups; the rest are left "
                "out: raise stream_max_groups or group by fewer keys",
                q.name,
                _iso(window.start_us),
                self.settings.stream_max_groups,
            )
        return results

    # -- reading the lake ---------------------------------------------------------------

    async def _sql(
        self, sql: str, params: list[Any], *, tables: list[str]
    ) -> list[tuple[Any, ...]]:
        results = await asyncio.to_thread(
            self.store.query, sql, params, tables=tables, max_rows=_RECOVERY_MAX_ROWS
        )
        return results.rows

    async def _sql_one(self, sql: str, params: list[Any], *, tables: list[str]) -> Any:
        rows = await self._sql(sql, params, tables=tables)
        return rows[0][0] if rows else None

    def collect(self) -> Iterator[Metric]:
        """For the server's /metrics: windows committed, retried, truncated, restored."""
        s = self.stats
        yield CounterMetricFamily(
            "tracelake_streams_windows", "Windows committed by continuous queries", value=s.windows
        )
        yield CounterMetricFamily(
            "tracelake_streams_failures",
            "Window commits that failed and were retried",
            value=s.failures,
        )
        yield CounterMetricFamily(
            "tracelake_streams_truncated_windows",
            "Windows that had more groups than stream_max_groups",
            value=s.truncated_windows,
        )
        yield CounterMetricFamily(
            "tracelake_streams_restored_samples",
            "Metric samples of windows committed before a crash, written again at start",
            value=s.restored_samples,
        )
        yield GaugeMetricFamily(
            "tracelake_streams_window_delay_seconds",
            "Last commit's delay after its window's end + lateness",
            value=s.last_delay_s,
        )


def _iso(us: int) -> str:
    return utc(us).isoformat().replace("+00:00", "Z")
