"""``Ingest``: every table's one write path, over a ``BatchSink`` that records batches."""

from __future__ import annotations

import asyncio
import os
from functools import partial
from pathlib import Path

import orjson
import pytest

from tracelake.errors import DecodeError, Overloaded
from tracelake.ingest.jobs import Decoded, Headers, JobEnv
from tracelake.ingest.submit import Ingest
from tracelake.ingest.tables import events, logs, spans
from tracelake.settings import Settings
from tracelake.store.ipc import from_ipc
from tracelake.telemetry import ServerMetrics


class RecordingSink:
    """A ``BatchSink`` that keeps what it is given, or refuses it while ``full``."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, bytes]] = []
        self.full = False

    async def append(self, table: str, ipc: bytes) -> list[int]:
        if self.full:
            raise Overloaded("sink full", retry_after=1)
        self.batches.append((table, ipc))
        return []


def _ingest(tmp_path: Path, workers: int) -> tuple[Ingest, RecordingSink, ServerMetrics]:
    settings = Settings.load(
        env={}, overrides={"data_dir": str(tmp_path), "ingest_workers": workers}
    )
    sink, metrics = RecordingSink(), ServerMetrics()
    return Ingest(sink, settings, metrics), sink, metrics


def _count(metrics: ServerMetrics, source: str, outcome: str) -> float:
    return metrics.ingest_records.labels(source, outcome)._value.get()


NDJSON = b'{"message": "one", "service": "a"}\nnot json\n{"message": "two", "service": "a"}\n'


def test_a_job_s_rows_reach_the_sink_as_its_table_and_every_outcome_is_counted(
    tmp_path: Path,
) -> None:
    ingest, sink, metrics = _ingest(tmp_path, workers=0)
    decoded = asyncio.run(ingest.submit(logs.ndjson_job, NDJSON, {}, "http"))
    assert [table for table, _ in sink.batches] == ["logs"]
    assert from_ipc(sink.batches[0][1]).column("message").to_pylist() == ["one", "two"]
    assert (decoded.result.accepted, decoded.result.rejected) == (2, 1)
    assert decoded.result.errors[0].line == 2
    assert _count(metrics, "http", "accepted") == 2
    assert _count(metrics, "http", "rejected") == 1
    assert metrics.ingest_bytes.labels("http")._value.get() == len(NDJSON)


def test_jobs_run_in_a_worker_process_and_give_what_they_give_inline(tmp_path: Path) -> None:
    pooled, pooled_sink, _ = _ingest(tmp_path / "a", workers=1)
    inline, inline_sink, _ = _ingest(tmp_path / "b", workers=0)
    try:
        assert asyncio.run(pooled.decode(os.getpid)) != os.getpid()
        a = asyncio.run(pooled.submit(logs.ndjson_job, NDJSON, {}, "http"))
        b = asyncio.run(inline.submit(logs.ndjson_job, NDJSON, {}, "http"))
    finally:
        pooled.close()
    assert a.result.as_dict() == b.result.as_dict()
    rows = [from_ipc(sink.batches[0][1]).drop_columns("timestamp").to_pylist()
            for sink in (pooled_sink, inline_sink)]  # fmt: skip
    assert rows[0] == rows[1]


def test_a_body_that_cannot_be_decoded_stores_nothing(tmp_path: Path) -> None:
    ingest, sink, metrics = _ingest(tmp_path, workers=0)
    with pytest.raises(DecodeError):
        asyncio.run(ingest.submit(spans.zipkin_job, b"{not json", {}, "zipkin"))
    assert sink.batches == []
    assert _count(metrics, "zipkin", "accepted") == 0


def test_a_refused_append_raises_counts_nothing_and_the_same_batch_can_be_committed_again(
    tmp_path: Path,
) -> None:
    ingest, sink, metrics = _ingest(tmp_path, workers=0)
    decoded = asyncio.run(ingest.decode(logs.ndjson_job, NDJSON, {}, ingest.env()))
    sink.full = True
    with pytest.raises(Overloaded):
        asyncio.run(ingest.commit(decoded, "jsonlines/tcp"))
    assert _count(metrics, "jsonlines/tcp", "accepted") == 0
    sink.full = False
    asyncio.run(ingest.commit(decoded, "jsonlines/tcp"))
    assert len(sink.batches) == 1
    assert _count(metrics, "jsonlines/tcp", "accepted") == 2


def test_rows_dropped_by_the_pipeline_count_as_accepted_and_dropped_not_stored(
    tmp_path: Path,
) -> None:
    settings = Settings.load(
        env={},
        overrides={
            "data_dir": str(tmp_path),
            "ingest_workers": 0,
            "pipeline": {"drop": [{"query": "level:DEBUG"}]},
        },
    )
    sink, metrics = RecordingSink(), ServerMetrics()
    ingest = Ingest(sink, settings, metrics)
    body = b'{"message": "a", "level": "debug"}\n{"message": "b", "level": "info"}\n'
    decoded = asyncio.run(ingest.submit(logs.ndjson_job, body, {}, "http"))
    assert decoded.result.as_dict()["accepted"] == 2
    assert decoded.result.dropped == 1
    assert from_ipc(sink.batches[0][1]).column("message").to_pylist() == ["b"]
    assert _count(metrics, "http", "dropped") == 1


def test_objects_decoded_by_a_listener_take_the_same_pipeline_into_logs(tmp_path: Path) -> None:
    ingest, sink, metrics = _ingest(tmp_path, workers=0)
    result = asyncio.run(
        ingest.submit_objects([{"message": "from udp", "level": "warning"}], "syslog/udp")
    )
    assert result.stored == 1
    batch = from_ipc(sink.batches[0][1])
    assert batch.column("level").to_pylist() == ["WARN"]
    assert _count(metrics, "syslog/udp", "accepted") == 1


def test_a_job_bound_to_request_parameters_is_still_one_picklable_job(tmp_path: Path) -> None:
    ingest, sink, _ = _ingest(tmp_path, workers=1)
    body = b'{"index": {}}\n{"message": "doc"}\n'
    try:
        decoded = asyncio.run(
            ingest.submit(partial(logs.bulk_job, default_index="orders"), body, {}, "es_bulk")
        )
    finally:
        ingest.close()
    reply = orjson.loads(decoded.answer.body)  # built in the worker, but for the time taken
    assert [item["index"]["_index"] for item in reply["items"]] == ["orders"]
    assert reply["took"] == 0
    assert from_ipc(sink.batches[0][1]).column("service").to_pylist() == ["orders"]


def test_every_table_job_names_its_table(tmp_path: Path) -> None:
    ingest, sink, _ = _ingest(tmp_path, workers=0)
    body = orjson.dumps([{"type": "order_placed", "payload": {"amount": 3}}])
    decoded: Decoded = asyncio.run(ingest.submit(events.events_job, body, {}, "events"))
    assert decoded.answer == {"accepted": 1, "rejected": 0, "errors": []}
    assert sink.batches[0][0] == "events"


def _env_job(body: bytes, headers: Headers, env: JobEnv) -> JobEnv:
    return env


def test_a_job_is_given_the_settings_limits_and_the_time_of_submission(tmp_path: Path) -> None:
    ingest, _, _ = _ingest(tmp_path, workers=0)
    env = asyncio.run(ingest.decode(_env_job, b"", {}, ingest.env()))
    assert env.limits.max_body_bytes == Settings.load(env={}).max_body_bytes
    assert env.pipeline is ingest.pipeline
    assert env.now_us > 0
