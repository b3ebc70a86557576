"""The engine: parse errors, range-query steps and limits, functions, the rule contract."""

from __future__ import annotations

import math
import re
import time

import numpy as np
import pytest

from tests.query.promql.conftest import T0, Lake, labels
from tracelake.errors import QueryError, QueryTimeout
from tracelake.query.promql import EvaluationError, parse
from tracelake.query.promql.evaluator import Evaluator
from tracelake.query.promql.values import Vector


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sum(", "parse error: unclosed left parenthesis"),
        ("rate(x)", "expected type matrix in call to function 'rate', got vector"),
        ("nope(x)", "unknown function with name 'nope'"),
        ("", "no expression found in input"),
        ("info(x)", "function info() is not supported by tracelake's PromQL"),
        ("limit_ratio(0.5, x)", "aggregation limit_ratio() is not supported by tracelake's PromQL"),
        ("integral(x[5m])", "function integral() is not supported by tracelake's PromQL"),
    ],
)
def test_bad_queries_raise_one_line_query_errors(lake: Lake, query: str, message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)) as e:
        lake.query(query, 0)
    assert "\n" not in e.value.message


def test_range_steps_start_at_start_and_stop_at_or_before_end(lake: Lake) -> None:
    result = lake.engine.range("time()", T0, T0 + 100, 30)
    assert result.steps.tolist() == [(T0 + s) * 1000 for s in (0, 30, 60, 90)]


@pytest.mark.parametrize(
    ("start", "end", "step", "message"),
    [
        (10, 0, 1, "end timestamp must not be before start time"),
        (0, 10, 0, "zero or negative query resolution step"),
        (0, 100_000, 1, "exceeded maximum resolution of 11,000 points"),
    ],
)
def test_range_limits(lake: Lake, start: float, end: float, step: float, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        lake.engine.range("1", T0 + start, T0 + end, step)


def test_range_query_of_a_range_vector_is_refused(lake: Lake) -> None:
    with pytest.raises(QueryError, match='invalid expression type "range vector"'):
        lake.engine.range("x[5m]", T0, T0 + 60, 15)


def test_instant_query_of_a_range_vector_gives_the_raw_samples(lake: Lake) -> None:
    lake.add("g", {"job": "a"}, [(0, 1.0), (30, 2.0), (60, 3.0)])
    value = lake.engine.instant("g[1m]", T0 + 60).value
    series = value.series  # type: ignore[union-attr]
    assert [s.times.tolist() for s in series] == [[(T0 + 30) * 1000, (T0 + 60) * 1000]]


def test_vector_gives_labels_and_values_for_rules(lake: Lake) -> None:
    lake.add("up", {"job": "a"}, [(0, 0.0)])
    lake.add("up", {"job": "b"}, [(0, 1.0)])
    assert lake.engine.vector("up == 0", T0 + 10) == [({"__name__": "up", "job": "a"}, 0.0)]
    assert lake.engine.vector("2 * 3", T0) == [({}, 6.0)]


def test_too_many_samples_is_an_execution_error(lake: Lake) -> None:
    lake.add("g", {"job": "a"}, [(i, float(i)) for i in range(100)])
    lake.engine.settings = lake.engine.settings.__class__.load(
        env={},
        overrides={"data_dir": str(lake.store.root), "promql_max_samples": 50},
    )
    with pytest.raises(EvaluationError, match="more than 50 samples"):
        lake.query("sum_over_time(g[5m])", 100)


@pytest.fixture
def g(lake: Lake) -> Lake:
    lake.add("g", {"job": "a", "path": "/api/v1"}, [(0, -2.5)])
    lake.add("g", {"job": "b", "path": "/health"}, [(0, 4.0)])
    return lake


A = labels(job="a", path="/api/v1")
B = labels(job="b", path="/health")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("abs(g)", {A: 2.5, B: 4.0}),
        ("ceil(g)", {A: -2.0, B: 4.0}),
        ("floor(g)", {A: -3.0, B: 4.0}),
        ("round(g)", {A: -2.0, B: 4.0}),  # half up, not to even
        ("round(g, 5)", {A: 0.0, B: 5.0}),
        ("clamp(g, -1, 3)", {A: -1.0, B: 3.0}),
        ("clamp_min(g, 0)", {A: 0.0, B: 4.0}),
        ("clamp_max(g, 0)", {A: -2.5, B: 0.0}),
        ("clamp(g, 3, 1)", {}),
        ("sqrt(g{job='b'})", {B: 2.0}),
        ("sgn(g)", {A: -1.0, B: 1.0}),
        ("vector(1)", {(): 1.0}),
        ("scalar(g{job='b'}) + 1", 5.0),
    ],
)
def test_instant_functions(g: Lake, query: str, expected: object) -> None:
    assert g.query(query, 0) == expected


def test_scalar_of_several_samples_is_nan(g: Lake) -> None:
    got = g.query("scalar(g)", 0)
    assert isinstance(got, float) and math.isnan(got)


def test_label_replace_and_label_join(g: Lake) -> None:
    got = g.query('label_replace(g, "api", "$1", "path", "/api/(v[0-9]+)")', 0)
    assert got == {
        labels(__name__="g", job="a", path="/api/v1", api="v1"): -2.5,
        labels(__name__="g", job="b", path="/health"): 4.0,  # no match: unchanged
    }
    got = g.query('label_join(g{job="a"}, "id", ":", "job", "path")', 0)
    assert got == {labels(__name__="g", job="a", path="/api/v1", id="a:/api/v1"): -2.5}


def test_absent_reports_the_pinned_labels(g: Lake) -> None:
    assert g.query('absent(nothing{job="x", path=~".*"})', 0) == {labels(job="x"): 1.0}
    assert g.query("absent(g)", 0) == {}


def test_too_many_series_times_steps_is_an_execution_error(lake: Lake) -> None:
    for i in range(5):
        lake.add("g", {"i": str(i)}, [(0, 1.0)])
    lake.engine.settings = lake.engine.settings.__class__.load(
        env={}, overrides={"data_dir": str(lake.store.root), "promql_max_samples": 40}
    )
    lake.query_range("g", 0, 60, 10)  # 5 series x 7 steps = 35: fine
    with pytest.raises(EvaluationError, match="series x steps"):
        lake.query_range("g", 0, 90, 10)  # 5 x 10


def test_more_series_than_the_row_cap_is_an_execution_error(lake: Lake) -> None:
    for i in range(5):
        lake.add("g", {"i": str(i)}, [(0, 1.0)])
    lake.engine.settings = lake.engine.settings.__class__.load(
        env={}, overrides={"data_dir": str(lake.store.root), "query_max_rows": 3}
    )
    with pytest.raises(EvaluationError, match="more than 3 series"):
        lake.query("g", 0)


def test_evaluation_stops_at_the_deadline() -> None:
    evaluator = Evaluator(
        loader=lambda matchers, start, end: [],
        steps=np.array([0], dtype=np.int64),
        start_ms=0,
        end_ms=0,
        deadline=time.monotonic() - 1,
    )
    with pytest.raises(QueryTimeout):
        evaluator.eval(parse("1 + 1"))


@pytest.fixture
def with_nan(lake: Lake) -> Lake:
    for job, value in [("a", 2.0), ("b", math.nan), ("c", 1.0), ("d", 3.0)]:
        lake.add("s", {"job": job}, [(0, value)])
    return lake


def test_sort_and_sort_desc_put_nan_last(with_nan: Lake) -> None:
    jobs = lambda q: [dict(k)["job"] for k in with_nan.query(q, 0)]  # noqa: E731
    assert jobs("sort(s)") == ["c", "a", "d", "b"]
    assert jobs("sort_desc(s)") == ["d", "a", "c", "b"]


def test_range_query_series_come_sorted_by_labels(with_nan: Lake) -> None:
    got = with_nan.engine.range("s * 1", T0, T0 + 60, 30).value
    assert isinstance(got, Vector)
    assert [s.labels for s in got.series] == sorted(s.labels for s in got.series)


def test_absent_drops_a_label_that_another_matcher_also_tests(g: Lake) -> None:
    # As Prometheus: only the first equality matcher of a label pins it, and any later
    # matcher of that label removes it.
    assert g.query('absent(nothing{job="x", job=~".+", path="/p"})', 0) == {labels(path="/p"): 1.0}
    assert g.query('absent(nothing{job=~".+", job="x"})', 0) == {labels(job="x"): 1.0}


def test_label_replace_that_makes_two_series_one_is_an_error(g: Lake) -> None:
    with pytest.raises(EvaluationError, match="same labelset"):
        g.query('label_replace(label_replace(g, "job", "", "", ""), "path", "", "", "")', 0)


def test_a_label_replace_regex_too_deep_for_python_re_is_a_query_error(lake: Lake) -> None:
    """3,000 nested groups make Python's re recurse past its limit: a QueryError (400)
    saying so, not a RecursionError (500)."""
    regex = "(" * 3000 + ")" * 3000
    with pytest.raises(QueryError, match="nests too deeply to compile") as e:
        lake.engine.instant(f'label_replace(vector(1), "a", "$1", "b", "{regex}")', time.time())
    assert "\n" not in e.value.message


@pytest.mark.parametrize(
    "query",
    [
        "g offset 3000000d",
        "g offset -3000000d",
        "rate(g[3000000d])",
        "g @ 253402300799 offset -1000000d",
        "g @ 0 offset 1000000d",
    ],
)
def test_a_window_pushed_past_year_1_or_9999_reads_nothing_there(lake: Lake, query: str) -> None:
    """An offset or range that moves the read window out of what a datetime holds reads
    up to the end of it (there is nothing beyond) instead of failing with ValueError."""
    now = time.time()
    lake.add("g", {"job": "a"}, [(now - T0 - 30, 1.0)])
    value = lake.engine.instant(query, now).value
    assert isinstance(value, Vector)
