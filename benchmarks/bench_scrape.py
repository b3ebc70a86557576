"""Scraping a fleet: 200 targets of 1,000 series each, every 15 s, by the real server process.

One helper process serves all 200 fake targets (a minimal HTTP/1.1 responder per port,
each with its own 1,000-series exposition as prometheus_client writes it). The server
gets them as static ``scrape_targets`` and scrapes for ``BENCH_SCRAPE_ROUNDS`` intervals.
"Keeping up" means every target was scraped once per interval (no skipped ticks, every
``up`` is 1) and every sample is in the lake. Figures: scrapes and samples per second,
scrape duration, and the server's CPU use as a share of one core (the headroom).

Scale: ``BENCH_SCRAPE_TARGETS`` (200), ``BENCH_SCRAPE_INTERVAL`` (15 s),
``BENCH_SCRAPE_ROUNDS`` (4).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import ServerProcess

from benchmarks.procstat import total_cpu_seconds

TARGETS = int(os.environ.get("BENCH_SCRAPE_TARGETS", 200))
INTERVAL_S = float(os.environ.get("BENCH_SCRAPE_INTERVAL", 15))
ROUNDS = int(os.environ.get("BENCH_SCRAPE_ROUNDS", 4))
SERIES = 1000


def exposition(target: int) -> bytes:
    """1,000 series in 10 families, as a service instrumented with prometheus_client has."""
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    registry = CollectorRegistry()
    for family in range(10):
        gauge = Gauge(f"app_metric_{family}", "A family", ["route", "code"], registry=registry)
        for i in range(SERIES // 10):
            gauge.labels(f"/api/v1/items/{i}", str(200 + family)).set(target * 1000 + i)
    return generate_latest(registry)


def serve_fleet(count: int, ports: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """Serve ``count`` targets on free ports from this one process until killed."""

    async def main() -> None:
        bound = []
        for target in range(count):
            body = exposition(target)
            head = (
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body)
            )

            async def answer(
                reader: asyncio.StreamReader,
                writer: asyncio.StreamWriter,
                reply: bytes = head + body,
            ) -> None:
                try:
                    while await reader.readuntil(b"\r\n\r\n"):
                        writer.write(reply)
                        await writer.drain()
                except (asyncio.IncompleteReadError, ConnectionError):
                    writer.close()

            server = await asyncio.start_server(answer, "127.0.0.1", 0)
            bound.append(server.sockets[0].getsockname()[1])
        ports.put(bound)
        await asyncio.Event().wait()

    asyncio.run(main())


def sql(url: str, query: str, params: list[float]) -> list[list[float]]:
    answer = httpx.post(f"{url}/api/v1/sql", json={"sql": query, "params": params})
    rows: list[list[float]] = answer.json()["rows"]
    return rows


def run() -> dict[str, float]:
    ports: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()  # type: ignore[type-arg]
    fleet = multiprocessing.get_context("spawn").Process(target=serve_fleet, args=(TARGETS, ports))
    fleet.start()
    try:
        bound = ports.get(timeout=120)
        targets = ", ".join(f'"127.0.0.1:{p}"' for p in bound)
        with tempfile.TemporaryDirectory() as tmp:
            server = ServerProcess(
                Path(tmp) / "data",
                env={
                    "TRACELAKE_SCRAPE_TARGETS": f"{{fleet = [{targets}]}}",
                    "TRACELAKE_SCRAPE_INTERVAL_S": str(INTERVAL_S),
                },
            ).start()
            try:
                assert server.proc is not None
                time.sleep(INTERVAL_S)  # the first round: loops start, connections open
                cpu0, started = total_cpu_seconds(server.proc.pid), time.time()
                time.sleep(INTERVAL_S * ROUNDS)
                cpu = total_cpu_seconds(server.proc.pid) - cpu0
                window = [started, started + INTERVAL_S * ROUNDS]
                ((scrapes, ups, slowest, mean),) = sql(
                    server.url,
                    "SELECT count(*), sum(value) FILTER (WHERE name = 'up'), "
                    "max(value) FILTER (WHERE name = 'scrape_duration_seconds'), "
                    "avg(value) FILTER (WHERE name = 'scrape_duration_seconds') "
                    "FROM metrics WHERE name IN ('up', 'scrape_duration_seconds') "
                    "AND timestamp >= to_timestamp(?) AND timestamp < to_timestamp(?)",
                    window,
                )
                ((stored,),) = sql(
                    server.url,
                    "SELECT count(*) FROM metrics WHERE name LIKE 'app_metric_%' "
                    "AND timestamp >= to_timestamp(?) AND timestamp < to_timestamp(?)",
                    window,
                )
            finally:
                server.stop()
    finally:
        fleet.kill()
        fleet.join()
    scrapes = scrapes / 2  # up and scrape_duration_seconds: two rows per scrape
    expected = TARGETS * ROUNDS
    return {
        "targets": float(TARGETS),
        "interval_s": INTERVAL_S,
        "scrapes_expected": float(expected),
        "scrapes_done": scrapes,
        "scrapes_up": ups,
        "ratio_scrapes_done_to_expected": scrapes / expected,
        "samples_stored_per_s": stored / (INTERVAL_S * ROUNDS),
        "samples_needed_per_s": TARGETS * SERIES / INTERVAL_S,
        "scrape_duration_mean_ms": mean * 1000,
        "scrape_duration_max_ms": slowest * 1000,
        "server_cpu_share_of_one_core": cpu / (INTERVAL_S * ROUNDS),
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:40} {value:>14,.2f}")
