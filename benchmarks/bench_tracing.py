"""Tracing against the real server process: OTLP ingest, trace lookup, dependencies.

1. OTLP/HTTP protobuf ingest, durable (acked after fsync): batches of 2,000 spans from
   concurrent clients. Baseline: protobuf's own parse of the same bodies
   (``ExportTraceServiceRequest.FromString``), the floor any Python decoder sits on.
2. ``GET /api/v2/trace/{id}`` over a lake of ``BENCH_SPANS`` spans (default 10
   million, a day of compacted hourly segments written directly and committed to the
   table's Delta log as one version). Baseline: the same
   lookup by DuckDB in this process over the same Parquet files, no HTTP.
3. ``GET /api/v2/dependencies`` for that day, from the per-minute links table.
   Baseline: deriving the links from the spans with SQL at query time (a self-join),
   which is what the continuously maintained table saves.

Scale down for a quick run: ``BENCH_SPANS=500000 BENCH_TRACE_BATCHES=100``.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import httpx
import pyarrow as pa
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import ServerProcess

from tracelake.schema import DEPENDENCIES, SPANS
from tracelake.settings import Settings
from tracelake.store import Store
from tracelake.store.segments import write_segments

SPANS_PER_BATCH = 2000
BATCHES = int(os.environ.get("BENCH_TRACE_BATCHES", 400))
CLIENTS = 4  # threads in bench_ingest
LAKE_SPANS = int(os.environ.get("BENCH_SPANS", 10_000_000))
LOOKUPS = 50
DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
SPANS_PER_TRACE = 10
SERVICES = 12


# -- 1. ingest ------------------------------------------------------------------------


def otlp_body(seed: int) -> bytes:
    """2,000 spans of 200 traces, shaped like instrumented HTTP services send them."""
    rng = random.Random(seed)
    request = ExportTraceServiceRequest()
    now = time.time_ns()
    for r in range(4):
        resource = request.resource_spans.add()
        kv = resource.resource.attributes.add()
        kv.key, kv.value.string_value = "service.name", f"bench-svc-{r}"
        scope = resource.scope_spans.add()
        scope.scope.name, scope.scope.version = "opentelemetry.instrumentation.asgi", "0.50b0"
        for _ in range(SPANS_PER_BATCH // 4):
            span = scope.spans.add()
            span.trace_id = rng.randbytes(16)
            span.span_id = rng.randbytes(8)
            span.parent_span_id = rng.randbytes(8)
            span.name = "GET /api/orders/{id}"
            span.kind = rng.choice((2, 3))
            span.start_time_unix_nano = now
            span.end_time_unix_nano = now + rng.randrange(100_000, 50_000_000)
            for key, value in (("http.method", "GET"), ("http.route", "/api/orders/{id}"),
                               ("net.peer.name", "10.1.2.3")):  # fmt: skip
                a = span.attributes.add()
                a.key, a.value.string_value = key, value
            a = span.attributes.add()
            a.key, a.value.int_value = "http.status_code", 200
    return request.SerializeToString()


def bench_ingest() -> dict[str, float]:
    bodies = [otlp_body(i) for i in range(8)]
    started = time.perf_counter()
    for body in bodies * 3:
        ExportTraceServiceRequest.FromString(body)
    floor = 24 * SPANS_PER_BATCH / (time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data", env={"TRACELAKE_WAL_FSYNC": "true"}).start()
        try:
            sent = [0]
            lock = threading.Lock()
            headers = {"content-type": "application/x-protobuf"}

            def client(index: int, n: int) -> None:
                with httpx.Client(timeout=60) as http:
                    for i in range(n):
                        body = bodies[(index + i) % len(bodies)]
                        r = http.post(f"{server.url}/v1/traces", content=body, headers=headers)
                        while r.status_code == 503:
                            time.sleep(float(r.headers.get("Retry-After", 1)))
                            r = http.post(f"{server.url}/v1/traces", content=body, headers=headers)
                        assert r.status_code == 200 and not r.content, r.content
                        with lock:
                            sent[0] += SPANS_PER_BATCH

            client(0, 2)  # warm-up
            sent[0] = 0
            per_client = BATCHES // CLIENTS
            threads = [
                threading.Thread(target=client, args=(i, per_client)) for i in range(CLIENTS)
            ]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
        finally:
            server.stop()
    rate = sent[0] / elapsed
    return {
        "otlp_protobuf_spans_per_s": rate,
        "floor_protobuf_parse_spans_per_s": floor,
        "ratio_to_protobuf_parse": rate / floor,
    }


# -- 2 and 3. a day of spans in the lake ----------------------------------------------


def hour_of_spans(con: duckdb.DuckDBPyConnection, day_start_us: int, hour: int) -> pa.Table:
    """One hour of 10-span traces: SERVER/CLIENT pairs hopping across services."""
    per_hour = LAKE_SPANS // 24
    traces = per_hour // SPANS_PER_TRACE
    sql = """
        WITH s AS (SELECT range AS i, ? + range // 10 AS t, range % 10 AS k FROM range(?))
        SELECT make_timestamptz((? + t * (3600000000 // ?) % 3600000000 + k * 1000)::BIGINT)
                   AS timestamp,
               md5(t::VARCHAR) AS trace_id,
               substr(md5(t::VARCHAR || '-' || k::VARCHAR), 1, 16) AS span_id,
               CASE WHEN k = 0 THEN NULL
                    ELSE substr(md5(t::VARCHAR || '-' || (k - 1)::VARCHAR), 1, 16) END AS parent_id,
               'svc-' || ((t + k // 2) % ?)::VARCHAR AS service,
               'op-' || (k // 2)::VARCHAR AS name,
               CASE WHEN k % 2 = 0 THEN 'SERVER' ELSE 'CLIENT' END AS kind,
               (hash(i) % 100000)::BIGINT AS duration_us,
               CASE WHEN hash(i) % 97 = 0 THEN 'error' ELSE 'ok' END AS status,
               NULL::VARCHAR AS status_message, NULL::VARCHAR AS remote_service,
               '{"http.method":"GET","http.status_code":200}' AS attributes,
               NULL::VARCHAR AS events, '{"service.name":"svc"}' AS resource,
               NULL::VARCHAR AS details
        FROM s
    """
    start = day_start_us + hour * HOUR_US
    params = [hour * traces, traces * SPANS_PER_TRACE, start, traces, SERVICES]
    table = con.sql(sql, params=params).to_arrow_table()
    return table.cast(SPANS)


def build_lake(data_dir: Path, day_start_us: int) -> tuple[list[str], float]:
    """Write the day as compacted segments; the links too. Returns trace ids and the
    time SQL took to derive the links from the spans (the baseline of step 3)."""
    store = Store(Settings.load(overrides={"data_dir": str(data_dir)}))
    store.open()  # creates the tables' commit logs
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    sample: list[str] = []
    spans = []
    for hour in range(24):
        table = hour_of_spans(con, day_start_us, hour)
        sample += random.sample(table.column("trace_id").to_pylist(), 3)
        spans += write_segments(store.lake, "spans", table, store.writer, compacted=True)
    store.tables["spans"].commit(spans, operation="bench")
    files = [str(store.lake / s.path) for s in store.tables["spans"].snapshot().segments]
    started = time.perf_counter()
    links = con.sql(
        """
        SELECT time_bucket(INTERVAL 1 MINUTE, c.timestamp) AS timestamp, p.service AS parent,
               c.service AS child, count(*) AS call_count,
               count(*) FILTER (WHERE c.status = 'error') AS error_count
        FROM read_parquet(?) c JOIN read_parquet(?) p
          ON c.trace_id = p.trace_id AND c.parent_id = p.span_id
        WHERE c.kind = 'SERVER' AND p.kind = 'CLIENT' AND p.service <> c.service
        GROUP BY ALL
        """,
        params=[files, files],
    ).to_arrow_table()
    derive_s = time.perf_counter() - started
    links_written = write_segments(
        store.lake, "dependencies", links.cast(DEPENDENCIES), store.writer, compacted=True
    )
    store.tables["dependencies"].commit(links_written, operation="bench")
    store.close()
    return sample, derive_s


def median_ms(fn: object, n: int) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def bench_lake() -> dict[str, float]:
    day_start_us = (int(time.time() * 1e6) // DAY_US - 1) * DAY_US  # yesterday, 00:00 UTC
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        started = time.perf_counter()
        trace_ids, derive_s = build_lake(data, day_start_us)
        build_s = time.perf_counter() - started
        files = [str(p) for p in (data / "lake" / "spans").rglob("*.parquet")]
        con = duckdb.connect()
        ids = iter(trace_ids * 10)
        direct = median_ms(
            lambda: con.execute("SELECT * FROM read_parquet(?) WHERE trace_id = ?",
                                [files, next(ids)]).fetchall(), 20)  # fmt: skip
        server = ServerProcess(data).start()
        try:
            with httpx.Client(timeout=60) as http:
                url = server.url
                assert http.get(f"{url}/api/v2/trace/{trace_ids[0]}").status_code == 200
                ids = iter(trace_ids * 10)

                def lookup() -> None:
                    r = http.get(f"{url}/api/v2/trace/{next(ids)}")
                    assert r.status_code == 200 and len(r.json()) == SPANS_PER_TRACE

                lookup_ms = median_ms(lookup, LOOKUPS)
                params = {"endTs": (day_start_us + DAY_US) // 1000, "lookback": DAY_US // 1000}

                def deps() -> None:
                    r = http.get(f"{url}/api/v2/dependencies", params=params)
                    assert r.status_code == 200 and r.json()

                deps_ms = median_ms(deps, 20)
        finally:
            server.stop()
    return {
        "lake_spans": float(LAKE_SPANS),
        "lake_build_s": build_s,
        "trace_lookup_median_ms": lookup_ms,
        "baseline_duckdb_direct_lookup_ms": direct,
        "ratio_lookup_to_direct": lookup_ms / direct,
        "dependencies_day_median_ms": deps_ms,
        "baseline_links_by_sql_join_ms": derive_s * 1000,
        "ratio_dependencies_to_sql_join": deps_ms / (derive_s * 1000),
    }


def run() -> dict[str, float]:
    return {**bench_ingest(), **bench_lake()}


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:40} {value:>14,.2f}")
