"""Record ids the store took recently, so a record a client retries is stored once.

Where a protocol names a record (a ``_bulk`` item's ``_id``, a Loki entry's stream,
time and line, a forward chunk's records, an event's type and key) the rows carry that
name in their table's identity column (``IDENTITY``). ``Store.append`` asks
``RecentIds`` which rows of a batch name a record it already holds, stores the others
and says which rows it left out, so each protocol can answer a retry the way its own
server does. Rows without an id pay one null count per batch and nothing else.

Exact under concurrency: the check and the claim happen in one step on the event loop,
and a batch whose ids another append is still writing waits for that append's outcome
(stored: they are retries; refused: it may store them itself).

What is remembered: ids taken in the last ``dedup_window_hours``, at most
``dedup_max_ids`` per table (the oldest forgotten first). At start the store rebuilds
the index from what it holds: the memtable (the WAL just replayed into it) and the lake's
rows of the window, by record time — so a retry after a lost answer or a ``kill -9``
between the WAL write and the answer is still recognised.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import pyarrow as pa


@dataclass(frozen=True, slots=True)
class Identity:
    """Which column of a table names a record; ``scope`` a column the name is unique within
    (events: a key is unique per type)."""

    column: str
    scope: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,) if self.scope is None else (self.scope, self.column)

    def recall_sql(self, table: str) -> str:
        """The rows of ``table`` naming a record since a time (µs, the first parameter),
        newest first, at most the second parameter: ``tl_at`` (µs) and ``columns``."""
        columns = ", ".join(f'"{c}"' for c in self.columns)
        return (
            f'SELECT epoch_us("timestamp") AS tl_at, {columns} FROM "{table}" '  # noqa: S608 - fixed names
            f'WHERE "{self.column}" IS NOT NULL AND epoch_us("timestamp") >= ? '
            "ORDER BY tl_at DESC LIMIT ?"
        )

    def ids(self, rows: pa.RecordBatch | pa.Table) -> list[str | None] | None:
        """The id of each row (None: the row names no record); None when no row has one."""
        names = rows.column(self.column)
        if names.null_count == len(names):
            return None
        values: list[str | None] = names.to_pylist()
        if self.scope is None:
            return values
        scopes = rows.column(self.scope).to_pylist()
        return [None if v is None else f"{s}\x1f{v}" for s, v in zip(scopes, values, strict=True)]


#: The tables whose rows may name a record, and the column that names it.
IDENTITY: dict[str, Identity] = {
    "logs": Identity("_id"),
    "events": Identity("key", scope="type"),
}

#: Ids of one bucket at most: forgetting the oldest drops a whole bucket.
BUCKET_IDS = 10_000


@dataclass(slots=True)
class Claim:
    """What ``RecentIds.claim`` made of a batch: the rows to leave out as retries, and the
    ids this append now writes (others wait on ``done`` for them)."""

    duplicates: list[int]
    ids: list[str]
    done: asyncio.Future[None] | None = None


@dataclass(slots=True)
class _Bucket:
    when: float
    ids: list[str] = field(default_factory=list)


class RecentIds:
    """One table's recently taken ids: a set for lookups, buckets in arrival order for
    forgetting (by age past ``window_s``, by count past ``max_ids``)."""

    def __init__(
        self, window_s: float, max_ids: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.window_s = window_s
        self.max_ids = max_ids
        self._clock = clock
        self._seen: set[str] = set()
        self._buckets: deque[_Bucket] = deque()
        self._pending: dict[str, asyncio.Future[None]] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def __contains__(self, record_id: str) -> bool:
        return record_id in self._seen

    def busy(self, ids: Iterable[str | None]) -> set[asyncio.Future[None]]:
        """The appends still writing some of ``ids``: wait for them, then ``claim``."""
        pending = self._pending
        if not pending:
            return set()
        return {f for i in ids if i is not None and (f := pending.get(i)) is not None}

    def claim(self, ids: Sequence[str | None]) -> Claim:
        """Split a batch's rows into retries (an id taken before, or earlier in the batch)
        and new ones, which are claimed until ``settle``. Call right after ``busy`` came
        back empty, with no await in between."""
        self._forget(self._clock())
        seen, pending = self._seen, self._pending
        duplicates: list[int] = []
        claimed: dict[str, None] = {}
        for row, record_id in enumerate(ids):
            if record_id is None:
                continue
            if record_id in seen or record_id in pending or record_id in claimed:
                duplicates.append(row)
            else:
                claimed[record_id] = None
        claim = Claim(duplicates, list(claimed))
        if claim.ids:
            claim.done = asyncio.get_running_loop().create_future()
            for record_id in claim.ids:
                pending[record_id] = claim.done
        return claim

    def settle(self, claim: Claim, stored: bool) -> None:
        """The append of ``claim`` ended: its ids are taken when ``stored``, free if not."""
        for record_id in claim.ids:
            self._pending.pop(record_id, None)
        if stored:
            self.remember(claim.ids, self._clock())
        if claim.done is not None:
            claim.done.set_result(None)

    def remember(self, ids: Iterable[str], when: float) -> None:
        """Note ``ids`` as taken at ``when`` (seconds since the epoch); oldest first."""
        seen, buckets = self._seen, self._buckets
        for record_id in ids:
            if record_id in seen:
                continue
            if not buckets or len(buckets[-1].ids) >= BUCKET_IDS or buckets[-1].when < when - 60:
                buckets.append(_Bucket(when))
            buckets[-1].ids.append(record_id)
            seen.add(record_id)
        while len(seen) > self.max_ids and buckets:
            seen.difference_update(buckets.popleft().ids)

    def _forget(self, now: float) -> None:
        buckets, cutoff = self._buckets, now - self.window_s
        # a bucket is forgotten once its newest id is past the window
        while len(buckets) > 1 and buckets[1].when < cutoff:
            self._seen.difference_update(buckets.popleft().ids)
        if len(buckets) == 1 and buckets[0].when < cutoff - 60:
            self._seen.difference_update(buckets.popleft().ids)
