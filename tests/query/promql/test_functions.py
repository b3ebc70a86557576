"""Instant-vector functions added for Prometheus's full list: dates, trigonometry,
timestamp(), sort_by_label, label_join's checks, histogram_quantiles, the native
histogram functions and the query-context functions, each against values computed here
with Python's own datetime and math."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import pytest

from tests.query.promql.conftest import T0, Lake, labels
from tracelake.errors import QueryError

#: A moment from now, as the value of a gauge that date functions read as unix seconds.
MOMENT = float(int(time.time()) - 3 * 86400 + 7 * 3600 + 11 * 60 + 5)


def _expected(moment: float) -> dict[str, float]:
    d = datetime.fromtimestamp(moment, UTC)
    nxt = datetime(d.year + (d.month == 12), d.month % 12 + 1, 1, tzinfo=UTC)
    return {
        "year": d.year,
        "month": d.month,
        "day_of_month": d.day,
        "day_of_year": d.timetuple().tm_yday,
        "day_of_week": (d.weekday() + 1) % 7,
        "days_in_month": (nxt - datetime(d.year, d.month, 1, tzinfo=UTC)).days,
        "hour": d.hour,
        "minute": d.minute,
    }


@pytest.mark.parametrize("name", sorted(_expected(0)))
def test_date_functions_of_a_value_and_of_the_evaluation_time(lake: Lake, name: str) -> None:
    """With an argument each sample's value is the time (metric name dropped, offset
    honoured); without one it is the evaluation time, as vector(time())."""
    lake.add("t", {"job": "a"}, [(0, MOMENT - 3600), (60, MOMENT)])
    assert lake.query(f"{name}(t)", 90) == {labels(job="a"): _expected(MOMENT)[name]}
    assert lake.query(f"{name}(t offset 1m)", 90) == {
        labels(job="a"): _expected(MOMENT - 3600)[name]
    }
    assert lake.query(f"{name}()", 90) == {(): _expected(T0 + 90)[name]}


def test_trigonometry_and_angles(lake: Lake) -> None:
    lake.add("x", {"job": "a"}, [(0, 0.5)])
    for fn, want in [
        ("sin", math.sin(0.5)),
        ("cos", math.cos(0.5)),
        ("tan", math.tan(0.5)),
        ("asin", math.asin(0.5)),
        ("acos", math.acos(0.5)),
        ("atan", math.atan(0.5)),
        ("sinh", math.sinh(0.5)),
        ("cosh", math.cosh(0.5)),
        ("tanh", math.tanh(0.5)),
        ("asinh", math.asinh(0.5)),
        ("atanh", math.atanh(0.5)),
        ("deg", math.degrees(0.5)),
        ("rad", math.radians(0.5)),
    ]:
        assert lake.query(f"{fn}(x)", 10) == {labels(job="a"): pytest.approx(want)}, fn
    assert math.isnan(lake.query("acosh(x)", 10)[labels(job="a")])  # type: ignore[index]
    assert lake.query("pi()", 10) == pytest.approx(math.pi)


def test_timestamp_gives_sample_times_of_a_selector_and_the_evaluation_time_otherwise(
    lake: Lake,
) -> None:
    lake.add("x", {"job": "a"}, [(0, 1.0), (30, 2.0), (61, 3.0)])
    assert lake.query("timestamp(x)", 90) == {labels(job="a"): T0 + 61}
    assert lake.query("timestamp((x))", 90) == {labels(job="a"): T0 + 61}
    assert lake.query("timestamp(x offset 1m)", 90) == {labels(job="a"): T0 + 30}
    assert lake.query(f"timestamp(x @ {T0 + 40})", 90) == {labels(job="a"): T0 + 30}
    assert lake.query("timestamp(x * 1)", 90) == {labels(job="a"): T0 + 90}
    assert lake.query("timestamp(-x)", 90) == {labels(job="a"): T0 + 90}
    assert lake.query_range("timestamp(x)", 30, 90, 30) == {
        labels(job="a"): [T0 + 30, T0 + 30, T0 + 61]
    }


def test_sort_by_label_sorts_naturally_then_by_the_whole_label_set(lake: Lake) -> None:
    for inst, job in [("i10", "a"), ("i9", "a"), ("i9", "b"), ("i100", "a")]:
        lake.add("x", {"instance": inst, "job": job}, [(0, 1.0)])

    def order(q: str) -> list[tuple[str, str]]:
        value = lake.engine.instant(q, T0 + 10).value
        return [(dict(s.labels)["instance"], dict(s.labels)["job"]) for s in value.series]  # type: ignore[union-attr]

    asc = [("i9", "a"), ("i9", "b"), ("i10", "a"), ("i100", "a")]
    assert order('sort_by_label(x, "instance")') == asc
    assert order('sort_by_label_desc(x, "instance")') == asc[::-1]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('label_join(x, "1x", ",", "job")', "invalid destination label name in label_join(): '1x'"),
        ('label_join(x, "a-b", ",", "job")', "invalid destination label name in label_join()"),
        ('label_join(x, "ok", ",", "j-b")', "invalid source label name in label_join(): 'j-b'"),
        (
            'label_replace(x, "1x", "", "job", "")',
            "invalid destination label name in label_replace()",
        ),
    ],
)
def test_label_join_refuses_invalid_label_names_as_label_replace(
    lake: Lake, query: str, message: str
) -> None:
    lake.add("x", {"job": "a"}, [(0, 1.0)])
    with pytest.raises(QueryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        lake.query(query, 10)


def test_histogram_quantiles_labels_each_quantile(lake: Lake) -> None:
    for le, count in [("1", 5.0), ("2", 10.0), ("+Inf", 10.0)]:
        lake.add("h_bucket", {"job": "a", "le": le}, [(0, count)])
    assert lake.query('histogram_quantiles(h_bucket, "q", 0.5, 1)', 10) == {
        labels(job="a", q="0.5"): pytest.approx(1.0),
        labels(job="a", q="1.0"): pytest.approx(2.0),
    }


def test_native_histogram_functions_skip_float_samples_as_prometheus_does(lake: Lake) -> None:
    lake.add("h_bucket", {"job": "a", "le": "+Inf"}, [(0, 1.0)])
    for q in [
        "histogram_count(h_bucket)",
        "histogram_sum(h_bucket)",
        "histogram_avg(h_bucket)",
        "histogram_fraction(0, 1, h_bucket)",
        "histogram_stddev(h_bucket)",
    ]:
        assert lake.query(q, 10) == {}, q


def test_query_context_functions(lake: Lake) -> None:
    """start(), end(), range(), step() (Prometheus 3): the query's own times, in seconds."""
    got = lake.query_range("start() + 0 * time()", 0, 120, 60)
    assert got == {(): [T0, T0, T0]}
    assert lake.query_range("end() - start() == bool range()", 0, 120, 60) == {(): [1.0] * 3}
    assert lake.query_range("step()", 0, 120, 60) == {(): [60.0] * 3}
    assert lake.query("step()", 0) == 0.0
