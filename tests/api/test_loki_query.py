"""Loki's query API against the real server, driven as Grafana's Loki data source does.

Lines arrive through Loki push (as Promtail sends them), timestamps from the clock.
Every answer is checked against the shapes Loki documents (``check_*`` below); the
sequence follows what Grafana sends: Save & test, version detection, the label browser,
the query size hint, a logs panel, a time-series panel, the logs volume histogram,
detected fields and live tail over a WebSocket.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.conftest import ServerProcess
from tests.security.kit import READ, TOKENS_TOML

S = 10**9
#: The lines sit in the last ten minutes before this moment.
NOW = time.time_ns()
SERIES_QUERY = 'sum by (service) (rate({service=~".+"} |= "error" [1m]))'
VOLUME_QUERY = (
    'sum by (level, detected_level) (count_over_time({service=~".+"} | drop __error__[1m]))'
)


def _lines() -> list[dict[str, Any]]:
    streams = []
    cart = [[str(NOW - i * 15 * S), f"error: timeout after {i}ms talking to db"] for i in range(40)]
    streams.append(
        {"stream": {"service_name": "cart", "level": "error", "env": "prod"}, "values": cart}
    )
    api = [
        [str(NOW - i * 10 * S - 3 * S), f'level=info msg="served" path=/p{i % 4} took={i}ms']
        for i in range(60)
    ]
    streams.append({"stream": {"service_name": "api", "level": "info"}, "values": api})
    web = [
        [
            str(NOW - i * 20 * S - 7 * S),
            orjson.dumps(
                {"msg": "error rendering" if i % 5 == 0 else "rendered", "ms": i}
            ).decode(),
            {"trace_id": f"{i + 1:032x}"},
        ]
        for i in range(30)
    ]
    streams.append({"stream": {"service_name": "web", "level": "warn"}, "values": web})
    return streams


@pytest.fixture(scope="module")
def loki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("loki") / "data").start()
    r = httpx.post(f"{server.url}/loki/api/v1/push", json={"streams": _lines()})
    assert r.status_code == 204, r.text
    yield server
    server.stop()


def window() -> dict[str, str]:
    """Grafana's time range: the last 15 minutes, as epoch nanoseconds."""
    return {"start": str(NOW - 15 * 60 * S), "end": str(NOW + S)}


def get(server: ServerProcess, path: str, **params: Any) -> Any:
    r = httpx.get(f"{server.url}/loki/api/v1/{path}", params=params, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


# --- Loki's documented shapes -----------------------------------------------------------


def check_stats(stats: dict[str, Any]) -> None:
    summary = stats["summary"]
    for key in ("totalBytesProcessed", "totalLinesProcessed", "totalEntriesReturned"):
        assert isinstance(summary[key], int)
    assert isinstance(summary["execTime"], float)


def check_labels(labels: Any) -> None:
    assert isinstance(labels, dict)
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in labels.items())


def check_query(body: Any, result_type: str) -> list[Any]:
    """``{"status":"success","data":{"resultType","result","stats"}}`` with each result
    in the form its type has."""
    assert body["status"] == "success"
    data = body["data"]
    assert data["resultType"] == result_type
    check_stats(data["stats"])
    result = data["result"]
    if result_type == "streams":
        for stream in result:
            check_labels(stream["stream"])
            for value in stream["values"]:
                ts, line = value[0], value[1]
                assert isinstance(ts, str) and ts.isdigit() and len(ts) == 19
                assert isinstance(line, str)
    elif result_type == "matrix":
        for series in result:
            check_labels(series["metric"])
            for t, v in series["values"]:
                assert isinstance(t, int | float) and isinstance(v, str)
                float(v)
    else:
        for sample in result:
            check_labels(sample["metric"])
            t, v = sample["value"]
            assert isinstance(t, int | float) and isinstance(v, str)
    return list(result)


def check_strings(body: Any) -> list[str]:
    assert body["status"] == "success"
    assert all(isinstance(x, str) for x in body["data"])
    return list(body["data"])


# --- the Grafana sequence -----------------------------------------------------------------


def test_save_and_test_and_version_detection(loki: ServerProcess) -> None:
    """The health check is an instant ``vector(1)+vector(1)`` expecting 2; then buildinfo."""
    body = get(loki, "query", query="vector(1)+vector(1)", time=str(NOW))
    assert [r["value"][1] for r in check_query(body, "vector")] == ["2"]
    info = get(loki, "status/buildinfo")
    assert info["version"].startswith("3.")
    ready = httpx.get(f"{loki.url}/loki/ready")
    assert ready.status_code == 200 and ready.text.strip() == "ready"


def test_the_label_browser(loki: ServerProcess) -> None:
    """labels, then values of one label, then the series of a selector."""
    names = check_strings(get(loki, "labels", **window()))
    assert {"service", "level", "env", "service_name"} <= set(names)
    assert check_strings(get(loki, "label/service/values", **window())) == ["api", "cart", "web"]
    assert check_strings(get(loki, "label/level/values", query='{service="cart"}', **window())) == [
        "error"
    ]
    body = get(loki, "series", **{"match[]": '{service=~"cart|web"}'}, **window())
    assert body["status"] == "success"
    assert body["data"] == [
        {"service": "cart", "level": "error"},
        {"service": "web", "level": "warn"},
    ]


def test_query_size_hint_and_volume(loki: ServerProcess) -> None:
    """index/stats (no envelope), index/volume and volume_range (Grafana's volume panel)."""
    stats = get(loki, "index/stats", query='{service="cart"}', **window())
    assert set(stats) == {"streams", "chunks", "entries", "bytes"}
    assert stats["entries"] == 40 and stats["streams"] == 1 and stats["bytes"] > 0
    vector = check_query(get(loki, "index/volume", query='{service=~".+"}', **window()), "vector")
    assert [r["metric"]["service"] for r in vector] == ["cart", "web", "api"] or len(vector) == 3
    ranged = get(loki, "index/volume_range", query='{service=~".+"}', step="60", **window())
    assert {s["metric"]["service"] for s in check_query(ranged, "matrix")} == {"api", "cart", "web"}


def test_a_logs_panel(loki: ServerProcess) -> None:
    """Grafana's logs query: backward, limit 1000, a step, nanosecond times."""
    body = get(
        loki,
        "query_range",
        query='{service="cart"} |= "timeout"',
        direction="backward",
        limit="1000",
        step="2000ms",
        **window(),
    )
    streams = check_query(body, "streams")
    values = [v for s in streams for v in s["values"]]
    assert len(values) == 40
    assert values[0][1] == "error: timeout after 0ms talking to db"
    assert streams[0]["stream"]["service"] == "cart" and streams[0]["stream"]["env"] == "prod"
    limited = check_query(
        get(loki, "query_range", query='{service="api"}', limit="5", **window()), "streams"
    )
    assert sum(len(s["values"]) for s in limited) == 5


def test_categorized_labels_as_loki_3_answers_them(loki: ServerProcess) -> None:
    """With categorize-labels, the stream is the stream labels and each entry carries its
    structured metadata and parsed labels."""
    r = httpx.get(
        f"{loki.url}/loki/api/v1/query_range",
        params={"query": '{service="web"} | json | ms = 0', **window()},
        headers={"X-Loki-Response-Encoding-Flags": "categorize-labels"},
    )
    data = r.json()["data"]
    assert data["encodingFlags"] == ["categorize-labels"]
    [stream] = data["result"]
    assert stream["stream"] == {"service": "web", "level": "warn"}
    [[_, line, extra]] = stream["values"]
    assert orjson.loads(line)["ms"] == 0
    assert extra["structuredMetadata"]["trace_id"] == f"{1:032x}"
    assert extra["parsed"] == {"msg": "error rendering", "ms": "0"}


def test_a_time_series_panel(loki: ServerProcess) -> None:
    """The panel's query as a matrix per service; values are lines per second."""
    body = get(loki, "query_range", query=SERIES_QUERY, step="60", **window())
    series = {s["metric"]["service"]: s["values"] for s in check_query(body, "matrix")}
    assert set(series) == {"cart", "web"}
    assert max(float(v) for _, v in series["cart"]) == pytest.approx(4 / 60)
    instant = get(loki, "query", query=SERIES_QUERY, time=str(NOW))
    assert {s["metric"]["service"] for s in check_query(instant, "vector")} == {"cart", "web"}


def test_the_logs_volume_histogram(loki: ServerProcess) -> None:
    """Grafana's volume query groups by level; counts add up to every line."""
    body = get(loki, "query_range", query=VOLUME_QUERY, step="60", **window())
    matrix = check_query(body, "matrix")
    assert {s["metric"]["level"] for s in matrix} == {"error", "info", "warn"}
    # windows of 1m at a 1m step tile the range: each line is counted once
    assert sum(float(v) for s in matrix for _, v in s["values"]) == 130


def test_detected_fields(loki: ServerProcess) -> None:
    """Fields of recent lines with a type, a cardinality and the parser that finds them."""
    body = get(loki, "detected_fields", query='{service="api"}', **window())
    fields = {f["label"]: f for f in body["fields"]}
    assert fields["took"]["type"] == "duration" and fields["took"]["parsers"] == ["logfmt"]
    assert fields["path"]["cardinality"] == 4


def test_the_data_source_url_ending_in_loki(loki: ServerProcess) -> None:
    """Grafana appends /loki/api/v1/... to the URL: http://host:7700/loki works too."""
    r = httpx.get(f"{loki.url}/loki/loki/api/v1/label/service/values", params=window())
    assert r.json()["data"] == ["api", "cart", "web"]


def test_refusals_are_one_plain_text_400(loki: ServerProcess) -> None:
    """Loki answers errors as a plain-text line; what is unsupported is named."""
    for query, words in (
        ('{service="cart"', "parse error at line 1, col 16"),
        ('{service="cart"} |= ip("10.0.0.1")', "not supported by tracelake's LogQL: the ip()"),
        ('{service="cart"} | line_format "{{range .x}}{{end}}"', "{{range}}"),
    ):
        r = httpx.get(f"{loki.url}/loki/api/v1/query_range", params={"query": query, **window()})
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith("text/plain")
        assert words in r.text
    r = httpx.get(f"{loki.url}/loki/api/v1/query", params={"query": '{service="cart"}'})
    assert r.status_code == 400 and "instant query" in r.text


def test_live_tail_over_a_websocket(loki: ServerProcess) -> None:
    """Grafana's live mode: recent lines first, then each new matching line as stored."""
    params = urlencode({"query": '{service="tailed"} |= "live"', "limit": 10, "start": NOW})
    url = loki.url.replace("http://", "ws://") + "/loki/api/v1/tail?" + params
    with connect(url) as ws:
        time.sleep(0.3)
        now = time.time_ns()
        values = [[str(now), "live one"], [str(now + 1), "dead one"]]
        pushed = {"streams": [{"stream": {"service_name": "tailed"}, "values": values}]}
        assert httpx.post(f"{loki.url}/loki/api/v1/push", json=pushed).status_code == 204
        frame = orjson.loads(ws.recv(timeout=10))
        [stream] = frame["streams"]
        assert stream["stream"]["service"] == "tailed"
        assert [v[1] for v in stream["values"]] == ["live one"]


def test_tail_needs_the_read_scope(tmp_path: Path) -> None:
    """The WebSocket upgrade is checked like every read route: no token, no stream."""
    server = ServerProcess(tmp_path / "data", env={"TRACELAKE_TOKENS": TOKENS_TOML}).start()
    try:
        url = server.url.replace("http://", "ws://") + "/loki/api/v1/tail?query=%7Ba%3D%22b%22%7D"
        with pytest.raises(InvalidStatus, match="403"):
            connect(url)
        authorized = connect(url, additional_headers={"Authorization": f"Bearer {READ}"})
        with authorized as ws, pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)  # open, and nothing to say yet
    finally:
        server.stop()


# --- agreement with the search language ---------------------------------------------------


def search(server: ServerProcess, q: str) -> dict[str, Any]:
    params = {"q": q, "from": str((NOW - 15 * 60 * S) // 10**6), "to": str((NOW + S) // 10**6)}
    r = httpx.get(f"{server.url}/api/v1/search", params={**params, "limit": "1000"})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_answers_agree_with_the_search_language(loki: ServerProcess) -> None:
    """The same lake gives the same lines and the same counts in both languages."""
    logql = get(
        loki, "query_range", query='{service=~".+"} |~ "(?i)error"', limit="1000", **window()
    )
    lines = sorted(v[1] for s in logql["data"]["result"] for v in s["values"])
    rows = search(loki, "error")["rows"]
    assert lines == sorted(r["message"] for r in rows) and len(lines) == 46
    counts = get(
        loki,
        "query",
        query='sum by (service) (count_over_time({service=~".+"} |~ "(?i)error" [16m]))',
        time=str(NOW + S),
    )
    by_logql = {r["metric"]["service"]: int(r["value"][1]) for r in counts["data"]["result"]}
    stats = search(loki, "error | stats count() by service")["rows"]
    assert by_logql == {r["service"]: r["count()"] for r in stats} == {"cart": 40, "web": 6}
