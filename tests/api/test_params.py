"""Time, duration and step parameters: one checked parser for every read route.

Unit tests of ``api/params.py``; a Hypothesis sweep over the time parameters of every
route that takes one (the app in process, over httpx's ASGI transport) asserting that
no value gets a 5xx; and a spot check of the same against the real server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ServerProcess
from tracelake.api.params import check_millis, parse_time, step_seconds, unix_time
from tracelake.errors import BadRequest
from tracelake.server import Server
from tracelake.settings import Settings

RANGE = "1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"
TRACE = "ab" * 16


# -- the parsers --------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "-99999999999d",
        "+99999999w",
        "now-999999999d",
        "99999999999999999999",
        "9" * 400,
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "1969-12-31T23:59:59Z",
    ],
)
def test_a_time_outside_the_accepted_range_is_a_400_naming_the_parameter(value: str) -> None:
    """Relative, epoch and ISO times past 1970..9999 (which overflowed a datetime or a
    timedelta before) are a BadRequest that names the parameter and the range."""
    now = datetime.now(UTC)
    with pytest.raises(BadRequest) as exc:
        parse_time(value, "from", now)
    assert exc.value.message.startswith(f"from={value!r} is outside the accepted times")
    assert RANGE in exc.value.message
    # inside the range, the same forms are read (in UTC)
    assert parse_time("-15m", "from", now) == now - timedelta(minutes=15)
    end = parse_time("9999-12-31T23:59:59-00:00", "to", now)
    assert end == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) and end.tzinfo is UTC


@pytest.mark.parametrize(
    "value", ["1e18", "-1e18", "1e308", "-1", "253402300800", "0001-01-01T00:00:00Z"]
)
def test_a_prometheus_time_outside_the_range_is_a_400_in_prometheus_words(value: str) -> None:
    """Unix seconds and RFC 3339 outside 1970..9999 are refused as Prometheus words a bad
    parameter (the API module answers it as 400 bad_data)."""
    with pytest.raises(BadRequest) as exc:
        unix_time(value, "time", 0.0)
    assert exc.value.message.startswith(f'invalid parameter "time": "{value}" is outside')
    assert "0 to 253402300799" in exc.value.message


@pytest.mark.parametrize(
    "value", ["1e300", "99999999999999999999", "300000y", "9223372036854775807ms"]
)
def test_a_step_longer_than_the_range_is_a_400(value: str) -> None:
    """A step no range query can take (the parser's duration overflowed before) is refused;
    ordinary steps, in seconds or as durations, are read."""
    with pytest.raises(BadRequest, match=r'invalid parameter "step": .* is longer than'):
        step_seconds(value, "step")
    assert step_seconds("1m30s", "step") == 90.0
    assert step_seconds("15", "step") == 15.0
    with pytest.raises(BadRequest, match="cannot parse"):
        step_seconds("30s1m", "step")


def test_zipkin_milliseconds_past_the_range_are_a_400() -> None:
    """``endTs`` and ``lookback`` are bounded like every other time; what Zipkin checks
    itself (negative, not a number) is left to it."""
    with pytest.raises(BadRequest, match=r"endTs=99999999999999999999 is outside .* at most"):
        check_millis({"endTs": "99999999999999999999"}, "endTs")
    with pytest.raises(BadRequest, match=r"lookback=.* is outside"):
        check_millis({"lookback": "9" * 30}, "lookback", duration=True)
    check_millis({"endTs": str(int(time.time() * 1000))}, "endTs")
    check_millis({"endTs": "-5"}, "endTs")
    check_millis({"endTs": "soon"}, "endTs")


# -- every route, in process ----------------------------------------------------------


class InProcess:
    """The real app over a real store, asked through httpx's ASGI transport."""

    def __init__(self, data_dir: Path) -> None:
        settings = Settings.load(env={}, overrides={"data_dir": str(data_dir), "ingest_workers": 0})
        self.server = Server(settings)
        self.server.store.open()
        self.loop = asyncio.new_event_loop()
        transport = httpx.ASGITransport(app=self.server.app, raise_app_exceptions=False)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://tracelake")

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.client.request(method, path, **kwargs))

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()
        self.server.store.close()


def seed(app: InProcess | ServerProcess) -> None:
    """A log line, a span and a metric sample of now, so every route reaches its query."""
    now = time.time()
    post = (
        app.request
        if isinstance(app, InProcess)
        else lambda m, p, **kw: httpx.request(m, app.url + p, **kw)
    )
    log = {"message": "paid", "service": "checkout", "trace_id": TRACE}
    assert post("POST", "/api/v1/logs", content=orjson.dumps(log)).status_code == 200
    span = {
        "traceId": TRACE,
        "id": "cd" * 8,
        "name": "get /pay",
        "kind": "SERVER",
        "timestamp": int(now * 1e6),
        "duration": 1200,
        "localEndpoint": {"serviceName": "checkout"},
        "tags": {"http.method": "GET"},
    }
    assert post("POST", "/api/v2/spans", json=[span]).status_code == 202
    point = {"timeUnixNano": str(int(now * 1e9)), "asDouble": 1.0}
    metrics = {
        "resourceMetrics": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]
                },
                "scopeMetrics": [{"metrics": [{"name": "up", "gauge": {"dataPoints": [point]}}]}],
            }
        ]
    }
    assert post("POST", "/v1/metrics", json=metrics).status_code == 200


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    running = InProcess(tmp_path_factory.mktemp("params") / "data")
    seed(running)
    yield running
    running.close()


UNITS = ["ms", "s", "m", "h", "d", "w", "y"]
numbers = st.one_of(
    st.integers(-(10**25), 10**25).map(str),
    st.integers(10**15, 10**25).map(str),  # past int64 once in µs or ns
    st.floats().map(repr),
    st.sampled_from(
        [
            *("1e18", "-1e18", "1e308", "9" * 30, "-0", "253402300799", "253402300800"),
            *("0x10", "9223372036854775807", "9223372036854775808", str(int(time.time() * 1000))),
        ]
    ),
)
relative = st.builds(
    "{}{}{}".format,
    st.sampled_from(["", "-", "+", "now-", "now+"]),
    st.integers(0, 10**16),
    st.sampled_from(UNITS),
)
iso = st.one_of(
    st.builds(
        "{:04d}-{:02d}-01T00:00:00{}".format,
        st.integers(1, 9999),
        st.integers(1, 12),
        st.sampled_from(["Z", "+14:00", "-14:00", "", "+00:00", ".5Z"]),
    ),
    st.datetimes(timezones=st.timezones()).map(datetime.isoformat),
)
durations = st.builds("{}{}".format, st.integers(0, 10**20), st.sampled_from(UNITS))
#: Values past the ends of what a datetime, a timedelta or an int64 holds, in every
#: dialect: each is a 400 wherever a time, duration or step goes.
EDGES = [
    *("-99999999999d", "+99999999w", "now-999999999d", "100000000h", "99999999999999999999"),
    *("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1e18", "-1e18", "300000y"),
    *("9223372036854775807ms", "9999999999999999", "-62135596800"),
]
#: Zipkin's span durations (µs) are compared, never turned into times: any size is fine.
SPAN_DURATIONS = ("minDuration", "maxDuration")
time_values = st.one_of(
    st.sampled_from(EDGES), numbers, relative, iso, durations, st.text(max_size=12)
)

NOW = int(time.time())
#: Every read route that takes a time, duration or step: (path, fixed params, time params);
#: the fixed ones are good values, so one bad generated value is the only thing wrong.
ROUTES: list[tuple[str, dict[str, str], tuple[str, ...]]] = [
    ("/api/v1/search", {"q": "paid"}, ("from", "to")),
    ("/api/v1/search", {"q": "| stats count() by bin(1d)"}, ("from", "to")),
    ("/api/v1/traces/red", {}, ("from", "to")),
    (f"/api/v1/traces/{TRACE}/logs", {}, ("from", "to")),
    ("/prometheus/api/v1/query", {"query": "up"}, ("time",)),
    (
        "/prometheus/api/v1/query_range",
        {"query": "up", "start": str(NOW - 600), "end": str(NOW), "step": "60"},
        ("start", "end", "step"),
    ),
    ("/prometheus/api/v1/series", {"match[]": "up"}, ("start", "end")),
    ("/prometheus/api/v1/labels", {}, ("start", "end")),
    ("/prometheus/api/v1/label/job/values", {}, ("start", "end")),
    ("/api/v2/services", {}, ("endTs", "lookback")),
    ("/api/v2/spans", {"serviceName": "checkout"}, ("endTs", "lookback")),
    ("/api/v2/remoteServices", {"serviceName": "checkout"}, ("endTs", "lookback")),
    ("/api/v2/traces", {}, ("endTs", "lookback", "minDuration", "maxDuration")),
    ("/api/v2/dependencies", {"endTs": str(NOW * 1000)}, ("endTs", "lookback")),
    ("/api/v2/autocompleteKeys", {}, ("endTs", "lookback")),
    ("/api/v2/autocompleteValues", {"key": "http.method"}, ("endTs", "lookback")),
]
SWEEP = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


def check_answer(path: str, params: dict[str, str], r: httpx.Response, named: list[str]) -> None:
    """No 5xx; a 4xx is one line that names one of the route's time parameters (when
    ``named`` lists them), in Prometheus's envelope on its routes."""
    assert r.status_code < 500, f"{path} {params!r}: {r.status_code} {r.text[:300]}"
    message = r.text
    if path.startswith("/prometheus/"):  # Prometheus's envelope, whatever the answer
        body = r.json()
        assert body["status"] == ("success" if r.status_code == 200 else "error"), body
        if r.status_code == 400:
            assert body["errorType"] == "bad_data", body
        message = body.get("error", "")
    elif path.startswith("/api/v1/") and r.status_code >= 400:
        message = r.json()["error"]
    if r.status_code >= 400:
        assert message.strip() and "\n" not in message.strip(), message
        assert not named or any(name in message for name in named), f"{params!r}: {message}"


@pytest.mark.parametrize(
    ("path", "fixed", "names"), ROUTES, ids=[f"{p}{sorted(f)}" for p, f, _ in ROUTES]
)
def test_no_time_parameter_value_gets_a_5xx_on_any_route(
    app: InProcess, path: str, fixed: dict[str, str], names: tuple[str, ...]
) -> None:
    """Whatever a client puts in a route's time, duration or step parameters (huge and
    negative epochs, relative times of millions of years, offsets past year 9999, floats,
    garbage), the answer is 2xx or a one-line 4xx naming a parameter — in Prometheus's
    envelope there — and a value past the accepted times is always that 400."""

    @SWEEP
    @given(st.fixed_dictionaries({}, optional={name: time_values for name in names}))
    def sweep(chosen: dict[str, str]) -> None:
        params = {**fixed, **chosen}
        answer = app.request("GET", path, params=params)
        check_answer(path, params, answer, list(names) if chosen else [])
        if any(v in EDGES for n, v in chosen.items() if n not in SPAN_DURATIONS):
            assert answer.status_code == 400, f"{path} {params!r}: {answer.text[:300]}"

    for name in names:  # every edge in every parameter, then whatever Hypothesis finds
        for value in EDGES:
            sweep.hypothesis.inner_test({name: value})  # type: ignore[attr-defined]
    sweep()


@SWEEP
@given(
    st.sampled_from(["up @ {n}", "up offset {d}", "rate(up[{d}] @ {n})", "sum(up offset -{d})"]),
    numbers,
    durations,
)
def test_no_time_inside_a_promql_query_gets_a_5xx(
    app: InProcess, template: str, number: str, duration: str
) -> None:
    """``@`` times and ``offset``/range durations inside the query are times too: an out
    of range one is a 400 bad_data (the parser panicked or overflowed before)."""
    query = template.format(n=number, d=duration)
    for path, extra in (("/prometheus/api/v1/query", {}), ("/prometheus/api/v1/query_range", {})):
        now = time.time()
        if path.endswith("range"):
            extra = {"start": str(now - 600), "end": str(now), "step": "60"}
        params = {"query": query, **extra}
        check_answer(path, params, app.request("GET", path, params=params), [])


# -- the real server -------------------------------------------------------------------


SPOT = [
    ("/api/v1/search", {"from": "-99999999999d"}, "from="),
    ("/api/v1/search", {"to": "99999999999999999999"}, "to="),
    ("/api/v1/traces/red", {"from": "-99999999999d"}, "from="),
    (f"/api/v1/traces/{TRACE}/logs", {"to": "0001-01-01T00:00:00+14:00"}, "to="),
    ("/prometheus/api/v1/query", {"query": "up", "time": "1e18"}, 'parameter "time"'),
    ("/prometheus/api/v1/query", {"query": "up @ 99999999999999"}, "the @ modifier"),
    (
        "/prometheus/api/v1/query_range",
        {"query": "up", "start": "99999999999999999999", "end": "1", "step": "15"},
        'parameter "start"',
    ),
    (
        "/prometheus/api/v1/query_range",
        {"query": "up", "start": "0", "end": "60", "step": "300000y"},
        'parameter "step"',
    ),
    ("/prometheus/api/v1/series", {"match[]": "up", "end": "-1e18"}, 'parameter "end"'),
    ("/prometheus/api/v1/labels", {"start": "1e18"}, 'parameter "start"'),
    ("/api/v2/traces", {"endTs": "99999999999999999999"}, "endTs="),
    ("/api/v2/services", {"lookback": "9" * 30}, "lookback="),
]


def test_the_real_server_answers_out_of_range_times_with_a_400_naming_them(
    server: ServerProcess,
) -> None:
    """End to end over a socket: each out-of-range time is a 400 that names the parameter
    and the accepted range (bad_data in Prometheus's envelope), and the server serves on."""
    seed(server)
    for path, params, named in SPOT:
        r = httpx.get(server.url + path, params=params, timeout=30)
        assert r.status_code == 400, f"{path} {params}: {r.status_code} {r.text}"
        text = r.text
        if path.startswith("/prometheus/"):
            body = r.json()
            assert body["status"] == "error" and body["errorType"] == "bad_data"
            text = body["error"]
        elif not path.startswith("/api/v2/"):
            text = r.json()["error"]
        assert named in text and "\n" not in text, text
        assert "9999-12-31T23:59:59Z" in text, text
    assert httpx.get(f"{server.url}/-/health").status_code == 200
