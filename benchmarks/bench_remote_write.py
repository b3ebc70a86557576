"""Prometheus remote_write into the real server process, durable (acked after fsync).

Bodies are what a Prometheus sends: snappy-compressed ``WriteRequest`` protobufs of
2,000 series with one sample each (``max_samples_per_send``), labels shaped like an
HTTP service's metrics, posted by concurrent clients (Prometheus's shards). Target:
200,000 samples/s on two cores.

The machine is shared, so beside samples/s this reports figures measured in the same
run: the ratio to snappy + protobuf's own parse of the same bodies (the floor any
decoder sits on), and the CPU seconds the server and its ingest workers spent per
million samples (read from /proc before and after the load), which moves much less
with other work on the cores than wall time does. Two cores at 100% for one second
are 2 CPU seconds, so 200,000 samples/s needs at most 10 CPU seconds per million.

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

from benchmarks.procstat import cpu_seconds
from tracelake.ingest.decoders.prompb import WriteRequest

SAMPLES_PER_REQUEST = 2000
BATCHES = int(os.environ.get("BENCH_RW_BATCHES", 400))
CLIENTS = 8  # Prometheus sends from up to max_shards queues at once
TARGET_SAMPLES_PER_S = 200_000
CORES = 2
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
        # a sample of 0 has no value field on the wire (proto3), as Prometheus sends it
        series.samples.add(value=0.0 if i % 10 == 0 else rng.random() * 1000, timestamp=now_ms)
    return bytes(snappy.compress(message.SerializeToString()))


def floor_rate(bodies: list[bytes]) -> tuple[float, float]:
    """snappy + protobuf's parse of ``bodies``: (samples/s, CPU seconds per million)."""
    cpu, started = time.process_time(), time.perf_counter()
    for body in bodies * 3:
        WriteRequest.FromString(snappy.uncompress(body))
    samples = 3 * len(bodies) * SAMPLES_PER_REQUEST
    return samples / (time.perf_counter() - started), (time.process_time() - cpu) * 1e6 / samples


def load(url: str, bodies: list[bytes], batches: int) -> tuple[int, int]:
    """Post ``batches`` bodies from ``CLIENTS`` threads; (samples sent, 503 retries)."""
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

    threads = [
        threading.Thread(target=client, args=(i, batches // CLIENTS)) for i in range(CLIENTS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sent[0], retries[0]


def run() -> dict[str, float]:
    bodies = [write_request(i) for i in range(8)]
    floor, floor_cpu = floor_rate(bodies)
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data", env={"TRACELAKE_WAL_FSYNC": "true"}).start()
        assert server.proc is not None
        url = f"{server.url}/prometheus/api/v1/write"
        try:
            load(url, bodies, 2 * len(bodies))  # warm-up: workers, connections, series caches
            cpu_before = cpu_seconds(server.proc.pid)
            client_before = time.process_time()
            started = time.perf_counter()
            sent, retries = load(url, bodies, BATCHES)
            elapsed = time.perf_counter() - started
            client_cpu = time.process_time() - client_before
            cpu_after = cpu_seconds(server.proc.pid)
            stored = httpx.post(
                f"{server.url}/api/v1/sql", json={"sql": "SELECT count(*) FROM metrics"}
            ).json()["rows"][0][0]
        finally:
            server.stop()
    assert stored >= sent, (stored, sent)
    server_cpu = cpu_after[server.proc.pid] - cpu_before[server.proc.pid]
    worker_cpu = sum(
        cpu_after[p] - cpu_before.get(p, 0.0) for p in cpu_after if p != server.proc.pid
    )
    per_million = 1e6 / sent
    cpu_per_million = (server_cpu + worker_cpu) * per_million
    rate = sent / elapsed
    return {
        "remote_write_samples_per_s": rate,
        "target_samples_per_s": float(TARGET_SAMPLES_PER_S),
        "ratio_to_target": rate / TARGET_SAMPLES_PER_S,
        "floor_snappy_protobuf_parse_per_s": floor,
        "ratio_to_parse_floor": rate / floor,
        "cpu_s_per_million_server": server_cpu * per_million,
        "cpu_s_per_million_workers": worker_cpu * per_million,
        "cpu_s_per_million_total": cpu_per_million,
        "cpu_s_per_million_parse_floor": floor_cpu,
        "cpu_s_per_million_clients": client_cpu * per_million,
        "ratio_cpu_to_parse_floor": cpu_per_million / floor_cpu,
        "samples_per_s_if_2_cores_were_ours": CORES * 1e6 / cpu_per_million,
        "cores_busy_server_and_workers": (server_cpu + worker_cpu) / elapsed,
        "retries_after_503": float(retries),
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:40} {value:>14,.2f}")
