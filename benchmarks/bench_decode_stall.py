"""Does decoding a huge body stall everyone else? Latency of ``/-/ready`` and of a small
search while 60 MiB Loki, OTLP-logs and ``_bulk`` bodies are being decoded.

Every table's job runs in the ingest worker processes, so the server's event loop only
moves bytes while a body is decoded: the probes should answer about as fast as on an
idle server. The figures are ratios of the probes' latency under load to the same
probes on the same server at rest, measured in this run (the machine is shared).

``--source DIR`` runs the server from another checkout (its ``src``), so the same run
compares a tree where some protocols decoded on the event loop.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import ServerProcess

BODY_BYTES = int(os.environ.get("BENCH_BODY_MB", 60)) << 20
PROBE_EVERY_S = 0.02

#: Makes a body of ``n`` lines stamped from ``now_ns``, and its headers.
Make = Callable[[int, int], tuple[bytes, dict[str, str]]]


LINE = "GET /api/orders/%d 200 12ms user=%d "


def _lines(now_ns: int, n: int, pad: int = 140) -> list[tuple[int, str]]:
    """``n`` log lines of about ``pad`` + 40 bytes."""
    line = LINE + "x" * pad
    return [(now_ns - i * 1000, line % (i, i % 977)) for i in range(n)]


def loki_body(now_ns: int, n: int) -> tuple[bytes, dict[str, str]]:
    values = [[str(t), text] for t, text in _lines(now_ns, n)]
    body = {"streams": [{"stream": {"service": "bulky", "level": "info"}, "values": values}]}
    return orjson.dumps(body), {"content-type": "application/json"}


def otlp_body(now_ns: int, n: int) -> tuple[bytes, dict[str, str]]:
    records = [
        {"timeUnixNano": str(t), "severityText": "INFO", "body": {"stringValue": text}}
        for t, text in _lines(now_ns, n)
    ]
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "bulky"}}]}
    body = {"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": records}]}]}
    return orjson.dumps(body), {"content-type": "application/json"}


def bulk_body(now_ns: int, n: int) -> tuple[bytes, dict[str, str]]:
    action = b'{"index":{"_index":"bulky"}}\n'
    docs = [
        action + orjson.dumps({"@timestamp": t // 1000, "message": text}) + b"\n"
        for t, text in _lines(now_ns, n, pad=600)  # _bulk takes at most 100,000 actions
    ]
    return b"".join(docs), {"content-type": "application/x-ndjson"}


def sized(make: Make, now_ns: int) -> tuple[bytes, dict[str, str]]:
    """The body of ``make`` with as many lines as fit in ``BODY_BYTES``."""
    n = 1000
    body, _ = make(now_ns, n)
    return make(now_ns, int(n * BODY_BYTES / len(body) * 0.99))


BODIES: dict[str, tuple[str, Make]] = {
    "loki": ("/loki/api/v1/push", loki_body),
    "otlp_logs": ("/v1/logs", otlp_body),
    "es_bulk": ("/es/_bulk", bulk_body),
}


def probe(url: str, stop: threading.Event) -> list[float]:
    """Latencies (s) of ``url`` asked every ``PROBE_EVERY_S`` until ``stop``."""
    seen = []
    with httpx.Client(timeout=120) as client:
        while not stop.is_set():
            t = time.perf_counter()
            client.get(url).raise_for_status()
            seen.append(time.perf_counter() - t)
            time.sleep(PROBE_EVERY_S)
    return seen


def measure(server: ServerProcess, load: Callable[[], None] | None, idle_s: float) -> dict:
    """Probe ``/-/ready`` and a search while ``load`` runs (or for ``idle_s`` at rest)."""
    urls = {
        "ready": f"{server.url}/-/ready",
        "search": f"{server.url}/api/v1/search?q=service:probe&limit=10",
    }
    stop = threading.Event()
    results: dict[str, list[float]] = {}

    def run(name: str, url: str) -> None:
        results[name] = probe(url, stop)

    threads = [threading.Thread(target=run, args=item) for item in urls.items()]
    for t in threads:
        t.start()
    if load is None:
        time.sleep(idle_s)
    else:
        load()
    stop.set()
    for t in threads:
        t.join()
    return {name: (statistics.median(seen), max(seen), len(seen)) for name, seen in results.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="run the server from this checkout")
    args = parser.parse_args()
    env = {"PYTHONPATH": str(args.source.resolve() / "src")} if args.source else {}
    now_ns = time.time_ns()
    bodies = {name: (path, sized(make, now_ns)) for name, (path, make) in BODIES.items()}
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data", env=env).start()
        try:
            httpx.post(f"{server.url}/api/v1/logs", content=b'{"service":"probe","message":"x"}')
            rest = measure(server, None, idle_s=5)
            print(f"server from {args.source or 'this checkout'}; bodies of {BODY_BYTES >> 20} MiB")
            print(
                f"{'at rest':>10}: ready median {rest['ready'][0] * 1e3:6.1f} ms "
                f"max {rest['ready'][1] * 1e3:7.1f} ms; "
                f"search median {rest['search'][0] * 1e3:6.1f} ms "
                f"max {rest['search'][1] * 1e3:7.1f} ms"
            )
            for name, (path, (body, headers)) in bodies.items():
                took: list[float] = []

                def load(
                    path: str = path, body: bytes = body, headers: dict = headers, took=took
                ) -> None:
                    t = time.perf_counter()
                    answer = httpx.post(
                        f"{server.url}{path}", content=body, headers=headers, timeout=300
                    )
                    took.append(time.perf_counter() - t)
                    answer.raise_for_status()

                got = measure(server, load, 0)
                print(
                    f"{name:>10}: ready median {got['ready'][0] * 1e3:6.1f} ms "
                    f"max {got['ready'][1] * 1e3:7.1f} ms "
                    f"({got['ready'][1] / rest['ready'][1]:5.1f}x rest); "
                    f"search median {got['search'][0] * 1e3:6.1f} ms "
                    f"max {got['search'][1] * 1e3:7.1f} ms "
                    f"({got['search'][1] / rest['search'][1]:5.1f}x rest); "
                    f"body taken in {took[0]:.1f} s"
                )
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
