"""Prometheus exposition text (0.0.4) and OpenMetrics 1.0, as a scrape returns it, into samples.

Parsing is prometheus_client's own parsers (the reference Python implementation of
both formats): at about 60,000 samples/s per core they keep up with 200 targets of
1,000 series every 15 s (13,000 samples/s) on one of the ingest workers.

What this adds is what a scraper does with the parsed samples, as Prometheus does it:
the target's labels (``job``, ``instance``, ``service`` ...) are attached, and a
scraped label that clashes with one of them is kept as ``exported_<name>`` (Prometheus's
``honor_labels: false``); samples without a timestamp get the scrape's time. A
malformed exposition or a series over the label limits fails the whole scrape, as in
Prometheus: a half-read target would look healthy while missing series.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families as text_families

from tracelake.errors import DecodeError
from tracelake.ingest.decoders.sample_rows import (
    DEFAULT_LIMITS,
    InvalidSeries,
    SampleRows,
    SeriesLimits,
    series_of,
)

OPENMETRICS = "application/openmetrics-text"
#: What a scraper asks for: OpenMetrics first, the classic text format as the fallback.
ACCEPT = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.1"


def is_openmetrics(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == OPENMETRICS


def parse_exposition(
    body: bytes,
    content_type: str | None,
    *,
    target_labels: dict[str, str],
    default_time_us: int,
    limits: SeriesLimits = DEFAULT_LIMITS,
) -> SampleRows:
    """The samples of one scrape, labelled for its target.

    Raises :class:`DecodeError` naming what is wrong when the body is not UTF-8, not in
    the format its Content-Type says, or has a series over the label limits.
    """
    openmetrics = is_openmetrics(content_type)
    kind = "OpenMetrics" if openmetrics else "text format 0.0.4"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DecodeError(f"exposition is not UTF-8 (byte {e.start})") from e
    families: Iterable[Any] = (openmetrics_families if openmetrics else text_families)(text)
    rows = SampleRows()
    try:
        for family in families:
            for sample in family.samples:
                labels = dict(sample.labels)
                for key, value in target_labels.items():
                    if key in labels:
                        labels[f"exported_{key}"] = labels[key]
                    labels[key] = value
                labels["__name__"] = sample.name
                stamp = sample.timestamp
                time_us = default_time_us if stamp is None else round(float(stamp) * 1e6)
                rows.add(series_of(labels, limits), time_us, float(sample.value))
    except InvalidSeries as e:
        raise DecodeError(f"scrape refused: {e}") from e
    except (ValueError, IndexError, KeyError, TypeError) as e:
        detail = str(e).strip() or type(e).__name__
        raise DecodeError(f"malformed exposition ({kind}): {detail:.200}") from e
    return rows
