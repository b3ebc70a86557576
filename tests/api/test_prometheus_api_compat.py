"""The Prometheus HTTP API calls Grafana makes beside query and query_range answer as a
real Prometheus 2.42 holding the same remote-written samples answers them.

Compared: labels, label values, series (with and without ``match[]``, ``start``,
``end``), metadata's ``limit`` and its errors, status/buildinfo and status/runtimeinfo
(fields and their types), format_query and query_exemplars (answers and errors).
Where 2.42 differs on purpose it is said beside the check: ``limit`` on labels, values
and series is applied here with the warning Prometheus 2.51 and later give (2.42
ignores it), and metadata of remote-written series is inferred from names here (2.42
has metadata only of what it scrapes).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.test_promql_compliance import both

pytestmark = pytest.mark.e2e
__all__ = ["both"]  # the fixture: a real Prometheus and tracelake with the same samples


def ask(base: str, path: str, params: dict[str, str] | list[tuple[str, str]]) -> dict[str, Any]:
    r = httpx.get(f"{base}/api/v1/{path}", params=params, timeout=30)
    body: dict[str, Any] = r.json()
    assert (r.status_code == 200) == (body["status"] == "success"), (path, r.status_code, body)
    return body


def test_labels_values_and_series_agree_with_prometheus(both: tuple[str, str, int]) -> None:
    theirs, ours, base_ms = both
    start, end = str(base_ms / 1000), str(base_ms / 1000 + 45 * 60)
    cases: list[tuple[str, list[tuple[str, str]]]] = [
        ("labels", []),
        ("labels", [("match[]", "tl_temperature")]),
        ("labels", [("match[]", 'tl_requests_total{job="api"}'), ("start", start), ("end", end)]),
        ("label/job/values", []),
        ("label/__name__/values", [("match[]", '{job="worker"}')]),
        ("label/instance/values", [("start", start), ("end", end)]),
        ("label/nothing/values", []),
        ("series", [("match[]", "tl_temperature")]),
        ("series", [("match[]", "tl_flaky"), ("match[]", 'tl_latency_seconds_bucket{le="1"}')]),
        ("series", [("match[]", '{__name__=~"tl_.*", job="api"}'), ("start", start)]),
        ("series", []),
    ]
    for path, params in cases:
        want, got = ask(theirs, path, params), ask(ours, path, params)
        assert got["status"] == want["status"], (path, params, got, want)
        if want["status"] != "success":
            assert got["errorType"] == want["errorType"]
            continue
        if path == "series":
            key = lambda s: sorted(s.items())  # noqa: E731
            assert sorted(got["data"], key=key) == sorted(want["data"], key=key), params
        else:
            assert got["data"] == want["data"], (path, params)
        assert "warnings" not in got


def test_limit_cuts_labels_values_and_series_with_prometheus_warning(
    both: tuple[str, str, int],
) -> None:
    """2.42 ignores ``limit`` here; the first ``limit`` of its full answer is ours."""
    theirs, ours, _ = both
    for path, params in (
        ("labels", [("limit", "2")]),
        ("label/__name__/values", [("limit", "3")]),
        ("series", [("match[]", "tl_temperature"), ("limit", "4")]),
    ):
        full = ask(theirs, path, params)["data"]
        got = ask(ours, path, params)
        limit = int(params[-1][1])
        assert len(full) > limit and len(got["data"]) == limit
        assert got["warnings"] == ["results truncated due to limit"]
        if path == "series":
            assert all(s in full for s in got["data"])
        else:
            assert got["data"] == full[:limit]
    plenty = ask(ours, "labels", [("limit", "1000")])
    assert "warnings" not in plenty and plenty["data"] == ask(theirs, "labels", [])["data"]


def test_metadata_limit_answers_as_prometheus(both: tuple[str, str, int]) -> None:
    theirs, ours, _ = both
    for params in ({"limit": "0"}, {"limit": "abc"}, {"metric": "nothing_here"}):
        want, got = ask(theirs, "metadata", params), ask(ours, "metadata", params)
        assert got == want, params
    every = ask(ours, "metadata", {})["data"]
    assert every["tl_requests_total"] == [{"type": "counter", "help": "", "unit": ""}]
    assert every["tl_latency_seconds_bucket"][0]["type"] == "histogram"
    assert ask(ours, "metadata", {"limit": "-1"})["data"] == every
    two = ask(ours, "metadata", {"limit": "2", "limit_per_metric": "1"})["data"]
    assert len(two) == 2 and all(len(v) == 1 for v in two.values())
    one = ask(ours, "metadata", {"metric": "tl_temperature"})["data"]
    assert one == {"tl_temperature": [{"type": "unknown", "help": "", "unit": ""}]}


def test_status_pages_have_prometheus_fields_and_types(both: tuple[str, str, int]) -> None:
    theirs, ours, _ = both
    for path in ("status/buildinfo", "status/runtimeinfo"):
        want, got = ask(theirs, path, {})["data"], ask(ours, path, {})["data"]
        assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in want.items()}
    runtime = ask(ours, "status/runtimeinfo", {})["data"]
    assert runtime["startTime"].endswith("Z") and runtime["storageRetention"] == "30d"


def test_format_query_and_query_exemplars_answer_as_prometheus(
    both: tuple[str, str, int],
) -> None:
    theirs, ours, base_ms = both
    for query in (
        "sum(rate(tl_requests_total[5m]))by(job)",
        'tl_temperature{job="api"}offset 5m',
        "histogram_quantile(0.9,sum by(le)(rate(tl_latency_seconds_bucket[1m])))",
        "a+on(job)group_left b",
        "sum(",
    ):
        want, got = (
            ask(theirs, "format_query", {"query": query}),
            ask(ours, "format_query", {"query": query}),
        )
        assert got["status"] == want["status"], query
        assert got.get("data") == want.get("data"), query
    span = {"start": str(base_ms / 1000), "end": str(base_ms / 1000 + 600)}
    for params in ({"query": "tl_temperature", **span}, {"query": "tl_requests_total"}):
        assert ask(ours, "query_exemplars", params) == ask(theirs, "query_exemplars", params)
    assert ask(ours, "query_exemplars", {})["status"] == "error"
    assert ask(theirs, "query_exemplars", {})["status"] == "error"
