"""The ``metrics`` table's write path: remote_write, OTLP and scraped bodies → samples.

The decoders (``ingest/decoders/{remote_write,otlp_metrics,prom_text}.py``) stay sans-IO
and free of pyarrow: they give ``SampleRows``, which ``samples_batch`` turns into the
batch. A scrape adds the series Prometheus adds about it (``scrape_report.py``).
"""

from __future__ import annotations

import pyarrow as pa

from tracelake.ingest.decoders.otlp_metrics import decode_metrics
from tracelake.ingest.decoders.prom_text import parse_exposition
from tracelake.ingest.decoders.remote_write import decode_write_request
from tracelake.ingest.decoders.sample_rows import SampleRows
from tracelake.ingest.decoders.scrape_report import report_rows
from tracelake.ingest.jobs import Decoded, Headers, JobEnv
from tracelake.model import IngestResult, RecordError
from tracelake.schema import METRICS

TABLE = "metrics"


def samples_batch(rows: SampleRows) -> pa.RecordBatch:
    """One batch of ``rows``; ``labels`` arrives as JSON bytes and is cast, not decoded."""
    series = rows.series
    return pa.record_batch(
        [
            pa.array(rows.timestamp, pa.int64()).cast(METRICS.field("timestamp").type),
            pa.array([s.name for s in series], pa.string()),
            pa.array([s.labels for s in series], pa.binary()).cast(pa.string()),
            pa.array(rows.value, pa.float64()),
            pa.array([s.service for s in series], pa.string()),
        ],
        schema=METRICS,
    )


def decoded(rows: SampleRows, rejected: list[RecordError] | None = None) -> Decoded:
    """The good samples as one batch, the refused series or points as errors."""
    rejected = rejected or []
    result = IngestResult(accepted=len(rows), rejected=len(rejected), errors=rejected)
    return Decoded.of(TABLE, samples_batch(rows), result)


def remote_write_job(body: bytes, headers: Headers, env: JobEnv) -> Decoded:
    """``POST /prometheus/api/v1/write``: a remote_write 1.0 request."""
    rows, rejected = decode_write_request(
        body,
        content_encoding=headers.get("content-encoding"),
        max_body_bytes=env.limits.max_body_bytes,
        limits=env.limits.series,
    )
    return decoded(rows, rejected)


def otlp_job(body: bytes, headers: Headers, env: JobEnv) -> Decoded:
    """``POST /v1/metrics``: OTLP metrics, protobuf or JSON."""
    rows, rejected = decode_metrics(
        body,
        headers.get("content-type"),
        content_encoding=headers.get("content-encoding"),
        max_body_bytes=env.limits.max_body_bytes,
        limits=env.limits.series,
    )
    return decoded(rows, rejected)


def scrape_job(
    body: bytes, headers: Headers, env: JobEnv, target_labels: dict[str, str], duration_s: float
) -> Decoded:
    """A scraped exposition plus the scrape's own ``up`` report; ``answer`` is the count
    of samples the target gave.

    Raises ``DecodeError`` for a malformed exposition; the scraper then stores the
    report of a failed scrape alone (``failed_scrape``).
    """
    rows = parse_exposition(
        body,
        headers.get("content-type"),
        target_labels=target_labels,
        default_time_us=env.now_us,
        limits=env.limits.series,
    )
    scraped = len(rows)
    rows.extend(
        report_rows(
            target_labels,
            env.now_us,
            up=True,
            duration_s=duration_s,
            samples=scraped,
            limits=env.limits.series,
        )
    )
    result = decoded(rows)
    result.answer = scraped
    return result


def failed_scrape(target_labels: dict[str, str], env: JobEnv, duration_s: float) -> Decoded:
    """The report of a scrape that gave nothing: ``up`` 0."""
    return decoded(
        report_rows(
            target_labels,
            env.now_us,
            up=False,
            duration_s=duration_s,
            samples=0,
            limits=env.limits.series,
        )
    )
