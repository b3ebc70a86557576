"""Aggregation operators with by/without, against hand-computed values."""

from __future__ import annotations

import statistics

import pytest

from tests.query.promql.conftest import Lake, labels
from tracelake.query.promql import EvaluationError


@pytest.fixture
def a(lake: Lake) -> Lake:
    lake.add("a", {"job": "x", "inst": "1"}, [(0, 1.0)])
    lake.add("a", {"job": "x", "inst": "2"}, [(0, 3.0)])
    lake.add("a", {"job": "y", "inst": "1"}, [(0, 10.0)])
    return lake


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sum by (job) (a)", {labels(job="x"): 4, labels(job="y"): 10}),
        ("sum without (inst) (a)", {labels(job="x"): 4, labels(job="y"): 10}),
        ("sum(a)", {(): 14}),
        ("avg by (job) (a)", {labels(job="x"): 2, labels(job="y"): 10}),
        ("min by (job) (a)", {labels(job="x"): 1, labels(job="y"): 10}),
        ("max by (job) (a)", {labels(job="x"): 3, labels(job="y"): 10}),
        ("count by (inst) (a)", {labels(inst="1"): 2, labels(inst="2"): 1}),
        ("group by (job) (a)", {labels(job="x"): 1, labels(job="y"): 1}),
        ("sum by (__name__) (a)", {labels(__name__="a"): 14}),
        ("quantile(0.5, a)", {(): 3}),
        ("stddev(a)", {(): pytest.approx(statistics.pstdev([1, 3, 10]))}),
        ("stdvar(a)", {(): pytest.approx(statistics.pvariance([1, 3, 10]))}),
    ],
)
def test_aggregations(a: Lake, query: str, expected: dict) -> None:
    assert a.query(query, 0) == expected


def test_topk_and_bottomk_keep_the_whole_series(a: Lake) -> None:
    assert a.query("topk(1, a)", 0) == {labels(__name__="a", job="y", inst="1"): 10}
    assert a.query("bottomk(2, a)", 0) == {
        labels(__name__="a", job="x", inst="1"): 1,
        labels(__name__="a", job="x", inst="2"): 3,
    }
    assert a.query("topk by (job) (1, a)", 0) == {
        labels(__name__="a", job="x", inst="2"): 3,
        labels(__name__="a", job="y", inst="1"): 10,
    }


def test_topk_chooses_per_step(lake: Lake) -> None:
    lake.add("g", {"s": "p"}, [(0, 1.0), (60, 5.0)])
    lake.add("g", {"s": "q"}, [(0, 2.0), (60, 4.0)])
    got = lake.query_range("topk(1, g)", 0, 60, 60)
    assert got == {
        labels(__name__="g", s="q"): [2.0, None],
        labels(__name__="g", s="p"): [None, 5.0],
    }


def test_count_values_counts_each_value_under_a_label(a: Lake) -> None:
    assert a.query('count_values("v", a)', 0) == {
        labels(v="1"): 1,
        labels(v="3"): 1,
        labels(v="10"): 1,
    }


def test_sum_over_steps_where_series_come_and_go(lake: Lake) -> None:
    lake.add("g", {"s": "p"}, [(0, 1.0)])
    lake.add("g", {"s": "q"}, [(400, 2.0)])
    assert lake.query_range("sum(g)", 0, 600, 200) == {(): [1.0, 1.0, 2.0, 2.0]}


@pytest.fixture
def tied(lake: Lake) -> Lake:
    """Twenty series of one value, written in an order unlike their labels' order."""
    for i in range(20):
        lake.add("t", {"i": f"{(i * 7 + 3) % 20:02d}"}, [(0, 5.0)])
    lake.add("t", {"i": "high"}, [(0, 9.0)])
    lake.add("t", {"i": "low"}, [(0, 1.0)])
    return lake


def test_topk_and_bottomk_break_ties_as_prometheuss_heap_does(tied: Lake) -> None:
    # Series arrive in label order (00 … 19, high, low). topk(2) keeps 00 and 01, equal
    # values never displace them, then high replaces the heap's top (00): high, 01.
    assert list(tied.query("topk(2, t)", 0)) == [
        labels(__name__="t", i="high"),
        labels(__name__="t", i="01"),
    ]
    # bottomk(3) keeps 00, 01, 02 until low replaces the top (00): best first.
    assert list(tied.query("bottomk(3, t)", 0)) == [
        labels(__name__="t", i="low"),
        labels(__name__="t", i="01"),
        labels(__name__="t", i="02"),
    ]
    # Without a tie at the k-th place the choice is by value alone.
    assert list(tied.query("topk(1, t)", 0)) == [labels(__name__="t", i="high")]
    assert list(tied.query("bottomk(1, t)", 0)) == [labels(__name__="t", i="low")]


def test_quantile_ranks_nan_below_every_number(lake: Lake) -> None:
    for i, value in enumerate([1.0, float("nan"), 3.0, 5.0]):
        lake.add("q", {"i": str(i)}, [(0, value)])
    assert lake.query("quantile(0.5, q)", 0) == {(): pytest.approx(2.0)}


def test_limitk_keeps_the_first_k_series_of_each_group_whole(lake: Lake) -> None:
    for inst, job in [("1", "a"), ("2", "a"), ("3", "b")]:
        lake.add("m", {"inst": inst, "job": job}, [(0, float(inst))])
    got = lake.query("limitk by (job) (1, m)", 10)
    assert got == {
        labels(__name__="m", inst="1", job="a"): 1.0,
        labels(__name__="m", inst="3", job="b"): 3.0,
    }


def test_topk_with_a_nan_k_is_an_error_and_k_below_one_is_nothing(lake: Lake) -> None:
    """As Prometheus 3: k below one everywhere answers nothing; a NaN k is an error."""
    lake.add("m", {"inst": "1"}, [(0, 1.0)])
    assert lake.query("topk(0, m)", 10) == {}
    with pytest.raises(EvaluationError, match="Parameter value is NaN"):
        lake.query("topk(scalar(nothing), m)", 10)
