"""Prometheus's HTTP query API on the real server, asked by httpx the way Grafana asks
(form POST, buildinfo, the ``1+1`` health check) and by the real ``promtool``; and the
same queries asked of a real Prometheus that remote_writes what it scrapes to tracelake.

Most tests read samples written into the data directory's lake through a Store before
the server starts, so the server answers from real Parquet segments.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pyarrow as pa
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from tests.conftest import ServerProcess, free_port
from tests.prometheus import real_prometheus
from tracelake.schema import METRICS
from tracelake.sdk import register
from tracelake.settings import Settings
from tracelake.store import Store
from tracelake.store.ipc import to_ipc

pytestmark = pytest.mark.e2e

#: Midnight UTC of yesterday: whole-day round like a fixed date, but always inside the
#: retention window, whatever day the suite runs on.
T0 = (int(time.time()) // 86_400 - 1) * 86_400
PROMTOOL = shutil.which("promtool")


def write_samples(data_dir: Path, rows: list[tuple[int, str, dict[str, str], float]]) -> None:
    """(time in ms, name, labels, value) rows into the lake of ``data_dir``, as segments."""
    store = Store(Settings.load(env={}, overrides={"data_dir": str(data_dir)}))
    store.open()
    batch = pa.record_batch(
        [
            pa.array([t * 1000 for t, *_ in rows], pa.timestamp("us", tz="UTC")),
            pa.array([name for _, name, _, _ in rows], pa.string()),
            pa.array(
                [orjson.dumps(lb, option=orjson.OPT_SORT_KEYS).decode() for *_, lb, _ in rows],
                pa.string(),
            ),
            pa.array([v for *_, v in rows], pa.float64()),
            pa.array([lb.get("job") for *_, lb, _ in rows], pa.string()),
        ],
        schema=METRICS,
    )
    asyncio.run(store.append("metrics", to_ipc(batch)))
    store.close()


def write_lake(data_dir: Path) -> None:
    """Two counters (15 s apart, +10 and +1 per sample) and a histogram, over 10 minutes."""
    rows: list[tuple[int, str, dict[str, str], float]] = []
    for i in range(41):
        t = (T0 + 15 * i) * 1000
        rows.append((t, "http_requests_total", {"job": "api", "code": "200"}, 10.0 * i))
        rows.append((t, "http_requests_total", {"job": "api", "code": "500"}, 1.0 * i))
        for le, share in (("0.1", 0.5), ("1", 0.9), ("+Inf", 1.0)):
            rows.append((t, "latency_bucket", {"job": "api", "le": le}, share * 10 * i))
    write_samples(data_dir, rows)


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> ServerProcess:  # type: ignore[misc]
    data = tmp_path_factory.mktemp("prom") / "data"
    write_lake(data)
    server = ServerProcess(data).start()
    yield server
    server.stop()


def api(server: ServerProcess) -> str:
    return f"{server.url}/prometheus/api/v1"


def test_grafana_health_check_is_a_form_post_of_1_plus_1(prom: ServerProcess) -> None:
    r = httpx.post(f"{api(prom)}/query", data={"query": "1+1", "time": "4"})
    assert r.status_code == 200
    assert r.json() == {"status": "success", "data": {"resultType": "scalar", "result": [4, "2"]}}


def test_buildinfo_says_prometheus_without_features(prom: ServerProcess) -> None:
    r = httpx.get(f"{api(prom)}/status/buildinfo")
    data = r.json()["data"]
    assert r.json()["status"] == "success"
    assert data["version"].count(".") == 2 and not data.get("features")


def test_instant_query_of_a_rate(prom: ServerProcess) -> None:
    r = httpx.get(
        f"{api(prom)}/query",
        params={
            "query": 'sum by (code) (rate(http_requests_total{job="api"}[1m]))',
            "time": T0 + 600,
        },
    )
    body = r.json()
    assert body["data"]["resultType"] == "vector"
    got = {item["metric"]["code"]: item["value"] for item in body["data"]["result"]}
    assert got["200"][0] == T0 + 600
    assert float(got["200"][1]) == pytest.approx(10 / 15)
    assert float(got["500"][1]) == pytest.approx(1 / 15)
    assert set(body["data"]["result"][0]["metric"]) == {"code"}  # by drops __name__


def test_query_range_by_form_post_with_a_duration_step(prom: ServerProcess) -> None:
    form = {
        "query": "histogram_quantile(0.5, sum by (le) (rate(latency_bucket[1m])))",
        "start": str(T0 + 60),
        "end": str(T0 + 120),
        "step": "30s",
    }
    body = httpx.post(f"{api(prom)}/query_range", data=form).json()
    assert body["data"]["resultType"] == "matrix"
    (series,) = body["data"]["result"]
    assert series["metric"] == {}
    # rank 0.5 of the rate falls at the top of the 0.1 bucket (half of all observations)
    assert series["values"] == [[T0 + 60, "0.1"], [T0 + 90, "0.1"], [T0 + 120, "0.1"]]


def test_query_range_takes_rfc3339_and_float_seconds(prom: ServerProcess) -> None:
    params = {
        "query": "http_requests_total",
        "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(T0 + 60)),
        "end": str(T0 + 60.5),
        "step": "0.5",
    }
    body = httpx.get(f"{api(prom)}/query_range", params=params).json()
    values = {s["metric"]["code"]: s["values"] for s in body["data"]["result"]}
    assert values["200"] == [[T0 + 60, "40"], [T0 + 60.5, "40"]]


def test_metadata_routes_list_names_labels_and_series(prom: ServerProcess) -> None:
    names = httpx.get(f"{api(prom)}/label/__name__/values").json()["data"]
    assert names == ["http_requests_total", "latency_bucket"]
    assert httpx.post(f"{api(prom)}/labels", data={"start": T0, "end": T0 + 600}).json()[
        "data"
    ] == ["__name__", "code", "job", "le"]
    codes = httpx.get(
        f"{api(prom)}/label/code/values", params={"match[]": "http_requests_total"}
    ).json()
    assert codes == {"status": "success", "data": ["200", "500"]}
    series = httpx.get(
        f"{api(prom)}/series", params=[("match[]", 'http_requests_total{code="500"}')]
    ).json()["data"]
    assert series == [{"__name__": "http_requests_total", "code": "500", "job": "api"}]
    meta = httpx.get(f"{api(prom)}/metadata").json()["data"]
    assert meta["http_requests_total"][0]["type"] == "counter"


@pytest.mark.parametrize(
    ("path", "params", "status", "kind", "message"),
    [
        ("query", {"query": "sum(rate(x[5m]"}, 400, "bad_data", "unclosed left parenthesis"),
        (
            "query",
            {"query": "up", "time": "yesterday"},
            400,
            "bad_data",
            'cannot parse "yesterday"',
        ),
        ("query", {}, 400, "bad_data", 'invalid parameter "query"'),
        (  # without a zone it would be the server's local time
            "query",
            {"query": "up", "time": "2026-01-01T00:00:00"},
            400,
            "bad_data",
            "RFC 3339 with a zone",
        ),
        (
            "query_range",
            {"query": "up", "start": "0", "end": "1", "step": "x"},
            400,
            "bad_data",
            "valid duration",
        ),
        ("series", {}, 400, "bad_data", "no match[] parameter provided"),
        (
            "query",
            {"query": "http_requests_total + ignoring(code) http_requests_total", "time": T0 + 60},
            422,
            "execution",
            "many-to-many",
        ),
    ],
)
def test_errors_in_prometheus_envelope(
    prom: ServerProcess, path: str, params: dict, status: int, kind: str, message: str
) -> None:
    r = httpx.get(f"{api(prom)}/{path}", params=params)
    assert r.status_code == status
    body = r.json()
    assert body["status"] == "error" and body["errorType"] == kind
    assert message in body["error"] and "\n" not in body["error"]


def promtool(*args: str) -> object:
    if PROMTOOL is None:
        pytest.fail("promtool is not installed: run scripts/system-deps.sh")
    done = subprocess.run([PROMTOOL, "query", *args, "-o", "json"], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def test_promtool_query_instant(prom: ServerProcess) -> None:
    got = promtool(
        "instant",
        "--time",
        str(T0 + 600),
        f"{prom.url}/prometheus",
        'increase(http_requests_total{code="200"}[1m])',
    )
    assert got == [{"metric": {"code": "200", "job": "api"}, "value": [T0 + 600, "40"]}]


def test_promtool_query_range(prom: ServerProcess) -> None:
    got = promtool(
        "range",
        "--start",
        str(T0 + 300),
        "--end",
        str(T0 + 360),
        "--step",
        "30s",
        f"{prom.url}/prometheus",
        "sum(http_requests_total) > 200",
    )
    assert got == [
        {"metric": {}, "values": [[T0 + 300, "220"], [T0 + 330, "242"], [T0 + 360, "264"]]}
    ]


# -- the same queries asked of a real Prometheus and of tracelake -------------------------

COMPARED = [
    "c_total",
    "rate(c_total[20s])",
    "increase(c_total[20s])",
    "irate(c_total[20s])",
    "sum by (kind) (rate(c_total[20s]))",
    "sum without (instance) (c_total)",
    "delta(g[20s])",
    "idelta(g[20s])",
    "changes(g[20s])",
    "avg_over_time(g[15s])",
    "max_over_time(g[15s])",
    "stddev_over_time(g[15s])",
    "quantile_over_time(0.3, g[15s])",
    "g > 3",
    "g * 2 - 1",
    "g > bool 3",
    "topk(1, c_total)",
    "count(c_total)",
    "avg(g)",
    "c_total / on (instance) group_left g",
    "rate(c_total[20s]) and on (kind) c_total > 5",
    "histogram_quantile(0.9, sum by (le) (rate(h_bucket[20s])))",
    "histogram_quantile(0.5, rate(h_bucket[20s]))",
    "c_total offset 10s",
    # Ties at the k-th place: which of the tied buckets stays is the heap's choice.
    'topk(2, 0 * h_bucket{le!="1.0"} or h_bucket{le="1.0"})',
    "sort_desc(g) or sort(c_total)",
]


def exporter() -> tuple[int, threading.Event]:
    """A real prometheus_client exporter whose metrics move while Prometheus scrapes."""
    registry = CollectorRegistry()
    counter = Counter("c", "requests", ["kind"], registry=registry)
    gauge = Gauge("g", "level", registry=registry)
    histogram = Histogram("h", "latency", buckets=(0.1, 0.5, 1.0), registry=registry)
    port = free_port()
    start_http_server(port, addr="127.0.0.1", registry=registry)
    stop = threading.Event()

    def move() -> None:
        rng = random.Random(3)
        while not stop.wait(0.1):
            counter.labels("a").inc(rng.randint(0, 5))
            counter.labels("b").inc(rng.random())
            gauge.set(rng.uniform(0, 10))
            histogram.observe(rng.expovariate(3))

    threading.Thread(target=move, daemon=True).start()
    return port, stop


@pytest.fixture
def forwarding(
    tmp_path: Path, server_factory: type[ServerProcess]
) -> Iterator[tuple[str, ServerProcess]]:
    """tracelake, and a real Prometheus scraping an exporter registered in tracelake's
    registry (found through its HTTP service discovery) every second and forwarding every
    sample to tracelake by remote_write; tracelake's own scraper is off, so every sample
    in the lake is one Prometheus has too."""
    ours = server_factory(tmp_path / "data", env={"TRACELAKE_SCRAPE_INTERVAL_S": "0"}).start()
    target, stop = exporter()
    # the SDK heartbeats, so the instance outlives the registry's lease
    registration = register("app", target, host="127.0.0.1", endpoint=ours.url)
    config = (
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: app\n"
        "    http_sd_configs:\n"
        f"      - url: {ours.url}/api/v1/registry/prometheus-sd\n"
        "        refresh_interval: 1s\n"
        "remote_write:\n"
        f"  - url: {ours.url}/prometheus/api/v1/write\n"
        "    queue_config:\n      batch_send_deadline: 1s\n"
    )
    try:
        with real_prometheus(tmp_path / "prometheus", config) as theirs:
            yield theirs, ours
    finally:
        registration.close()
        stop.set()


Samples = set[tuple[str, frozenset[tuple[str, str]], int, float]]


def raw_samples(url: str, at: float) -> Samples:
    """Every raw sample of the scrape job in the 10 minutes up to ``at``, exactly."""
    try:
        body = httpx.get(
            f"{url}/api/v1/query", params={"query": '{job="app"}[10m]', "time": at}
        ).json()
    except httpx.TransportError:
        return set()
    out = set()
    for series in body.get("data", {}).get("result", []):
        labels = dict(series["metric"])
        name = labels.pop("__name__")
        for t, v in series["values"]:
            out.add((name, frozenset(labels.items()), round(float(t) * 1000), float(v)))
    return out


def answers(url: str, query: str, at: float) -> dict[frozenset[tuple[str, str]], float]:
    body = httpx.get(f"{url}/api/v1/query", params={"query": query, "time": at}).json()
    assert body["status"] == "success", (url, query, body)
    return {
        frozenset(item["metric"].items()): float(item["value"][1])
        for item in body["data"]["result"]
    }


def test_queries_agree_with_a_real_prometheus_that_remote_writes_to_tracelake(
    forwarding: tuple[str, ServerProcess],
) -> None:
    prometheus, ours = forwarding
    deadline = time.monotonic() + 120  # discovery through HTTP SD comes first
    times: list[int] = []
    while time.monotonic() < deadline and len(times) < 36:
        time.sleep(1)
        theirs = raw_samples(prometheus, time.time())
        times = sorted(t for name, _, t, _ in theirs if name == "g")
    assert len(times) >= 36, "Prometheus did not scrape the exporter 36 times in two minutes"
    assert {dict(labels)["service"] for name, labels, _, _ in theirs if name == "g"} == {"app"}
    end = times[-1] / 1000
    want = raw_samples(prometheus, end)
    deadline = time.monotonic() + 30
    while raw_samples(f"{ours.url}/prometheus", end) != want and time.monotonic() < deadline:
        time.sleep(0.5)
    got = raw_samples(f"{ours.url}/prometheus", end)
    assert got == want, f"remote_write delivered {len(got)} of {len(want)} samples as scraped"
    first = times[0] / 1000
    # Between scrapes (never on a sample or a window edge, where Prometheus 2 and 3 differ)
    # and late enough that every window lies inside the scraped span.
    moments = [first + 25.5, first + 32.3, (first + end) / 2 + 0.4, end - 0.6]
    compared = 0
    for query in COMPARED:
        seen = 0
        for at in moments:
            theirs = answers(prometheus, query, at)
            mine = answers(f"{ours.url}/prometheus", query, at)
            assert mine.keys() == theirs.keys(), (query, at, mine, theirs)
            for key, value in theirs.items():
                assert mine[key] == pytest.approx(value, rel=1e-9, abs=1e-12), (query, at, key)
            seen += len(theirs)
        assert seen, f"{query} gave nothing at any moment: the comparison would be empty"
        compared += seen
    assert compared > 100


def test_format_query_and_empty_exemplars(prom: ServerProcess) -> None:
    pretty = httpx.post(f"{api(prom)}/format_query", data={"query": "sum(rate(x[5m]))by(job)"})
    assert pretty.json() == {"status": "success", "data": "sum by (job) (rate(x[5m]))"}
    exemplars = httpx.get(f"{api(prom)}/query_exemplars", params={"query": "x"}).json()
    assert exemplars == {"status": "success", "data": []}


def test_a_post_body_that_is_not_a_form_is_refused(prom: ServerProcess) -> None:
    r = httpx.post(f"{api(prom)}/query", json={"query": "1"})
    assert r.status_code == 400
    assert r.json()["errorType"] == "bad_data" and "x-www-form-urlencoded" in r.json()["error"]


def test_label_values_of_a_time_range_without_samples_are_empty(prom: ServerProcess) -> None:
    r = httpx.get(f"{api(prom)}/label/job/values", params={"start": T0 - 7200, "end": T0 - 3600})
    assert r.json() == {"status": "success", "data": []}


def test_a_query_past_its_time_limit_is_a_503_timeout(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    server = server_factory(tmp_path / "slow", env={"TRACELAKE_QUERY_TIMEOUT_S": "0.000001"})
    r = httpx.get(f"{api(server.start())}/query", params={"query": "1 + 1"})
    assert r.status_code == 503
    assert r.json()["errorType"] == "timeout" and "time limit" in r.json()["error"]


def test_label_names_without_a_selector(prom: ServerProcess) -> None:
    everything = httpx.get(f"{api(prom)}/labels").json()["data"]
    assert everything == ["__name__", "code", "job", "le"]
    before = httpx.get(f"{api(prom)}/labels", params={"start": T0 - 7200, "end": T0 - 3600})
    assert before.json()["data"] == []


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("query", {"query": "(" * 10_000 + "up" + ")" * 10_000}),
        ("query", {"query": "up" + " + up" * 5_000}),
        ("query", {"query": "sum(" * 400 + "up" + ")" * 400}),
        ("query_range", {"query": "-" * 10_000 + "up", "start": "0", "end": "60", "step": "15"}),
        ("format_query", {"query": "abs(" * 10_000 + "up" + ")" * 10_000}),
        ("series", {"match[]": "(" * 10_000 + "up" + ")" * 10_000}),
    ],
)
def test_a_query_nesting_too_deep_is_a_400_and_the_server_lives_on(
    prom: ServerProcess, path: str, params: dict[str, str]
) -> None:
    """Deep nesting segfaulted the Rust parser (the whole server died) or raised
    RecursionError: now it is 400 bad_data saying how deep a query may nest, refused
    before anything recurses, and the server answers the next query."""
    r = httpx.post(f"{api(prom)}/{path}", data=params, timeout=30)
    assert r.status_code == 400, r.text[:300]
    body = r.json()
    assert body["status"] == "error" and body["errorType"] == "bad_data"
    assert body["error"].startswith("query nests deeper than 100 levels: ")
    assert "\n" not in body["error"]
    assert httpx.post(f"{api(prom)}/query", data={"query": "1+1"}).json()["status"] == "success"


def test_a_label_replace_regex_too_deep_to_compile_is_a_400(prom: ServerProcess) -> None:
    """A regex of 3,000 '(' (Python's re recursed past its limit, a 500) is 400 bad_data."""
    regex = "(" * 3000 + ")" * 3000
    query = f'label_replace(http_requests_total, "a", "$1", "job", "{regex}")'
    r = httpx.post(f"{api(prom)}/query", data={"query": query, "time": str(T0 + 300)})
    assert r.status_code == 400
    assert r.json()["errorType"] == "bad_data" and "nests too deeply" in r.json()["error"]
