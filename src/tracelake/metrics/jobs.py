"""Metrics decoding as picklable calls, so it runs in the ingest worker processes.

Decoding remote_write, OTLP or exposition text into samples is GIL-bound Python work,
like parsing log lines; the server hands it to the same worker pool
(``LogIngest.offload``) and gets back Arrow IPC bytes ready for the WAL, plus the
rejected series or data points.
"""

from __future__ import annotations

from tracelake.ingest.decoders.otlp_metrics import decode_metrics
from tracelake.ingest.decoders.prom_text import parse_exposition
from tracelake.ingest.decoders.remote_write import decode_write_request
from tracelake.ingest.decoders.sample_rows import SampleRows, SeriesLimits
from tracelake.metrics.batches import samples_batch
from tracelake.metrics.report import report_rows
from tracelake.model import RecordError
from tracelake.pipeline.batches import to_ipc
from tracelake.settings import Settings

SampleJobResult = tuple[bytes | None, int, list[RecordError]]


def _ipc(rows: SampleRows) -> bytes | None:
    return to_ipc(samples_batch(rows)) if len(rows) else None


def remote_write_job(
    body: bytes, content_encoding: str | None, max_body_bytes: int, limits: SeriesLimits
) -> SampleJobResult:
    """A remote_write body → (IPC of the good samples or None, their count, rejected series)."""
    rows, rejected = decode_write_request(
        body, content_encoding=content_encoding, max_body_bytes=max_body_bytes, limits=limits
    )
    return _ipc(rows), len(rows), rejected


def otlp_metrics_job(
    body: bytes,
    content_type: str | None,
    content_encoding: str | None,
    max_body_bytes: int,
    limits: SeriesLimits,
) -> SampleJobResult:
    """An OTLP metrics body → (IPC of the samples or None, their count, rejected points)."""
    rows, rejected = decode_metrics(
        body,
        content_type,
        content_encoding=content_encoding,
        max_body_bytes=max_body_bytes,
        limits=limits,
    )
    return _ipc(rows), len(rows), rejected


def scrape_job(
    body: bytes,
    content_type: str | None,
    target_labels: dict[str, str],
    time_us: int,
    duration_s: float,
    limits: SeriesLimits,
) -> tuple[bytes, int]:
    """A scraped body → (IPC of its samples plus the ``up`` report, samples scraped).

    Raises ``DecodeError`` for a malformed exposition; the scraper then stores the
    report of a failed scrape alone.
    """
    rows = parse_exposition(
        body, content_type, target_labels=target_labels, default_time_us=time_us, limits=limits
    )
    scraped = len(rows)
    rows.extend(
        report_rows(
            target_labels, time_us, up=True, duration_s=duration_s, samples=scraped, limits=limits
        )
    )
    return to_ipc(samples_batch(rows)), scraped


def series_limits(settings: Settings) -> SeriesLimits:
    """The label limits every metrics input applies, from the settings table."""
    return SeriesLimits(settings.max_series_labels, settings.max_label_length)
