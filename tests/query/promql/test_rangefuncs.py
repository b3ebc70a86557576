"""Range-vector functions against values computed by hand from Prometheus's rules.

Samples are 15 s apart; a 1 m window ending at t=600 holds the samples at 555, 570,
585 and 600 (the one at 540 is outside: windows are left-open).
"""

from __future__ import annotations

import math

import pytest

from tests.query.promql.conftest import Lake, labels
from tracelake.query.promql import EvaluationError


def window_samples(values: list[float]) -> list[tuple[float, float]]:
    """``values`` at the four sample times of the window ending at 600."""
    return list(zip([555, 570, 585, 600], values, strict=True))


def window(lake: Lake, values: list[float], name: str = "x") -> None:
    lake.add(name, {"job": "a"}, window_samples(values))


def only_value(result: object) -> float:
    assert isinstance(result, dict) and len(result) == 1, result
    return next(iter(result.values()))


def test_rate_extrapolates_to_the_window_edge_within_1_1_sample_intervals(lake: Lake) -> None:
    lake.add("x", {"job": "a"}, [(15 * i, 10.0 * i) for i in range(41)])
    # 370 → 400 over 45 s of samples, 15 s short of the window start: x 60/45.
    assert lake.query("increase(x[1m])", 600) == {labels(job="a"): pytest.approx(40.0)}
    assert lake.query("rate(x[1m])", 600) == {labels(job="a"): pytest.approx(40.0 / 60)}


def test_rate_of_a_series_starting_inside_the_window_stops_at_the_counters_zero(
    lake: Lake,
) -> None:
    lake.add("x", {"job": "a"}, [(570, 2.0), (585, 12.0), (600, 22.0)])
    # 30 s to the start is over 1.1 intervals: half an interval (7.5 s), but the
    # counter reaches zero 3 s before the first sample (30 x 2/20): 20 x 33/30.
    assert only_value(lake.query("increase(x[1m])", 600)) == pytest.approx(22.0)


def test_rate_without_a_zero_point_extrapolates_half_an_interval(lake: Lake) -> None:
    lake.add("x", {"job": "a"}, [(570, 100.0), (585, 110.0), (600, 120.0)])
    assert only_value(lake.query("increase(x[1m])", 600)) == pytest.approx(20 * 37.5 / 30)


def test_increase_adds_the_value_before_a_counter_reset(lake: Lake) -> None:
    window(lake, [370, 380, 5, 15])
    # 15 - 370 + 380 = 25 over 45 s, extrapolated x 60/45.
    assert only_value(lake.query("increase(x[1m])", 600)) == pytest.approx(25 * 60 / 45)


def test_rate_needs_two_samples(lake: Lake) -> None:
    lake.add("x", {"job": "a"}, [(600, 5.0)])
    assert lake.query("rate(x[1m])", 600) == {}


def test_delta_is_not_corrected_for_resets(lake: Lake) -> None:
    window(lake, [1, 5, 3, 7])
    assert only_value(lake.query("delta(x[1m])", 600)) == pytest.approx(6 * 60 / 45)


def test_irate_and_idelta_use_the_last_two_samples(lake: Lake) -> None:
    window(lake, [370, 380, 390, 400])
    assert only_value(lake.query("irate(x[1m])", 600)) == pytest.approx(10 / 15)
    assert only_value(lake.query("idelta(x[1m])", 600)) == pytest.approx(10)


def test_irate_after_a_reset_counts_from_zero(lake: Lake) -> None:
    window(lake, [370, 380, 390, 5])
    assert only_value(lake.query("irate(x[1m])", 600)) == pytest.approx(5 / 15)


def test_changes_and_resets_count_between_samples_of_the_window(lake: Lake) -> None:
    window(lake, [5, 5, 3, 4])
    assert only_value(lake.query("changes(x[1m])", 600)) == 2
    assert only_value(lake.query("resets(x[1m])", 600)) == 1


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        ("sum_over_time", 16),
        ("count_over_time", 4),
        ("avg_over_time", 4),
        ("min_over_time", 1),
        ("max_over_time", 7),
        ("stdvar_over_time", 5),
        ("stddev_over_time", math.sqrt(5)),
        ("present_over_time", 1),
    ],
)
def test_over_time_functions(lake: Lake, fn: str, expected: float) -> None:
    window(lake, [1, 5, 3, 7])
    assert lake.query(f"{fn}(x[1m])", 600) == {labels(job="a"): pytest.approx(expected)}


def test_quantile_over_time_interpolates_between_ranks(lake: Lake) -> None:
    window(lake, [1, 5, 3, 7])
    assert only_value(lake.query("quantile_over_time(0.5, x[1m])", 600)) == pytest.approx(4)
    assert only_value(lake.query("quantile_over_time(0.25, x[1m])", 600)) == pytest.approx(2.5)


def test_last_over_time_keeps_the_metric_name(lake: Lake) -> None:
    window(lake, [1, 5, 3, 7])
    assert lake.query("last_over_time(x[1m])", 600) == {labels(__name__="x", job="a"): 7}


def test_max_over_time_skips_nan_unless_all_are_nan(lake: Lake) -> None:
    window(lake, [1, math.nan, 3, math.nan])
    assert only_value(lake.query("max_over_time(x[1m])", 600)) == 3


def test_sum_over_time_with_an_infinity_falls_back_to_exact_sums(lake: Lake) -> None:
    window(lake, [1, math.inf, 3, 4])
    assert only_value(lake.query("sum_over_time(x[1m])", 600)) == math.inf
    assert only_value(lake.query("sum_over_time(x[1m])", 630)) == 7  # the inf left the window


def test_series_side_by_side_do_not_leak_into_each_other(lake: Lake) -> None:
    """One series ending high next to one starting low is not a counter reset."""
    lake.add("x", {"job": "a"}, [(15 * i, 1000.0 + 10 * i) for i in range(41)])
    lake.add("x", {"job": "b"}, [(15 * i, 1.0 * i) for i in range(41)])
    lake.add("x", {"job": "c"}, [(300, 5.0)])  # too few samples in most windows
    got = lake.query_range("increase(x[1m])", 60, 600, 60)
    assert got[labels(job="a")] == [pytest.approx(40.0)] * 10
    assert got[labels(job="b")] == [pytest.approx(4.0)] * 10
    assert labels(job="c") not in got
    assert lake.query_range("count_over_time(x[1m])", 300, 330, 30)[labels(job="c")] == [1, 1]


def test_window_sums_keep_their_precision_after_huge_values(lake: Lake) -> None:
    """A sum over a window is of the window's samples only, not a difference of running
    totals that a huge earlier value (or counter reset) of the range query has rounded
    away."""
    lake.add("g", {"job": "a"}, [(0, 1e17), *window_samples([0.1, 0.2, 0.3, 0.4])])
    got = lake.query_range("sum_over_time(g[1m])", 0, 600, 600)
    assert got == {labels(job="a"): [1e17, pytest.approx(1.0)]}
    got = lake.query_range("avg_over_time(g[1m])", 0, 600, 600)
    assert got == {labels(job="a"): [1e17, pytest.approx(0.25)]}
    # A counter that reset from 1e17 to 0 before the window.
    lake.add("c", {"job": "a"}, [(0, 1e17), (15, 0.0), *window_samples([0.1, 0.2, 0.3, 0.4])])
    got = lake.query_range("increase(c[1m])", 60, 600, 540)
    assert got[labels(job="a")][1] == pytest.approx(0.3 * 60 / 45)


def test_quantile_over_time_ranks_nan_below_every_number(lake: Lake) -> None:
    # Prometheus sorts NaN first: [NaN, 1, 3, 5], rank 1.5 lies between 1 and 3.
    window(lake, [1, math.nan, 3, 5])
    assert only_value(lake.query("quantile_over_time(0.5, x[1m])", 600)) == pytest.approx(2)
    assert math.isnan(only_value(lake.query("quantile_over_time(0, x[1m])", 600)))


def test_a_range_function_that_merges_two_series_at_one_step_is_an_error(lake: Lake) -> None:
    window(lake, [1, 2, 3, 4], name="x")
    window(lake, [1, 2, 3, 4], name="y")
    with pytest.raises(EvaluationError, match="same labelset"):
        lake.query('rate({__name__=~"x|y"}[1m])', 600)


def test_deriv_and_predict_linear_follow_the_least_squares_line(lake: Lake) -> None:
    """Slope per second of the samples in the window; predict_linear extends the line
    from the evaluation time, also when an offset moved the window."""
    window(lake, [10, 12, 14, 16])  # 2 per 15 s
    assert only_value(lake.query("deriv(x[1m])", 600)) == pytest.approx(2 / 15)
    assert only_value(lake.query("predict_linear(x[1m], 30)", 600)) == pytest.approx(20.0)
    assert only_value(lake.query("predict_linear(x[1m] offset 15s, 0)", 615)) == pytest.approx(18.0)


def test_deriv_of_a_constant_is_zero_and_needs_two_samples(lake: Lake) -> None:
    window(lake, [5, 5, 5, 5])
    assert only_value(lake.query("deriv(x[1m])", 600)) == 0.0
    assert lake.query("deriv(x[10s])", 600) == {}


def test_holt_winters_and_double_exponential_smoothing_are_one_function(lake: Lake) -> None:
    window(lake, [1, 3, 4, 8])
    # Holt's method by hand, sf 0.5, tf 0.5: s1=1, b=2; then s=3 (b 2), 4.25 (b 2), 7.375.
    b, s0, s1 = 2.0, 0.0, 1.0
    for k, x in enumerate([3, 4, 8], start=1):
        if k > 1:
            b = 0.5 * (s1 - s0) + 0.5 * b
        s0, s1 = s1, 0.5 * x + 0.5 * (s1 + b)
    for name in ("holt_winters", "double_exponential_smoothing"):
        assert only_value(lake.query(f"{name}(x[1m], 0.5, 0.5)", 600)) == pytest.approx(s1)
    with pytest.raises(EvaluationError, match="invalid smoothing factor"):
        lake.query("holt_winters(x[1m], 1, 0.5)", 600)


def test_mad_first_and_ts_of_over_time(lake: Lake) -> None:
    window(lake, [1, 9, 2, 9])
    assert only_value(lake.query("mad_over_time(x[1m])", 600)) == pytest.approx(3.5)
    assert lake.query("first_over_time(x[1m])", 600) == {labels(__name__="x", job="a"): 1.0}
    start = 1_767_225_600
    assert only_value(lake.query("ts_of_first_over_time(x[1m])", 600)) == start + 555
    assert only_value(lake.query("ts_of_last_over_time(x[1m])", 600)) == start + 600
    assert only_value(lake.query("ts_of_max_over_time(x[1m])", 600)) == start + 600  # last tie
    assert only_value(lake.query("ts_of_min_over_time(x[1m])", 600)) == start + 555


def test_stddev_and_stdvar_over_time(lake: Lake) -> None:
    window(lake, [2, 4, 4, 6])
    assert only_value(lake.query("stdvar_over_time(x[1m])", 600)) == pytest.approx(2.0)
    assert only_value(lake.query("stddev_over_time(x[1m])", 600)) == pytest.approx(2**0.5)
