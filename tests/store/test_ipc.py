"""The Arrow IPC codec of the WAL: what a worker encodes, the store decodes unchanged."""

from __future__ import annotations

import pyarrow as pa

from tracelake.schema import LOGS
from tracelake.store.ipc import from_ipc, to_ipc


def test_a_batch_survives_the_round_trip_with_its_schema() -> None:
    batch = pa.record_batch([pa.array([1, 2], pa.int64()), pa.array(["a", None])], names=["n", "s"])
    back = from_ipc(to_ipc(batch))
    assert back.schema == batch.schema
    assert back.to_pylist() == batch.to_pylist()


def test_an_empty_batch_decodes_to_an_empty_batch_of_the_same_schema() -> None:
    empty = pa.record_batch([pa.array([], f.type) for f in LOGS], schema=LOGS)
    back = from_ipc(memoryview(to_ipc(empty)))
    assert back.num_rows == 0
    assert back.schema == LOGS
