"""histogram_quantile over le buckets, against hand-computed interpolation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.query.promql.conftest import Lake, labels
from tracelake.query.promql.histogram import bucket_quantile


@pytest.fixture
def buckets(lake: Lake) -> Lake:
    for le, count in [("0.1", 10.0), ("0.5", 30.0), ("1", 40.0), ("+Inf", 50.0)]:
        lake.add("lat_bucket", {"job": "a", "le": le}, [(0, count)])
    return lake


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.5, 0.1 + 0.4 * 15 / 20),  # rank 25 in (0.1, 0.5]: 15 of its 20
        (0.05, 0.1 * 2.5 / 10),  # the first bucket starts at 0
        (0.9, 1.0),  # in the +Inf bucket: the largest finite bound
        (-1, -math.inf),
        (2, math.inf),
    ],
)
def test_histogram_quantile(buckets: Lake, q: float, expected: float) -> None:
    got = buckets.query(f"histogram_quantile({q}, lat_bucket)", 0)
    assert got == {labels(job="a"): pytest.approx(expected)}


def test_histogram_quantile_of_rates_by_le(lake: Lake) -> None:
    for le, per_step in [("1", 2.0), ("+Inf", 4.0)]:
        lake.add("h_bucket", {"job": "a", "le": le}, [(15 * i, per_step * i) for i in range(21)])
    got = lake.query("histogram_quantile(0.75, sum by (le) (rate(h_bucket[1m])))", 300)
    assert got == {(): pytest.approx(1.0)}  # rank 3 of 4 falls past le=1 (2): +Inf → 1
    got = lake.query("histogram_quantile(0.25, sum by (le) (rate(h_bucket[1m])))", 300)
    assert got == {(): pytest.approx(0.5)}


def test_non_monotonic_buckets_are_made_monotonic() -> None:
    bounds = [0.1, 0.5, 1.0, math.inf]
    fixed = bucket_quantile(0.5, _arr(bounds), _arr([10, 8, 20, 20]))
    assert fixed == pytest.approx(bucket_quantile(0.5, _arr(bounds), _arr([10, 10, 20, 20])))


def test_without_an_inf_bucket_the_answer_is_nan() -> None:
    assert math.isnan(bucket_quantile(0.5, _arr([0.1, 1.0]), _arr([1, 2])))


def _arr(values: list[float]) -> np.ndarray:
    return np.array(values, dtype=np.float64)


def test_bucket_counts_within_float_noise_of_each_other_count_as_equal() -> None:
    """Rates of buckets differ by rounding noise where no observation fell between them;
    Prometheus (1e-12 relative) treats them as one count, so the rank stays in the
    lower bucket instead of interpolating across the empty one."""
    bounds = _arr([0.5, 1.0, math.inf])
    noisy = _arr([0.3, 0.30000000000000004, 0.30000000000000004])
    assert bucket_quantile(1.0, bounds, noisy) == pytest.approx(0.5)
    assert bucket_quantile(1.0, bounds, _arr([0.3, 0.3, 0.3])) == pytest.approx(0.5)
