"""HTTP event ingest, durable (acked after fsync), against the real server process.

Target: at least 100,000 events/s. Batches of 5,000 events (~170 bytes: a type, a key,
a service, a payload of five fields) from concurrent clients, gzip'd as the SDK sends
them. The same run measures a plain orjson parse of the same body (the floor any
validation must sit on) and reports the ratio to it as well as events/s.
"""

from __future__ import annotations

import gzip
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import ServerProcess

BATCH = 5000
BATCHES = int(os.environ.get("BENCH_BATCHES", 200))
CLIENTS = 8
TARGET = 100_000
TYPES = ("order_placed", "order_paid", "order_shipped", "refund", "page_viewed")


def event_lines(n: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    now_us = int(time.time() * 1e6)
    return [
        orjson.dumps(
            {
                "type": rng.choice(TYPES),
                "key": f"o-{rng.randrange(10**6)}",
                "service": "orders",
                "timestamp": now_us - rng.randrange(60_000_000),
                "payload": {
                    "amount": round(rng.uniform(1, 500), 2),
                    "currency": "EUR",
                    "items": rng.randrange(1, 9),
                    "customer": f"c-{rng.randrange(10**5)}",
                    "express": rng.random() < 0.2,
                },
            }
        )
        for _ in range(n)
    ]


def floor_rate(body: bytes, n: int = 10) -> float:
    started = time.perf_counter()
    for _ in range(n):
        orjson.loads(b"[" + body.replace(b"\n", b",").rstrip(b",") + b"]")
    return BATCH * n / (time.perf_counter() - started)


def run() -> dict[str, float]:
    body = b"\n".join(event_lines(BATCH)) + b"\n"
    zipped = gzip.compress(body, 5)
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/x-ndjson"}
    floor = floor_rate(body)
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data", env={"TRACELAKE_WAL_FSYNC": "true"}).start()
        try:
            sent = [0]
            lock = threading.Lock()

            def client(n: int) -> None:
                with httpx.Client(timeout=60) as http:
                    for _ in range(n):
                        r = http.post(
                            f"{server.url}/api/v1/events", content=zipped, headers=headers
                        )
                        while r.status_code == 503:
                            time.sleep(float(r.headers.get("Retry-After", 1)))
                            r = http.post(
                                f"{server.url}/api/v1/events", content=zipped, headers=headers
                            )
                        assert r.status_code == 200 and not r.json()["rejected"], r.text
                        with lock:
                            sent[0] += r.json()["accepted"]

            httpx.post(f"{server.url}/api/v1/events", content=zipped, headers=headers)  # warm-up
            threads = [
                threading.Thread(target=client, args=(BATCHES // CLIENTS,)) for _ in range(CLIENTS)
            ]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
        finally:
            server.stop()
    rate = sent[0] / elapsed
    return {
        "http_events_per_s": rate,
        "target_events_per_s": TARGET,
        "ratio_to_target": rate / TARGET,
        "floor_orjson_loads_events_per_s": floor,
        "ratio_to_orjson_floor": rate / floor,
        "bytes_per_event_raw": len(body) / BATCH,
    }


if __name__ == "__main__":
    figures = run()
    for key, value in figures.items():
        print(f"{key:40} {value:>14,.2f}")
    sys.exit(0 if figures["http_events_per_s"] >= TARGET else 1)
