"""HTTP NDJSON ingest, durable (acked after fsync), against the real server process.

Batches of 5,000 lines of ~280 bytes from concurrent clients. The same run measures
what a plain pyarrow NDJSON parse and a plain orjson parse of the same bytes achieve,
so the figure is reported as a ratio to that floor as well as in lines/s.
"""

from __future__ import annotations

import io
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson
import pyarrow.json as pj

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import ServerProcess

from benchmarks.datagen import log_lines

BATCH = 5000
BATCHES = int(__import__("os").environ.get("BENCH_BATCHES", 240))
CLIENTS = 8


def floor_rates(body: bytes) -> dict[str, float]:
    def rate(fn: object, n: int = 10) -> float:
        fn()  # type: ignore[operator]
        t = time.perf_counter()
        for _ in range(n):
            fn()  # type: ignore[operator]
        return BATCH * n / (time.perf_counter() - t)

    return {
        "pyarrow.json.read_json": rate(lambda: pj.read_json(io.BytesIO(body))),
        "orjson.loads per line": rate(lambda: [orjson.loads(x) for x in body.splitlines()]),
    }


def run() -> dict[str, float]:
    lines = log_lines(BATCH)
    body = b"\n".join(lines) + b"\n"
    floors = floor_rates(body)
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data", env={"TRACELAKE_WAL_FSYNC": "true"}).start()
        try:
            sent = [0]
            lock = threading.Lock()

            def client(n: int) -> None:
                with httpx.Client(timeout=60) as http:
                    for _ in range(n):
                        r = http.post(f"{server.url}/api/v1/logs", content=body)
                        while r.status_code == 503:
                            time.sleep(float(r.headers.get("Retry-After", 1)))
                            r = http.post(f"{server.url}/api/v1/logs", content=body)
                        assert r.status_code == 200, r.text
                        with lock:
                            sent[0] += r.json()["accepted"]

            httpx.post(f"{server.url}/api/v1/logs", content=body)  # warm-up
            threads = [
                threading.Thread(target=client, args=(BATCHES // CLIENTS,)) for _ in range(CLIENTS)
            ]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
            rss = _rss_mb(server)
        finally:
            server.stop()
    rate = sent[0] / elapsed
    out = {"http_ndjson_lines_per_s": rate, "server_rss_mb": rss}
    for name, floor in floors.items():
        out[f"ratio_to_{name}"] = rate / floor
    out.update({f"floor_{k}": v for k, v in floors.items()})
    out["bytes_per_line_raw"] = len(body) / BATCH
    return out


def _rss_mb(server: ServerProcess) -> float:
    assert server.proc is not None
    status = Path(f"/proc/{server.proc.pid}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:40} {value:>14,.2f}")
