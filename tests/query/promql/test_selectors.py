"""Selectors: label matchers, lookback, staleness, offset and @, memtable and segments."""

from __future__ import annotations

import struct

import pytest

from tests.query.promql.conftest import Lake, labels

STALE = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]


@pytest.fixture
def three(lake: Lake) -> Lake:
    lake.add("up", {"job": "api", "instance": "a:1"}, [(0, 1.0)])
    lake.add("up", {"job": "api", "instance": "b:1"}, [(0, 0.0)])
    lake.add("up", {"job": "db"}, [(0, 1.0)])
    lake.add("other", {"job": "api"}, [(0, 7.0)])
    return lake


@pytest.mark.parametrize(
    ("query", "instances"),
    [
        ('up{job="api"}', {"a:1", "b:1"}),
        ('up{job!="api"}', {""}),
        ('up{instance=~"a.*"}', {"a:1"}),
        ('up{instance=~"a"}', set()),  # regexes are fully anchored
        ('up{instance!~"a.*"}', {"b:1", ""}),
        ('up{instance=""}', {""}),  # a missing label is the empty string
        ('{__name__=~"u.", job="api"}', {"a:1", "b:1"}),
    ],
)
def test_label_matchers(three: Lake, query: str, instances: set[str]) -> None:
    result = three.query(query, 10)
    assert isinstance(result, dict)
    assert {dict(k).get("instance", "") for k in result} == instances


def test_instant_selector_keeps_the_name_and_looks_back_five_minutes(lake: Lake) -> None:
    lake.add("g", {"job": "a"}, [(0, 3.0)])
    assert lake.query("g", 299) == {labels(__name__="g", job="a"): 3.0}
    assert lake.query("g", 300) == {}  # (t - 5m, t]: left-open
    assert lake.query("g", -1) == {}  # nothing from the future


def test_the_latest_sample_wins(lake: Lake) -> None:
    lake.add("g", {"job": "a"}, [(0, 1.0), (10, 2.0), (20, 3.0)])
    assert lake.query("g", 15) == {labels(__name__="g", job="a"): 2.0}


def test_a_staleness_marker_ends_the_series_at_once(lake: Lake) -> None:
    lake.add("g", {"job": "a"}, [(0, 1.0), (30, STALE)])
    assert lake.query("g", 29) == {labels(__name__="g", job="a"): 1.0}
    assert lake.query("g", 31) == {}
    assert lake.query("count_over_time(g[1m])", 31) == {labels(job="a"): 1.0}


def test_offset_reads_the_past(lake: Lake) -> None:
    lake.add("g", {"job": "a"}, [(0, 1.0), (600, 2.0)])
    assert lake.query("g offset 10m", 610) == {labels(__name__="g", job="a"): 1.0}
    assert lake.query("g offset -10m", 0) == {labels(__name__="g", job="a"): 2.0}


def test_at_pins_the_time(lake: Lake) -> None:
    lake.add("g", {"job": "a"}, [(0, 1.0), (600, 2.0)])
    from tests.query.promql.conftest import T0

    assert lake.query(f"g @ {T0 + 10}", 610) == {labels(__name__="g", job="a"): 1.0}
    got = lake.query_range("g @ end()", 0, 600, 300)
    assert got == {labels(__name__="g", job="a"): [2.0, 2.0, 2.0]}


def test_segments_answer_like_the_memtable(lake: Lake) -> None:
    lake.add("c", {"job": "a"}, [(15 * i, 10.0 * i) for i in range(41)])
    before = lake.query_range("rate(c[1m])", 60, 600, 30)
    lake.flush()
    assert lake.store.memtable.rows == 0
    assert lake.query_range("rate(c[1m])", 60, 600, 30) == before
    assert before[labels(job="a")] == [pytest.approx(10 / 15)] * 19


def test_or_inside_braces_selects_the_union_each_series_once(lake: Lake) -> None:
    """Prometheus 3's ``{a="1" or b="2"}``: every series any alternative matches, once."""
    lake.add("g", {"job": "a"}, [(0, 1.0)])
    lake.add("g", {"job": "b"}, [(0, 2.0)])
    lake.add("g", {"job": "c"}, [(0, 3.0)])
    got = lake.query('g{job="a" or job=~"a|b"}', 10)
    assert got == {labels(__name__="g", job="a"): 1.0, labels(__name__="g", job="b"): 2.0}
