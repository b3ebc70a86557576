"""Recording rules: an expression's series at an evaluation time, as samples of ``metrics``.

As in Prometheus, each series the expression gives is written under the rule's name
(``__name__`` replaced) with the rule's labels set over its own (an empty value removes
the label); a series the rule wrote at the previous evaluation and no longer gives gets
a staleness marker, so it ends at once rather than five minutes later. The samples go
the way remote_write's go (``ingest/tables/samples.py`` → the sink), so PromQL, alert
rules and the lake read them like any series.

Exactly once: a group evaluates at multiples of its interval since the epoch, so every
restart lands on the same grid; its rules' samples are appended one rule after another,
each acknowledged before the next rule runs (a later rule reads an earlier one's output
of the same evaluation, as in Prometheus), then the evaluation time is checkpointed
(``checkpoints.py``). At start, ``last_written`` reads from ``metrics`` the newest
evaluation time the group wrote and how far through its rules it got, so an evaluation
a crash cut short is finished, not written twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import orjson

from tracelake.alerting.rules import RecordingRule
from tracelake.errors import QueryError
from tracelake.ingest.decoders.sample_rows import (
    STALE_NAN,
    InvalidSeries,
    SampleRows,
    SeriesLimits,
    series_of,
)
from tracelake.ingest.jobs import Decoded
from tracelake.ingest.tables.samples import decoded
from tracelake.store import Store

LabelKey = tuple[tuple[str, str], ...]
#: How far back the start looks for a group's last evaluation when no checkpoint has it.
FIRST_LOOKBACK_S = 3600.0


def recorded_series(
    rule: RecordingRule, samples: Iterable[tuple[Mapping[str, str], float]]
) -> dict[LabelKey, float]:
    """The series ``rule`` writes for an evaluation's result, keyed by their label sets.

    Raises QueryError with Prometheus's message when two series end up with one label set.
    """
    out: dict[LabelKey, float] = {}
    for labels, value in samples:
        named = {**labels, "__name__": rule.name, **rule.labels}
        key = tuple(sorted((k, v) for k, v in named.items() if v != ""))
        if key in out:
            raise QueryError(
                "vector contains metrics with the same labelset after applying rule labels: "
                "keep a label that tells them apart, or aggregate them in expr"
            )
        out[key] = value
    return out


def evaluation_batch(
    series: Mapping[LabelKey, float],
    gone: Iterable[LabelKey],
    at_us: int,
    limits: SeriesLimits,
) -> Decoded:
    """One evaluation's samples at ``at_us``, with staleness markers for ``gone`` series."""
    rows = SampleRows()
    try:
        for key, value in series.items():
            rows.add(series_of(dict(key), limits), at_us, value)
        for key in gone:
            rows.add(series_of(dict(key), limits), at_us, STALE_NAN)
    except InvalidSeries as e:
        raise QueryError(f"a recorded series is refused: {e}") from e
    return decoded(rows)


def next_evaluation_ms(now_s: float, interval_s: float, after_ms: int | None) -> int:
    """The first multiple of the interval (ms since the epoch) after now and ``after_ms``."""
    step = max(1, round(interval_s * 1000))
    at = (int(now_s * 1000) // step + 1) * step
    if after_ms is not None and at <= after_ms:
        at = (after_ms // step + 1) * step
    return at


def last_written(
    store: Store, rules: Sequence[RecordingRule], since_us: int
) -> tuple[int, int] | None:
    """The newest evaluation time after ``since_us`` at which ``rules`` wrote a sample,
    and the position in ``rules`` of the last one that did; None when none did.

    Blocking (DuckDB): run it in a thread. A row belongs to a rule when it has the
    rule's name and its labels carry the rule's labels.
    """
    names = sorted({r.name for r in rules})
    since = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=since_us)
    results = store.query(
        'SELECT epoch_us("timestamp"), name, labels FROM metrics WHERE list_contains(?, name) '
        'AND "timestamp" = (SELECT max("timestamp") FROM metrics '
        'WHERE list_contains(?, name) AND "timestamp" > ?)',
        [names, names, since],
        tables=["metrics"],
        start_us=since_us,
    )
    if not results.rows:
        return None
    at_us = int(results.rows[0][0])
    written = [(str(name), orjson.loads(labels)) for _, name, labels in results.rows]
    last = max(
        (
            i
            for i, rule in enumerate(rules)
            if any(
                name == rule.name and all(labels.get(k) == v for k, v in rule.labels.items() if v)
                for name, labels in written
            )
        ),
        default=None,
    )
    return None if last is None else (at_us, last)
