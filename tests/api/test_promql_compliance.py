"""PromQL answers agree with a real Prometheus holding exactly the same samples.

A generator makes series of every kind a dashboard meets — counters with resets, a
counter that starts late, gauges, ``le`` bucket histograms with ``_sum``/``_count``, a
series that ends with a staleness marker — for two jobs and three instances over the
42.5 minutes starting 45 to 75 minutes ago (at a fixed phase on the queries' grids,
see ``pinned_base``). The same remote_write request goes to a real Prometheus (started with
``--web.enable-remote-write-receiver``) and to the real tracelake server; then every
query of the list below, which covers the functions, operators, aggregations, modifiers
and subquery forms both understand, is asked of both as instant queries at two times
and as a range query, and the answers are compared as Prometheus's compliance tester
compares them: the same label sets at the same timestamps, values within a relative
1e-5, NaN equal to NaN, and an error matching only an error.

Samples sit 437 ms past a whole second and every evaluation time 123 ms past one,
so that no sample lies on a window's edge (Prometheus 2 closes windows on the left,
Prometheus 3 and tracelake leave them open) and no subquery step (a multiple of its
step since the epoch) does either.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_prometheus_write import HEADERS, body
from tests.conftest import ServerProcess
from tests.prometheus import real_prometheus
from tracelake.ingest.decoders.sample_rows import STALE_NAN

pytestmark = pytest.mark.e2e

STEP_MS = 15_000
SAMPLES = 170  # 42.5 minutes of samples
JOBS = ("api", "worker")
INSTANCES = ("i1", "i2", "i3")
BOUNDS = ("0.05", "0.1", "0.5", "1", "+Inf")

Samples = list[tuple[int, float]]


def generate(base_ms: int) -> list[tuple[dict[str, str], Samples]]:
    """The series, with values from a fixed seed and times from ``base_ms``."""
    rng = random.Random(19)
    times = [base_ms + k * STEP_MS + 437 for k in range(SAMPLES)]
    out: list[tuple[dict[str, str], Samples]] = []
    for job in JOBS:
        for inst in INSTANCES:
            for method in ("get", "post"):
                value, samples = 1000 + rng.random() * 500, []
                reset_at = rng.choice([None, 60, 110]) if method == "get" else None
                for k, t in enumerate(times):
                    value = 2.0 + rng.random() if k == reset_at else value + rng.randint(0, 20)
                    samples.append((t, value))
                out.append(
                    (
                        {
                            "__name__": "tl_requests_total",
                            "job": job,
                            "instance": inst,
                            "method": method,
                        },
                        samples,
                    )
                )
            temp = 20 + rng.random() * 5
            gauge = []
            for t in times:
                temp += rng.gauss(0, 1.5)
                gauge.append((t, round(temp, 3)))
            out.append(({"__name__": "tl_temperature", "job": job, "instance": inst}, gauge))
            counts, total, count = [0] * len(BOUNDS), 0.0, 0
            buckets: list[Samples] = [[] for _ in BOUNDS]
            sums: Samples = []
            totals: Samples = []
            for t in times:
                for _ in range(rng.randint(0, 12)):
                    seen = rng.expovariate(4.0)
                    total += seen
                    count += 1
                    for i, bound in enumerate(BOUNDS):
                        if seen <= float(bound):
                            counts[i] += 1
                for i in range(len(BOUNDS)):
                    buckets[i].append((t, float(counts[i])))
                sums.append((t, total))
                totals.append((t, float(count)))
            name = "tl_latency_seconds"
            for bound, samples in zip(BOUNDS, buckets, strict=True):
                labels = {"__name__": f"{name}_bucket", "job": job, "instance": inst, "le": bound}
                out.append((labels, samples))
            out.append(({"__name__": f"{name}_sum", "job": job, "instance": inst}, sums))
            out.append(({"__name__": f"{name}_count", "job": job, "instance": inst}, totals))
    flaky = [(t, float(k % 7)) for k, t in enumerate(times[:80])] + [(times[80], STALE_NAN)]
    out.append(({"__name__": "tl_flaky", "job": "api"}, flaky))
    late = [(t, 5000.0 + 3 * k) for k, t in enumerate(times[60:])]
    out.append(({"__name__": "tl_late_total", "job": "worker"}, late))
    return out


COUNTERS = [
    "tl_requests_total",
    'tl_requests_total{job="api"}',
    'tl_requests_total{method=~"g.*", instance!="i3"}',
    "tl_late_total",
    "tl_latency_seconds_count",
]
GAUGES = ["tl_temperature", 'tl_temperature{job!~"w.*"}', "tl_flaky", "nothing_here"]
RANGES = ["1m", "5m", "10m"]
COUNTER_FUNCTIONS = ["rate", "irate", "increase", "resets"]
RANGE_FUNCTIONS = [
    "delta",
    "idelta",
    "changes",
    "deriv",
    "avg_over_time",
    "sum_over_time",
    "count_over_time",
    "min_over_time",
    "max_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "last_over_time",
    "present_over_time",
    "absent_over_time",
]
INSTANT_FUNCTIONS = [
    "abs",
    "ceil",
    "floor",
    "exp",
    "ln",
    "log2",
    "log10",
    "sqrt",
    "sgn",
    "round",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "tanh",
    "asinh",
    "acosh",
    "atanh",
    "deg",
    "rad",
    "timestamp",
    "absent",
    "sort",
    "sort_desc",
]
DATE_FUNCTIONS = [
    "year",
    "month",
    "day_of_month",
    "day_of_year",
    "day_of_week",
    "days_in_month",
    "hour",
    "minute",
]
AGGREGATIONS = ["sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"]


def queries(at_s: str) -> list[str]:
    """A few hundred queries; ``at_s`` is a time inside the data for ``@``."""
    q: list[str] = []
    for fn in COUNTER_FUNCTIONS:
        for sel in COUNTERS:
            for r in RANGES:
                q.append(f"{fn}({sel}[{r}])")
    for fn in RANGE_FUNCTIONS:
        for sel in ("tl_temperature", "tl_flaky", "tl_requests_total", "nothing_here"):
            for r in ("1m", "5m"):
                q.append(f"{fn}({sel}[{r}])")
    for sel in ("tl_temperature", "tl_requests_total"):
        q += [
            f"predict_linear({sel}[5m], 600)",
            f"predict_linear({sel}[10m] offset 5m, 60)",
            f"holt_winters({sel}[10m], 0.3, 0.7)",
            f"quantile_over_time(0.25, {sel}[5m])",
            f"quantile_over_time(0.9, {sel}[10m])",
            f"quantile_over_time(2, {sel}[5m])",
        ]
    for fn in INSTANT_FUNCTIONS:
        for sel in ("tl_temperature", "tl_temperature / 50", "-tl_flaky"):
            q.append(f"{fn}({sel})")
    for fn in DATE_FUNCTIONS:
        q += [
            f"{fn}()",
            f"{fn}(timestamp(tl_temperature))",
            f"{fn}(timestamp(tl_temperature offset 10m))",
            f"{fn}(tl_requests_total * 86400)",
            f"{fn}(vector(time()))",
        ]
    q += [
        "timestamp(tl_temperature)",
        "timestamp(tl_temperature offset 5m)",
        "timestamp(tl_temperature offset -2m)",
        f"timestamp(tl_temperature @ {at_s})",
        "timestamp(tl_temperature * 1)",
        "timestamp(-tl_temperature)",
        "timestamp((tl_flaky))",
        "timestamp(sum(tl_temperature))",
        "round(tl_temperature, 0.5)",
        "round(tl_temperature, 3)",
        "clamp(tl_temperature, 18, 22)",
        "clamp(tl_temperature, 22, 18)",
        "clamp_min(tl_temperature, 20)",
        "clamp_max(tl_temperature, 20)",
        "scalar(tl_flaky)",
        "scalar(sum(tl_temperature))",
        "vector(1)",
        "vector(scalar(sum(tl_temperature)))",
        "time()",
        "time() - timestamp(tl_temperature)",
        "pi()",
        "absent(nothing_here)",
        'absent(nothing_here{job="a", instance=~"x"})',
        'absent(tl_temperature{job="api"})',
        'absent_over_time(nothing_here{job="x"}[5m])',
        'label_replace(tl_temperature, "host", "$1-h", "instance", "i(.*)")',
        'label_replace(tl_temperature, "instance", "", "instance", ".*")',
        'label_replace(tl_temperature, "1bad", "x", "job", ".*")',
        'label_join(tl_temperature, "both", "/", "job", "instance")',
        'label_join(tl_temperature, "job", "", "instance")',
        'label_join(tl_temperature, "1bad", "/", "job")',
        "histogram_quantile(0.9, rate(tl_latency_seconds_bucket[5m]))",
        "histogram_quantile(0.5, sum by (le) (rate(tl_latency_seconds_bucket[5m])))",
        "histogram_quantile(0.99, sum by (job, le) (increase(tl_latency_seconds_bucket[10m])))",
        "histogram_quantile(0, tl_latency_seconds_bucket)",
        "histogram_quantile(1.5, tl_latency_seconds_bucket)",
        "rate(tl_latency_seconds_sum[5m]) / rate(tl_latency_seconds_count[5m])",
    ]
    for agg in AGGREGATIONS:
        for sel in ("tl_temperature", "rate(tl_requests_total[5m])"):
            q += [
                f"{agg}({sel})",
                f"{agg} by (job) ({sel})",
                f"{agg} without (instance) ({sel})",
            ]
    q += [
        "sum by (job, method) (rate(tl_requests_total[5m]))",
        "sum by (__name__) (tl_temperature)",
        "quantile(0.3, tl_temperature)",
        "quantile by (job) (0.75, tl_temperature)",
        "topk(2, tl_temperature)",
        "topk by (job) (1, tl_temperature)",
        "bottomk(2, tl_temperature)",
        "bottomk without (instance) (1, rate(tl_requests_total[5m]))",
        "topk(scalar(count(tl_flaky)), tl_temperature)",
        "bottomk(0, tl_temperature)",
        "topk(-1, tl_temperature)",
        'count_values("value", tl_flaky)',
        'count_values by (job) ("v", round(tl_temperature))',
        'count_values("le", tl_latency_seconds_bucket)',
        "count(count by (instance) (tl_temperature))",
        "avg(tl_temperature) - min(tl_temperature)",
    ]
    # atan2 is left out: Prometheus 2 keeps the metric name, 3 (and tracelake) drop it.
    for op in ("+", "-", "*", "/", "%", "^"):
        q += [f"tl_temperature {op} 3", f"3 {op} tl_temperature"]
    for op in ("==", "!=", ">", "<", ">=", "<="):
        q += [
            f"tl_temperature {op} 20",
            f"tl_temperature {op} bool 20",
            f"20 {op} tl_temperature",
            f"tl_temperature {op} on (job, instance) (tl_temperature offset 5m)",
            f"tl_temperature {op} bool ignoring (method) tl_temperature",
        ]
    q += [
        "1 + 2 * 3 ^ 2",
        "-5 % 3",
        "(1 > bool 0) + 2",
        "tl_temperature + tl_temperature",
        "tl_temperature - on (job, instance) tl_temperature offset 10m",
        "rate(tl_requests_total[5m]) / ignoring (method) group_left sum without (method) "
        "(rate(tl_requests_total[5m]))",
        "sum without (method) (rate(tl_requests_total[5m])) / ignoring (method) group_right "
        "rate(tl_requests_total[5m])",
        "tl_requests_total * on (job, instance) group_left (le) tl_latency_seconds_bucket",
        "tl_requests_total + tl_temperature",
        "tl_requests_total / on (job) tl_temperature",
        "tl_temperature and tl_flaky",
        "tl_temperature and on (job) tl_flaky",
        "tl_temperature or tl_flaky",
        "tl_flaky or on (job) tl_temperature",
        "tl_temperature unless on (job) tl_flaky",
        "tl_temperature > 20 and tl_temperature < 24",
        "sum(tl_temperature) by (job) > on (job) avg(tl_temperature) by (job)",
        "tl_temperature offset 5m",
        "tl_temperature offset -2m",
        "tl_flaky offset 30s",
        f"tl_temperature @ {at_s}",
        "tl_temperature @ start()",
        "tl_temperature @ end()",
        f"rate(tl_requests_total[5m] @ {at_s})",
        "rate(tl_requests_total[5m] @ end() offset 5m)",
        "sum(tl_temperature @ start()) + sum(tl_temperature)",
        f"predict_linear(tl_temperature[5m] @ {at_s}, 60)",
        "tl_temperature[5m]",
        "tl_temperature[2m] offset 1m",
        f"tl_flaky[3m] @ {at_s}",
        "tl_temperature[5m:1m]",
        "rate(tl_requests_total[5m:1m])",
        "rate(tl_requests_total[5m:30s])",
        "max_over_time(tl_temperature[10m:])",
        "avg_over_time(rate(tl_requests_total[1m])[10m:2m])",
        "max_over_time(sum by (job) (rate(tl_requests_total[2m]))[15m:1m])",
        "min_over_time(tl_temperature[5m:1m] offset 5m)",
        f"sum_over_time(tl_temperature[5m:1m] @ {at_s})",
        "count_over_time(tl_flaky[10m:1m] @ end())",
        "deriv(tl_temperature[10m:1m])",
        "changes(tl_temperature[10m:20s])",
        # Nested: an inner range that is no multiple of the steps' common divisor, so
        # no inner window starts on an inner step (where Prometheus 2 and 3 differ).
        "max_over_time(deriv(rate(tl_requests_total[1m])[5m5s:50s])[10m:2m])",
        "avg_over_time(max_over_time(tl_temperature[2m5s:50s])[6m:1m] offset 2m)",
        "sum_over_time(count_over_time(tl_flaky[1m5s:20s])[4m:30s])",
        "timestamp(tl_temperature[5m:1m])",
        "last_over_time(timestamp(tl_temperature)[5m:1m])",
        "sum(rate(tl_requests_total[5m:]) offset 3m)",
        "quantile_over_time(0.5, tl_temperature[10m:1m])",
        "absent_over_time(nothing_here[5m:1m])",
        "present_over_time(tl_flaky[5m:1m])",
        "resets(tl_requests_total[20m:1m])",
        "irate(tl_requests_total[5m:1m] offset 1m)",
        "histogram_quantile(0.9, sum by (le) (rate(tl_latency_seconds_bucket[5m:1m])))",
        "1[5m:1m]",
        'sum(tl_temperature{job="api"}) by (instance)',
        'tl_temperature{__name__="tl_temperature", job="api"}',
        '{__name__=~"tl_temp.*", instance="i2"}',
        "rate({__name__=~'tl_requests_total|tl_late_total'}[5m])",
        "sum({__name__=~'tl_requests_total|tl_late_total'})",
        "tl_temperature{job=~'api|worker'} * 0 + 1",
        "sort(sum by (job, instance) (tl_temperature))",
        "sort_desc(rate(tl_requests_total[5m]))",
    ]
    return q


#: Every grid of the queries (15 s samples, 45 s range steps, 50 s and 120 s subquery
#: steps) repeats every 30 minutes, so the data's phase on them is fixed: the one where
#: a nested subquery's deriv is all rounding, which must round as Prometheus's.
PHASE_S, PHASE_OF_S = 1122, 1800


def pinned_base(now: float) -> int:
    """The latest time 45 minutes or more ago at the fixed phase (seconds)."""
    latest = int(now) - 45 * 60
    return latest - (latest - PHASE_S) % PHASE_OF_S


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, int]]:
    """A real Prometheus and tracelake holding the same samples; and their first time."""
    root = Path(tmp_path_factory.mktemp("compliance"))
    ours = ServerProcess(root / "data", env={"TRACELAKE_SCRAPE_INTERVAL_S": "0"}).start()
    config = "global:\n  scrape_interval: 15s\n"
    try:
        with real_prometheus(root / "prometheus", config, receive_writes=True) as theirs:
            base_ms = pinned_base(time.time()) * 1000
            payload = body(*generate(base_ms))
            for url, path in ((theirs, "/api/v1/write"), (ours.url, "/prometheus/api/v1/write")):
                r = httpx.post(f"{url}{path}", content=payload, headers=HEADERS, timeout=30)
                assert r.status_code in (200, 204), (url, r.status_code, r.text)
            yield theirs, f"{ours.url}/prometheus", base_ms
    finally:
        ours.stop()


Answer = tuple[Any, ...]


def answer(client: httpx.Client, url: str, query: str, params: dict[str, str]) -> Answer:
    """The response in a comparable form: ("error",), or the type and the result."""
    path = "query_range" if "step" in params else "query"
    r = client.get(f"{url}/api/v1/{path}", params={"query": query, **params})
    reply = r.json()
    if reply.get("status") != "success":
        return ("error",)
    data = reply["data"]
    kind, result = data["resultType"], data["result"]
    if kind in ("scalar", "string"):
        return (kind, (((), ((round(result[0] * 1000), result[1]),)),))
    rows = []
    for item in result:
        labels = tuple(sorted(item["metric"].items()))
        points = [item["value"]] if kind == "vector" else item["values"]
        rows.append((labels, tuple((round(t * 1000), v) for t, v in points)))
    ordered = kind == "vector" and ("sort" in query or "topk" in query or "bottomk" in query)
    return (kind, tuple(rows if ordered and "sort" in query else sorted(rows)))


def same_value(a: str, b: str) -> bool:
    x, y = float(a), float(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if x == y:
        return True
    return abs(x - y) <= 1e-5 * min(abs(x), abs(y))


def same(a: Answer, b: Answer) -> bool:
    if a[0] != b[0] or len(a) != len(b):
        return False
    if a[0] == "error":
        return True
    rows_a, rows_b = a[1], b[1]
    if len(rows_a) != len(rows_b):
        return False
    for (labels_a, points_a), (labels_b, points_b) in zip(rows_a, rows_b, strict=True):
        if a[0] == "string":
            if points_a != points_b:
                return False
            continue
        if labels_a != labels_b or len(points_a) != len(points_b):
            return False
        for (ta, va), (tb, vb) in zip(points_a, points_b, strict=True):
            if ta != tb or not same_value(va, vb):
                return False
    return True


def test_every_query_answers_as_a_real_prometheus(both: tuple[str, str, int]) -> None:
    theirs, ours, base_ms = both
    base = base_ms / 1000
    at_s = f"{base + 25 * 60 + 0.123:.3f}"
    evaluations = [
        {"time": f"{base + 30 * 60 + 0.123:.3f}"},
        {"time": f"{base + 22 * 60 + 0.123:.3f}"},  # after tl_flaky's staleness marker
        {
            "start": f"{base + 15 * 60 + 0.123:.3f}",
            "end": f"{base + 42 * 60 + 0.123:.3f}",
            "step": "45",
        },
    ]
    cases = [(q, p) for q in queries(at_s) for p in evaluations]

    def ask(case: tuple[str, dict[str, str]]) -> tuple[Answer, Answer]:
        query, params = case
        return answer(prom_client, theirs, query, params), answer(our_client, ours, query, params)

    with (
        httpx.Client(timeout=30) as prom_client,
        httpx.Client(timeout=30) as our_client,
        ThreadPoolExecutor(4) as pool,
    ):
        results = list(pool.map(ask, cases))
    mismatches = [
        (query, params, want, got)
        for (query, params), (want, got) in zip(cases, results, strict=True)
        if not same(want, got)
    ]
    errors = sum(1 for want, _ in results if want[0] == "error")
    print(
        f"\n{len(cases)} evaluations of {len(cases) // len(evaluations)} queries compared, "
        f"{errors} of them errors on both sides, {len(mismatches)} mismatches"
    )
    for query, params, want, got in mismatches[:20]:
        print(
            f"MISMATCH {query} {params}\n  prometheus: {str(want)[:300]}\n  tracelake:  {str(got)[:300]}"
        )
    assert not mismatches, f"{len(mismatches)} of {len(cases)} answers differ"


def test_functions_prometheus_2_42_lacks_are_refused_by_both_as_bad_data(
    both: tuple[str, str, int],
) -> None:
    """``info``, ``integral`` and ``limit_ratio``: 2.42 has none of them (a parse error);
    tracelake refuses them with its one message, as the same 400 ``bad_data``."""
    theirs, ours, base_ms = both
    at = f"{base_ms / 1000 + 30 * 60 + 0.123:.3f}"
    for query, what in (
        ('info(tl_temperature, {version=~".+"})', "function info()"),
        ("integral(tl_temperature[5m])", "function integral()"),
        ("limit_ratio(0.5, tl_temperature)", "aggregation limit_ratio()"),
    ):
        want = httpx.get(f"{theirs}/api/v1/query", params={"query": query, "time": at})
        got = httpx.get(f"{ours}/api/v1/query", params={"query": query, "time": at})
        assert want.status_code == got.status_code == 400, (query, want.text, got.text)
        assert want.json()["errorType"] == got.json()["errorType"] == "bad_data"
        assert "unknown function" in want.json()["error"]
        assert (
            got.json()["error"]
            == f"{what} is not supported by tracelake's PromQL (see docs/promql.md)"
        )
