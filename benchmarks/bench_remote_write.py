"""Prometheus remote_write into the real server process, durable (acked after fsync).

Bodies are what a Prometheus sends: snappy-compressed ``WriteRequest`` protobufs of
2,000 series with one sample each (``max_samples_per_send``), labels shaped like an
HTTP service's metrics, posted by concurrent clients (Prometheus's shards). Target:
200,000 samples/s. Baseline: snappy + protobuf's own parse of the same bodies in this
process, the floor any decoder sits on.

Scale with ``BENCH_RW_BATCHES`` (default 400 requests = 800,000 samples).
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import snappy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import ServerProcess

from tracelake.ingest.decoders.prompb import WriteRequest

SAMPLES_PER_REQUEST = 2000
BATCHES = int(os.environ.get("BENCH_RW_BATCHES", 400))
CLIENTS = 8  # Prometheus sends from up to max_shards queues at once
TARGET_SAMPLES_PER_S = 200_000
HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}


def write_request(seed: int) -> bytes:
    """2,000 series of a fleet's HTTP metrics, one sample each, as Prometheus sends them."""
    rng = random.Random(seed)
    message = WriteRequest()
    now_ms = int(time.time() * 1000)
    for i in range(SAMPLES_PER_REQUEST):
        series = message.timeseries.add()
        labels = {
            "__name__": rng.choice(
                ("http_requests_total", "http_request_duration_seconds_bucket", "process_cpu")
            ),
            "code": rng.choice(("200", "404", "500")),
            "instance": f"10.0.{seed}.{i % 50}:8000",
            "job": f"svc-{i % 12}",
            "method": rng.choice(("GET", "POST")),
            "path": f"/api/v1/orders/{i % 40}",
        }
        for name in sorted(labels):
            series.labels.add(name=name, value=labels[name])
        series.samples.add(value=rng.random() * 1000, timestamp=now_ms)
    return bytes(snappy.compress(message.SerializeToString()))


def floor_rate(bodies: list[bytes]) -> float:
    started = time.perf_counter()
    for body in bodies * 3:
        WriteRequest.FromString(snappy.uncompress(body))
    return 3 * len(bodies) * SAMPLES_PER_REQUEST / (time.perf_counter() - started)


def run() -> dict[str, float]:
    bodies = [write_request(i) for i in range(8)]
    floor = floor_rate(bodies)
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data", env={"TRACELAKE_WAL_FSYNC": "true"}).start()
        url = f"{server.url}/prometheus/api/v1/write"
        try:
            sent = [0]
            retries = [0]
            lock = threading.Lock()

            def client(index: int, n: int) -> None:
                with httpx.Client(timeout=60) as http:
                    for i in range(n):
                        body = bodies[(index + i) % len(bodies)]
                        r = http.post(url, content=body, headers=HEADERS)
                        while r.status_code == 503:  # Prometheus backs off and retries
                            with lock:
                                retries[0] += 1
                            time.sleep(float(r.headers.get("Retry-After", 1)))
                            r = http.post(url, content=body, headers=HEADERS)
                        assert r.status_code == 204, r.text
                        with lock:
                            sent[0] += SAMPLES_PER_REQUEST

            client(0, 4)  # warm-up: worker processes, connections
            sent[0] = 0
            threads = [
                threading.Thread(target=client, args=(i, BATCHES // CLIENTS))
                for i in range(CLIENTS)
            ]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
            stored = httpx.post(
                f"{server.url}/api/v1/sql", json={"sql": "SELECT count(*) FROM metrics"}
            ).json()["rows"][0][0]
        finally:
            server.stop()
    rate = sent[0] / elapsed
    assert stored >= sent[0], (stored, sent[0])
    return {
        "remote_write_samples_per_s": rate,
        "target_samples_per_s": float(TARGET_SAMPLES_PER_S),
        "ratio_to_target": rate / TARGET_SAMPLES_PER_S,
        "floor_snappy_protobuf_parse_per_s": floor,
        "ratio_to_parse_floor": rate / floor,
        "retries_after_503": float(retries[0]),
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:40} {value:>14,.2f}")
