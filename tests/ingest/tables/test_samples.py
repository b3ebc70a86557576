"""Samples → Arrow batches of the metrics table, and how the lake lays them out on flush."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import pyarrow.parquet as pq

from tracelake.ingest.decoders.sample_rows import STALE_NAN, SampleRows, Series
from tracelake.ingest.tables.samples import samples_batch
from tracelake.schema import METRICS
from tracelake.settings import Settings
from tracelake.store import Store
from tracelake.store.ipc import from_ipc, to_ipc

T0 = 1_767_225_600_000_000


def sample_rows(*samples: tuple[str, bytes, int, float]) -> SampleRows:
    rows = SampleRows()
    for name, labels, offset, value in samples:
        rows.add(Series(name, labels, "svc"), T0 + offset, value)
    return rows


def test_a_batch_has_the_metrics_schema_and_keeps_the_stale_marker_bits() -> None:
    batch = from_ipc(to_ipc(samples_batch(sample_rows(("up", b'{"a":"1"}', 0, STALE_NAN)))))
    assert batch.schema == METRICS
    value = batch.column("value")[0].as_py()
    assert struct.pack("<d", value) == struct.pack("<Q", 0x7FF0000000000002)
    assert batch.column("labels")[0].as_py() == '{"a":"1"}'
    assert batch.column("timestamp")[0].value == T0


def test_flushed_metrics_segments_are_sorted_by_name_labels_then_time(tmp_path: Path) -> None:
    store = Store(
        Settings.load(env={}, overrides={"data_dir": str(tmp_path), "retention_days": 100_000})
    )
    store.open()
    rows = sample_rows(
        ("zeta", b'{"i":"1"}', 5, 1.0),
        ("alpha", b'{"i":"2"}', 3, 2.0),
        ("alpha", b'{"i":"1"}', 9, 3.0),
        ("alpha", b'{"i":"1"}', 1, 4.0),
    )
    asyncio.run(store.append("metrics", to_ipc(samples_batch(rows))))
    store.flush()
    (segment,) = store.tables["metrics"].snapshot().segments
    path = store.lake / segment.path
    store.close()
    table = pq.read_table(path)
    assert table.column("name").to_pylist() == ["alpha", "alpha", "alpha", "zeta"]
    assert table.column("labels").to_pylist()[:3] == ['{"i":"1"}', '{"i":"1"}', '{"i":"2"}']
    assert table.column("value").to_pylist() == [4.0, 3.0, 2.0, 1.0]
    sorting = pq.ParquetFile(path).metadata.row_group(0).sorting_columns
    assert [table.column_names[c.column_index] for c in sorting] == ["name", "labels", "timestamp"]
