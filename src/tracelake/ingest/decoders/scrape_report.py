"""The series a scrape adds about itself, as Prometheus does: ``up`` and friends.

``up`` is 1 when the target answered with a readable exposition and 0 otherwise (down,
slow past the timeout, an HTTP error, malformed text); ``scrape_duration_seconds`` is
how long the scrape took; ``scrape_samples_scraped`` how many samples it stored. They
carry the target's labels and the scrape's start time, so ``up == 0`` finds every dead
target with one query.
"""

from __future__ import annotations

from tracelake.ingest.decoders.sample_rows import SampleRows, SeriesLimits, series_of


def report_rows(
    target_labels: dict[str, str],
    time_us: int,
    *,
    up: bool,
    duration_s: float,
    samples: int,
    limits: SeriesLimits,
) -> SampleRows:
    """The three report samples of one scrape of a target."""
    rows = SampleRows()
    for name, value in (
        ("up", 1.0 if up else 0.0),
        ("scrape_duration_seconds", duration_s),
        ("scrape_samples_scraped", float(samples)),
    ):
        rows.add(series_of({**target_labels, "__name__": name}, limits), time_us, value)
    return rows
