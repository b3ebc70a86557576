"""End to end: services publish order events through the SDK while the server is killed
with SIGKILL and restarted; every committed window equals a count of the raw events."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

import tests.conftest as harness
from tests.conftest import ServerProcess
from tracelake.sdk.events import configure_events, flush_events, publish_event

WINDOW_S = 2
# Longer than a restart plus the SDK's catch-up (up to ~8 s on a loaded machine), so the
# events a service queued while the server was down are late but not too late.
LATENESS_S = 15
CONFIG = f"""
[[continuous_queries]]
name = "orders_per_window"
source = "events"
filter = "type:order_placed"
window = "{WINDOW_S}s"
lateness = "{LATENESS_S}s"
group_by = ["payload.status"]
aggregates = ["count() as orders"]

[[continuous_queries]]
name = "orders_sliding"
source = "events"
filter = "type:order_placed"
window = "{2 * WINDOW_S}s"
slide = "{WINDOW_S}s"
lateness = "{LATENESS_S}s"
aggregates = ["count() as orders", "sum(payload.amount)"]
"""
US = 1_000_000


def sql(server: ServerProcess, statement: str, *params: Any) -> list[list[Any]]:
    response = httpx.post(
        f"{server.url}/api/v1/sql", json={"sql": statement, "params": list(params)}, timeout=30
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body["truncated"]
    return body["rows"]


class OrdersService(threading.Thread):
    """Publishes order_placed (and some other) events at a steady pace until stopped."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        configure_events(
            service="orders", endpoint=url, flush_interval=0.05, backoff_max=0.5, max_retries=100
        )
        self.stop = threading.Event()

    def run(self) -> None:
        rng = random.Random(7)
        n = 0
        while not self.stop.is_set():
            n += 1
            status = rng.choice(["paid", "paid", "failed", "pending"])
            publish_event("order_placed", {"status": status, "amount": n % 50}, key=f"o-{n}")
            if n % 5 == 0:
                publish_event("order_shipped", {"status": "paid"}, key=f"o-{n}")
            time.sleep(0.004)


def wait_for(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_kill_9_mid_stream_loses_no_window_and_counts_none_twice(
    server_factory: type[ServerProcess], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "tracelake.toml"
    config.write_text(CONFIG)
    server = server_factory(tmp_path / "data", extra_args=["--config", str(config)]).start()
    port = server.port
    monkeypatch.setattr(harness, "free_port", lambda: port)  # restarts keep the SDK's endpoint
    service = OrdersService(server.url)
    service.start()
    # two crashes, each after windows were committed, at different points of the cycle
    for pause in (LATENESS_S + 3.0, LATENESS_S + 2.3):
        time.sleep(pause)
        server.kill()
        server.start()
    time.sleep(4.0)
    service.stop.set()
    service.join()
    assert flush_events(30)
    stopped = time.time()

    # the last window holding an event closes, plus lateness, then is committed
    last_end = (int(stopped) // WINDOW_S + 1) * WINDOW_S
    wait_for(
        lambda: (
            sql(
                server,
                "SELECT count(*) FROM derived "
                "WHERE query = 'orders_per_window' AND epoch(window_end) >= ?",
                last_end,
            )[0][0]
            > 0
        ),
        timeout=LATENESS_S + 30,
    )
    server.kill()  # once more: the final check reads the lake after a crash too
    server.start()

    bucket = WINDOW_S * US
    raw = sql(  # the raw events counted per tumbling window and status, by DuckDB directly
        server,
        "SELECT epoch_us(timestamp) // ? * ?, json_extract_string(payload, '$.status'), count(*) "
        "FROM events WHERE type = 'order_placed' GROUP BY ALL",
        bucket,
        bucket,
    )
    assert sum(n for _, _, n in raw) > 1000
    derived = sql(
        server,
        "SELECT query, epoch_us(timestamp), epoch_us(window_end), labels, aggregate, value "
        "FROM derived ORDER BY 1, 2",
    )
    tumbling = [d for d in derived if d[0] == "orders_per_window"]
    first = min(d[1] for d in tumbling)

    # every window committed equals the raw count, per status, and appears once
    expected = Counter({(start, status): n for start, status, n in raw if start >= first})
    got: Counter[tuple[int, str]] = Counter()
    for _, start, end, labels, aggregate, value in tumbling:
        assert end - start == WINDOW_S * US and aggregate == "orders"
        key = (start, orjson.loads(labels)["status"])
        assert key not in got, f"window {key} committed twice"
        got[key] = int(value)
    assert got == expected  # also: no window with events is missing

    # sliding windows: each covers two tumbling windows, committed once each
    sliding = {}
    for query, start, _end, _labels, aggregate, value in derived:
        if query == "orders_sliding" and aggregate == "orders":
            assert start not in sliding
            sliding[start] = int(value)
    assert len(sliding) > 5
    per_bucket: Counter[int] = Counter()
    for start, _status, n in raw:
        per_bucket[start] += n
    for start, count in sliding.items():
        assert count == per_bucket[start] + per_bucket[start + bucket], f"sliding window {start}"

    # the metrics table holds each window's value exactly once, at the window's end
    samples = sql(
        server,
        "SELECT epoch_us(timestamp), labels, value FROM metrics "
        "WHERE name = 'tracelake_cq_orders_per_window_orders'",
    )
    seen = Counter((ts, labels) for ts, labels, _ in samples)
    assert max(seen.values()) == 1
    assert {
        (ts - WINDOW_S * US, orjson.loads(lb)["status"]): int(v) for ts, lb, v in samples
    } == dict(got)
