"""Prometheus remote_write into the lake, against the real server and a real Prometheus."""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import snappy

from tests.conftest import ServerProcess
from tests.prometheus import real_prometheus
from tracelake.ingest.decoders.prompb import WriteRequest
from tracelake.ingest.decoders.sample_rows import STALE_NAN

pytestmark = pytest.mark.e2e

WRITE = "/prometheus/api/v1/write"
HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(Path(tmp_path_factory.mktemp("rw")) / "data").start()
    yield server
    server.stop()


def sql(server: ServerProcess, query: str, params: list[Any] | None = None) -> list[list[Any]]:
    r = httpx.post(f"{server.url}/api/v1/sql", json={"sql": query, "params": params or []})
    assert r.status_code == 200, r.text
    rows: list[list[Any]] = r.json()["rows"]
    return rows


def wait_rows(server: ServerProcess, query: str, params: list[Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = sql(server, query, params)
        if rows:
            return rows
        time.sleep(0.5)
    raise AssertionError(f"no rows for {query} {params} in {timeout} s")


def body(*series: tuple[dict[str, str], list[tuple[int, float]]]) -> bytes:
    message = WriteRequest()
    for labels, samples in series:
        ts = message.timeseries.add()
        for name, value in sorted(labels.items()):
            ts.labels.add(name=name, value=value)
        for ms, value in samples:
            ts.samples.add(timestamp=ms, value=value)
    return bytes(snappy.compress(message.SerializeToString()))


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs the prometheus package")
def test_a_real_prometheus_scrapes_and_forwards_samples_by_remote_write(
    lake: ServerProcess, tmp_path: Path
) -> None:
    """Prometheus scrapes tracelake's own /metrics and remote-writes what it got back to it."""
    target = lake.url.removeprefix("http://")
    config = f"""
global:
  scrape_interval: 1s
  external_labels: {{replica: r1}}
scrape_configs:
  - job_name: tracelake-self
    static_configs: [{{targets: ["{target}"]}}]
remote_write:
  - url: {lake.url}{WRITE}
    queue_config: {{batch_send_deadline: 1s, max_samples_per_send: 500}}
"""
    with real_prometheus(tmp_path / "prometheus", config):
        rows = wait_rows(
            lake,
            "SELECT labels, value, service FROM metrics WHERE name = ? LIMIT 1",
            ["up"],
        )
        labels, value, service = rows[0]
        assert orjson.loads(labels) == {
            "instance": target,
            "job": "tracelake-self",
            "replica": "r1",
        }
        assert value == 1.0 and service == "tracelake-self"
        # the server's own series arrived too, as counters and histogram buckets
        names = wait_rows(
            lake,
            "SELECT DISTINCT name FROM metrics WHERE name LIKE ? ORDER BY name",
            ["tracelake_%"],
        )
        found = {n for (n,) in names}
        assert "tracelake_ingest_bytes_total" in found or "tracelake_memtable_rows" in found
        accepted = wait_rows(
            lake,
            "SELECT value FROM metrics WHERE name = ? AND labels LIKE ? ORDER BY timestamp DESC LIMIT 1",
            ["tracelake_ingest_records_total", '%"input":"remote_write"%'],
        )
        assert accepted[0][0] > 0  # what tracelake counted of Prometheus's own writes
    assert "Failed to send batch" not in (tmp_path / "prometheus" / "prometheus.log").read_text()


def test_nan_infinity_and_stale_markers_are_stored(lake: ServerProcess) -> None:
    now = int(time.time() * 1000)
    r = httpx.post(
        f"{lake.url}{WRITE}",
        content=body(
            ({"__name__": "rw_special", "kind": "nan"}, [(now, math.nan)]),
            ({"__name__": "rw_special", "kind": "inf"}, [(now, math.inf)]),
            ({"__name__": "rw_special", "kind": "stale"}, [(now, STALE_NAN)]),
        ),
        headers=HEADERS,
    )
    assert r.status_code == 204, r.text
    assert r.headers["X-Prometheus-Remote-Write-Samples-Written"] == "3"
    rows = sql(
        lake,
        "SELECT labels, isnan(value), isinf(value) FROM metrics WHERE name = ? ORDER BY labels",
        ["rw_special"],
    )
    assert rows == [
        ['{"kind":"inf"}', False, True],
        ['{"kind":"nan"}', True, False],
        ['{"kind":"stale"}', True, False],
    ]


def test_invalid_series_answer_400_naming_them_and_the_good_ones_are_stored(
    lake: ServerProcess,
) -> None:
    now = int(time.time() * 1000)
    r = httpx.post(
        f"{lake.url}{WRITE}",
        content=body(
            ({"__name__": "rw_partial", "n": "1"}, [(now, 1.0)]),
            ({"job": "no-name"}, [(now, 2.0)]),
            ({"__name__": "rw_wide", **{f"l{i}": "v" for i in range(100)}}, [(now, 3.0)]),
        ),
        headers=HEADERS,
    )
    assert r.status_code == 400
    error = r.json()["error"]
    assert error.startswith("2 series rejected: series 2: no metric name")
    assert "series 3: 101 labels, over max_series_labels (64)" in error
    assert sql(lake, "SELECT value FROM metrics WHERE name = ?", ["rw_partial"]) == [[1.0]]


@pytest.mark.parametrize(
    ("content", "headers", "status", "message"),
    [
        (b"\x00garbage", HEADERS, 400, "not valid snappy"),
        (bytes(snappy.compress(b"\xff\xff\xff")), HEADERS, 400, "not a valid remote_write"),
        (b"\xff\xff\xff\xff\x7f", HEADERS, 413, "over the limit"),
        (
            b"",
            {
                **HEADERS,
                "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request",
            },
            415,
            "remote_write 1.0",
        ),
        (b"{}", {**HEADERS, "Content-Type": "application/json"}, 415, "unsupported Content-Type"),
        (b"", {**HEADERS, "Content-Encoding": "zstd"}, 400, "unsupported Content-Encoding"),
    ],
)
def test_bad_requests_get_clear_errors_and_the_server_keeps_serving(
    lake: ServerProcess, content: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    r = httpx.post(f"{lake.url}{WRITE}", content=content, headers=headers)
    assert r.status_code == status
    assert message in r.text
    assert httpx.get(f"{lake.url}/-/health").status_code == 200
