"""End to end: recording rules in the real server, with a real Prometheus 2.42 running
the same rule file over the same remote-written samples as the reference.

Checked: the recorded series are queryable by PromQL; each recorded sample equals the
rule's expression asked of tracelake and of Prometheus at the sample's own time; the
second rule, which reads the first, is twice it at every evaluation; ``/api/v1/rules``
answers as Prometheus's for the same file; after a kill -9 and a restart the rules go
on and no series has two samples at one time.

Samples sit 437 ms past a whole second and evaluations fall on whole seconds, so no
sample lies on a window's edge (where Prometheus 2 and 3 differ, docs/promql.md).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_prometheus_write import HEADERS, body
from tests.conftest import ServerProcess
from tests.prometheus import real_prometheus

pytestmark = pytest.mark.e2e

RULES = """\
groups:
  - name: requests
    interval: 1s
    rules:
      - record: job:tl_requests:rate1m
        expr: sum by (job) (rate(tl_requests_total[1m]))
        labels:
          source: rule
      - record: job:tl_requests:rate1m_x2
        expr: job:tl_requests:rate1m * 2
  - name: alerts
    interval: 1s
    rules:
      - alert: Busy
        expr: job:tl_requests:rate1m > 1000
"""
EXPR = "sum by (job) (rate(tl_requests_total[1m]))"
FIRST, SECOND = "job:tl_requests:rate1m", "job:tl_requests:rate1m_x2"


def series(now_ms: int) -> list[tuple[dict[str, str], list[tuple[int, float]]]]:
    """Two jobs' counters every 5 s from 10 minutes ago to 3 minutes ahead."""
    base = (now_ms // 1000 - 600) * 1000 + 437
    out = []
    for job, inst, slope in (("api", "a", 3.0), ("api", "b", 5.0), ("worker", "a", 1.5)):
        samples = [(base + k * 5000, 100 + slope * k * (1 + k % 3)) for k in range(156)]
        labels = {"__name__": "tl_requests_total", "job": job, "instance": inst}
        out.append((labels, samples))
    return out


@pytest.fixture
def both(tmp_path: Path) -> Iterator[tuple[str, ServerProcess]]:
    """A real Prometheus and tracelake with the same rule file and the same samples."""
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    config = f"global:\n  scrape_interval: 15s\nrule_files: [{str(rules)!r}]\n"
    ours = ServerProcess(
        tmp_path / "data",
        env={"TRACELAKE_SCRAPE_INTERVAL_S": "0", "TRACELAKE_ALERT_RULE_FILES": str(rules)},
    )
    try:
        with real_prometheus(tmp_path / "prometheus", config, receive_writes=True) as theirs:
            ours.start()
            payload = body(*series(int(time.time() * 1000)))
            for url, path in ((theirs, "/api/v1/write"), (ours.url, "/prometheus/api/v1/write")):
                r = httpx.post(f"{url}{path}", content=payload, headers=HEADERS, timeout=30)
                assert r.status_code in (200, 204), (url, r.status_code, r.text)
            yield theirs, ours
    finally:
        if ours.proc is not None and ours.proc.poll() is None:
            ours.stop()


def get(url: str, path: str, **params: str) -> Any:
    answer = httpx.get(f"{url}{path}", params=params, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def recorded(url: str, name: str) -> dict[str, dict[int, float]]:
    """Every sample of the series named ``name`` in the last 10 minutes, by job."""
    data = get(url, "/prometheus/api/v1/query", query=f"{name}[10m]")
    out: dict[str, dict[int, float]] = {}
    for s in data["result"]:
        out[s["metric"]["job"]] = {round(t * 1000): float(v) for t, v in s["values"]}
    return out


def at(url: str, path: str, query: str, ms: int) -> dict[str, float]:
    data = get(url, path, query=query, time=f"{ms / 1000:.3f}")
    return {s["metric"]["job"]: float(s["value"][1]) for s in data["result"]}


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def wait_for_evaluations(url: str, count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        first = recorded(url, SECOND)
        if first and min(len(v) for v in first.values()) >= count:
            return
        time.sleep(0.3)
    raise AssertionError(f"fewer than {count} evaluations in {timeout} s")


def shape(groups: list[dict[str, Any]]) -> list[Any]:
    """What must agree with Prometheus: names, order, types, fields and static values."""
    volatile = {"evaluationTime", "lastEvaluation"}
    return [
        (
            g["name"],
            g["interval"],
            [
                {k: (v if k not in volatile else type(v).__name__) for k, v in r.items()}
                for r in g["rules"]
            ],
        )
        for g in groups
    ]


def test_recorded_series_match_their_expression_here_and_in_prometheus_and_survive_kill_9(
    both: tuple[str, ServerProcess],
) -> None:
    theirs, ours = both
    wait_for_evaluations(ours.url, 4)
    first, second = recorded(ours.url, FIRST), recorded(ours.url, SECOND)
    assert set(first) == {"api", "worker"}
    for job, samples in first.items():
        assert samples.keys() == second[job].keys()  # one evaluation writes both rules
        for ms, value in samples.items():
            assert close(second[job][ms], 2 * value)
    for ms in sorted(first["api"])[-3:]:
        mine = at(ours.url, "/prometheus/api/v1/query", EXPR, ms)
        reference = at(theirs, "/api/v1/query", EXPR, ms)
        assert mine.keys() == reference.keys() == first.keys()
        for job in first:
            assert close(first[job][ms], mine[job]) and close(first[job][ms], reference[job])
    labels = get(ours.url, "/prometheus/api/v1/series", **{"match[]": FIRST})
    assert {"__name__": FIRST, "job": "api", "source": "rule"} in labels

    # /api/v1/rules as Prometheus answers it, with each filter
    for params in ({}, {"type": "record"}, {"type": "alert"}):
        want = get(theirs, "/api/v1/rules", **params)["groups"]
        got = get(ours.url, "/prometheus/api/v1/rules", **params)["groups"]
        want_shape = sorted(shape(want))
        got_shape = sorted(shape(got))
        for group in got_shape:  # beyond Prometheus's fields: kind, link, and lastError always
            for rule in group[2]:
                assert rule.pop("kind") == "promql"
                if rule["type"] == "alerting":
                    rule.pop("lastError")
                    assert rule.pop("link").startswith("#/metrics?q=")
        assert got_shape == want_shape, params

    # kill -9, at whatever point of an evaluation, then start again
    ours.kill()
    ours.log.close()
    killed_at = time.time()
    ours.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        newest = max(recorded(ours.url, SECOND)["api"]) / 1000
        if newest > killed_at + 2:
            break
        time.sleep(0.3)
    else:
        raise AssertionError("no evaluation after the restart")
    twice = httpx.post(
        f"{ours.url}/api/v1/sql",
        json={
            "sql": "SELECT name, labels, epoch_ms(timestamp) AS t, count(*) AS n FROM metrics "
            "WHERE name LIKE 'job:%' GROUP BY ALL HAVING count(*) > 1"
        },
        timeout=10,
    )
    assert twice.status_code == 200, twice.text
    assert twice.json()["rows"] == []
    first, second = recorded(ours.url, FIRST), recorded(ours.url, SECOND)
    for job in first:
        assert first[job].keys() == second[job].keys()
