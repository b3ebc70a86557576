"""Binary operators: arithmetic, comparisons with and without bool, vector matching."""

from __future__ import annotations

import pytest

from tests.query.promql.conftest import T0, Lake, labels
from tracelake.query.promql import EvaluationError
from tracelake.query.promql.values import Vector


@pytest.fixture
def ab(lake: Lake) -> Lake:
    lake.add("a", {"job": "x", "inst": "1"}, [(0, 1.0)])
    lake.add("a", {"job": "x", "inst": "2"}, [(0, 3.0)])
    lake.add("a", {"job": "y", "inst": "1"}, [(0, 10.0)])
    lake.add("b", {"job": "x"}, [(0, 100.0)])
    lake.add("b", {"job": "y"}, [(0, 200.0)])
    return lake


X1, X2, Y1 = labels(job="x", inst="1"), labels(job="x", inst="2"), labels(job="y", inst="1")


def named(lbls: tuple[tuple[str, str], ...], name: str = "a") -> tuple[tuple[str, str], ...]:
    return tuple(sorted((*lbls, ("__name__", name))))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("1 + 2 * 3", 7.0),
        ("2 ^ 3 ^ 2", 512.0),  # right-associative
        ("7 % 3", 1.0),
        ("-7 % 3", -1.0),  # the sign of the dividend, as Go's math.Mod
        ("1 / 0", float("inf")),
        ("2 > bool 1", 1.0),
        ("time()", 1_767_225_600.0 + 30),
    ],
)
def test_scalar_arithmetic(lake: Lake, query: str, expected: float) -> None:
    assert lake.query(query, 30) == expected


def test_vector_scalar_arithmetic_drops_the_name(ab: Lake) -> None:
    assert ab.query('a{job="x"} * 2', 0) == {X1: 2.0, X2: 6.0}
    assert ab.query('10 - a{job="x"}', 0) == {X1: 9.0, X2: 7.0}
    assert ab.query('-a{job="y"}', 0) == {Y1: -10.0}


def test_comparison_filters_and_keeps_the_sample(ab: Lake) -> None:
    assert ab.query("a > 2", 0) == {named(X2): 3.0, named(Y1): 10.0}
    assert ab.query("2 < a", 0) == {named(X2): 3.0, named(Y1): 10.0}  # the vector's value


def test_comparison_with_bool_gives_zero_or_one(ab: Lake) -> None:
    assert ab.query("a > bool 2", 0) == {X1: 0.0, X2: 1.0, Y1: 1.0}


def test_one_to_one_matching_on_labels(ab: Lake) -> None:
    assert ab.query("sum by (job) (a) / on (job) b", 0) == {
        labels(job="x"): 0.04,
        labels(job="y"): 0.05,
    }
    assert ab.query("sum by (job) (a) + b", 0) == {labels(job="x"): 104, labels(job="y"): 210}


def test_group_left_matches_many_to_one_and_copies_labels(ab: Lake, lake: Lake) -> None:
    assert ab.query("a / on (job) group_left b", 0) == {X1: 0.01, X2: 0.03, Y1: 0.05}
    lake.add("info", {"job": "x", "team": "red"}, [(0, 1.0)])
    got = ab.query('a{job="x"} * on (job) group_left (team) info', 0)
    assert got == {
        labels(job="x", inst="1", team="red"): 1.0,
        labels(job="x", inst="2", team="red"): 3.0,
    }


def test_group_right_is_the_mirror(ab: Lake) -> None:
    assert ab.query("b - on (job) group_right a", 0) == {X1: 99, X2: 97, Y1: 190}


def test_many_to_one_without_group_left_is_an_execution_error(ab: Lake) -> None:
    with pytest.raises(EvaluationError, match="many-to-one matching must be explicit"):
        ab.query("a + ignoring (inst) b", 0)


def test_vector_comparison_filters_left_samples(ab: Lake) -> None:
    # b / 40 is 2.5 for x and 5 for y; the left sample stays where it is greater.
    got = ab.query("a > ignoring (inst) group_left b / 40", 0)
    assert got == {named(X2): 3.0, named(Y1): 10.0}


def test_set_operators(ab: Lake) -> None:
    assert ab.query('a and on (job) b{job="x"}', 0) == {named(X1): 1.0, named(X2): 3.0}
    assert ab.query('a unless on (job) b{job="x"}', 0) == {named(Y1): 10.0}
    got = ab.query('a{job="y"} or on (job) b', 0)
    assert got == {named(Y1): 10.0, labels(__name__="b", job="x"): 100.0}


def test_set_operators_match_per_step(lake: Lake) -> None:
    lake.add("p", {"k": "1"}, [(0, 1.0), (300, 1.0)])
    lake.add("q", {"k": "1"}, [(300, 2.0)])
    assert lake.query_range("p and q", 0, 300, 300) == {labels(__name__="p", k="1"): [None, 1.0]}
    assert lake.query_range("p unless q", 0, 300, 300) == {labels(__name__="p", k="1"): [1.0, None]}


def test_series_that_meet_under_one_label_set_at_different_steps_are_one_series(
    lake: Lake,
) -> None:
    lake.add("p", {"k": "1"}, [(0, 1.0)])
    lake.add("q", {"k": "1"}, [(300, 2.0)])
    value = lake.engine.range("p + 0 or q + 0", T0, T0 + 300, 300).value
    assert isinstance(value, Vector) and len(value.series) == 1
    assert lake.query_range("p + 0 or q + 0", 0, 300, 300) == {labels(k="1"): [1.0, 2.0]}
