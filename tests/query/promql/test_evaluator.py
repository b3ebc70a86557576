"""Subqueries and the @ modifier, evaluated as Prometheus 3 does: a subquery's steps
are multiples of its step since the epoch inside (read time - range, read time]; its
default step is one minute (Prometheus's default evaluation_interval); offset and @
move the read time, nested subqueries read their parent's steps."""

from __future__ import annotations

import pytest

from tests.query.promql.conftest import T0, Lake, labels


def counter(lake: Lake) -> None:
    """x grows by 1 a second, a sample every 15 s, from T0 (a multiple of a minute)."""
    lake.add("x", {"job": "a"}, [(15 * i + 1, float(15 * i + 1)) for i in range(80)])


def test_subquery_steps_are_aligned_to_multiples_of_the_step(lake: Lake) -> None:
    counter(lake)
    value = lake.engine.instant("x[3m:1m]", T0 + 610).value
    times = [int(t) for t in value.series[0].times]  # type: ignore[union-attr]
    # (430, 610] holds the minutes 480, 540, 600; each reads the sample before it.
    assert times == [(T0 + s) * 1000 for s in (480, 540, 600)]
    assert value.series[0].values.tolist() == [466.0, 526.0, 586.0]  # type: ignore[union-attr]


def test_subquery_without_a_step_uses_one_minute(lake: Lake) -> None:
    counter(lake)
    assert lake.query("count_over_time(x[5m:])", 610) == {labels(job="a"): 5.0}
    assert lake.query("count_over_time(x[5m:30s])", 610) == {labels(job="a"): 10.0}


def test_subquery_with_offset_and_at(lake: Lake) -> None:
    counter(lake)
    assert lake.query("max_over_time(x[2m:1m] offset 2m)", 610) == {labels(job="a"): 466.0}
    assert lake.query(f"max_over_time(x[2m:1m] @ {T0 + 490})", 10) == {labels(job="a"): 466.0}
    got = lake.query_range("max_over_time(x[2m:1m] @ end())", 400, 610, 105)
    assert got == {labels(job="a"): [586.0, 586.0, 586.0]}


def test_nested_subqueries_and_rate_of_a_subquery(lake: Lake) -> None:
    counter(lake)
    assert lake.query("rate(x[5m:1m])", 610) == {labels(job="a"): pytest.approx(1.0)}
    nested = lake.query("max_over_time(rate(x[2m:30s])[4m:1m])", 610)
    assert nested == {labels(job="a"): pytest.approx(1.0)}


def test_at_start_and_end_fix_the_selector_for_every_step(lake: Lake) -> None:
    counter(lake)
    assert lake.query_range("x @ start()", 300, 600, 150) == {
        labels(__name__="x", job="a"): [286.0] * 3
    }
    assert lake.query_range("x @ end()", 300, 600, 150) == {
        labels(__name__="x", job="a"): [586.0] * 3
    }
    assert lake.query(f"x @ {T0 + 100}", 600) == {labels(__name__="x", job="a"): 91.0}
