"""The memtable: acknowledged batches held in Arrow until their segment is written.

Batches are searchable the moment the WAL applies them. ``freeze`` (called by the WAL
at a seal) moves the active batches into a frozen generation that stays visible to
queries until the flusher has committed it to the lake, table by table.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

Listener = Callable[[str, pa.RecordBatch], None]


@dataclass(slots=True)
class Generation:
    """Batches of one WAL generation, per table."""

    batches: dict[str, list[pa.RecordBatch]] = field(default_factory=dict)
    rows: int = 0
    nbytes: int = 0
    #: The WAL file holding this generation's batches; set when it is frozen.
    wal_seq: int = 0

    def add(self, table: str, batch: pa.RecordBatch) -> None:
        self.batches.setdefault(table, []).append(batch)
        self.rows += batch.num_rows
        self.nbytes += batch.nbytes


class Memtable:
    """Active + frozen generations, safe to read from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = Generation()
        self._frozen: list[Generation] = []
        self._listeners: list[Listener] = []

    def add(self, table: str, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        with self._lock:
            self._active.add(table, batch)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(table, batch)

    def freeze(self, wal_seq: int) -> None:
        with self._lock:
            self._active.wal_seq = wal_seq
            self._frozen.append(self._active)
            self._active = Generation()

    def oldest_frozen(self) -> Generation | None:
        with self._lock:
            return self._frozen[0] if self._frozen else None

    def drop_table(self, generation: Generation, table: str) -> None:
        """Forget one table's batches of a generation once they are committed (under the
        store lock, with the commit, so a query sees them in one place or the other)."""
        with self._lock:
            generation.batches.pop(table, None)

    def drop(self, generation: Generation) -> None:
        """Forget a generation once its rows are committed (call under the store lock)."""
        with self._lock:
            self._frozen.remove(generation)

    def batches(self, table: str) -> list[pa.RecordBatch]:
        """Every batch of ``table`` now held: frozen generations first, then active."""
        with self._lock:
            gens = [*self._frozen, self._active]
            return [b for g in gens for b in g.batches.get(table, ())]

    @property
    def rows(self) -> int:
        with self._lock:
            return self._active.rows + sum(g.rows for g in self._frozen)

    @property
    def active_rows(self) -> int:
        return self._active.rows

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._active.nbytes + sum(g.nbytes for g in self._frozen)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(table, batch)`` for each new batch (on the WAL thread: be quick)."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe
