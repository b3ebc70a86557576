"""HTTP event ingest, durable (acked after fsync), against the real server process.

Target: at least 100,000 events/s. Batches of 5,000 events (~180 bytes: a type, a key,
a service, an epoch timestamp, a payload of five fields) from concurrent clients,
gzip'd as the SDK sends them.

The machine is shared, so two figures are reported beside events/s, both measured in
this run: the ratio to a plain ``orjson.loads`` of the same body (the floor any
validation sits on), and the CPU seconds the server and its ingest workers spent per
million events (read from /proc before and after the load), next to the CPU seconds
that plain parse costs per million.
"""

from __future__ import annotations

import gzip
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import ServerProcess

from benchmarks.procstat import cpu_seconds

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


def floor_rate(body: bytes, repeats: int = 7, n: int = 5) -> float:
    """Events per CPU second of one ``orjson.loads`` of the body as a JSON array: the
    median of ``repeats`` timings, in CPU time so that waiting for a core is left out."""
    array = b"[" + body.replace(b"\n", b",").rstrip(b",") + b"]"
    rates = []
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(n):
            orjson.loads(array)
        rates.append(BATCH * n / (time.process_time() - started))
    return statistics.median(rates)


def load(url: str, zipped: bytes) -> int:
    """``BATCHES`` requests from ``CLIENTS`` threads; returns the events stored."""
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/x-ndjson"}
    sent = [0]
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(timeout=60) as http:
            for _ in range(n):
                r = http.post(f"{url}/api/v1/events", content=zipped, headers=headers)
                while r.status_code == 503:
                    time.sleep(float(r.headers.get("Retry-After", 1)))
                    r = http.post(f"{url}/api/v1/events", content=zipped, headers=headers)
                assert r.status_code == 200 and not r.json()["rejected"], r.text
                with lock:
                    sent[0] += r.json()["accepted"]

    threads = [threading.Thread(target=client, args=(BATCHES // CLIENTS,)) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sent[0]


def run() -> dict[str, float]:
    body = b"\n".join(event_lines(BATCH)) + b"\n"
    zipped = gzip.compress(body, 5)
    floor = floor_rate(body)
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data", env={"TRACELAKE_WAL_FSYNC": "true"}).start()
        assert server.proc is not None
        try:
            for _ in range(4):  # warm-up: both workers import the decoder, connections open
                r = httpx.post(
                    f"{server.url}/api/v1/events",
                    content=zipped,
                    headers={"Content-Encoding": "gzip"},
                    timeout=60,
                )
                assert r.status_code == 200, r.text
            cpu_before = cpu_seconds(server.proc.pid)
            client_before = time.process_time()
            started = time.perf_counter()
            stored = load(server.url, zipped)
            elapsed = time.perf_counter() - started
            client_cpu = time.process_time() - client_before
            cpu_after = cpu_seconds(server.proc.pid)
        finally:
            server.stop()
    server_cpu = cpu_after[server.proc.pid] - cpu_before[server.proc.pid]
    worker_cpu = sum(
        cpu_after[p] - cpu_before.get(p, 0.0) for p in cpu_after if p != server.proc.pid
    )
    per_million = 1e6 / stored
    rate = stored / elapsed
    return {
        "http_events_per_s": rate,
        "target_events_per_s": TARGET,
        "ratio_to_target": rate / TARGET,
        "floor_orjson_loads_events_per_s": floor,
        "ratio_to_orjson_floor": rate / floor,
        "cpu_s_per_million_server": server_cpu * per_million,
        "cpu_s_per_million_workers": worker_cpu * per_million,
        "cpu_s_per_million_server_and_workers": (server_cpu + worker_cpu) * per_million,
        "cpu_s_per_million_orjson_floor": 1e6 / floor,
        "ratio_cpu_to_orjson_floor": (server_cpu + worker_cpu) * per_million * floor / 1e6,
        "cpu_s_per_million_clients": client_cpu * per_million,
        "bytes_per_event_raw": len(body) / BATCH,
    }


if __name__ == "__main__":
    figures = run()
    for key, value in figures.items():
        print(f"{key:40} {value:>14,.2f}")
    sys.exit(0 if figures["http_events_per_s"] >= TARGET else 1)
