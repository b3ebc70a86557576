"""Cost of ``/turbine.stream``: the server aggregating 50 instances' Hystrix streams at 2 Hz.

Why: a Turbine lives beside everything else the server does, so following a fleet must
cost a small part of one core. One lightweight process simulates the fleet (50 ports,
each a ``/hystrix.stream`` ticking every 500 ms with 3 commands and 1 thread pool made by
the SDK's own serialiser, counts changing every tick); a real server process is pointed
at them through a static cluster and one SSE client reads its cluster stream. The
server's CPU time (user + system, from /proc) over a measuring window, divided by the
window, is the figure; the target is under 0.20 of one core.

Run:  python benchmarks/bench_turbine.py [--instances 50] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import ServerProcess

from benchmarks.procstat import total_cpu_seconds
from tracelake.sdk.breaker import CircuitBreaker, HystrixStream, Isolation
from tracelake.sdk.breaker.registry import BreakerRegistry

TICK_S = 0.5
TARGET = 0.20


def _fleet_ticks() -> HystrixStream:
    registry = BreakerRegistry()
    for name in ("payments", "inventory"):
        CircuitBreaker(name, registry=registry, isolation=Isolation.SEMAPHORE, timeout=None)
    CircuitBreaker("users", registry=registry, timeout=1.0)  # THREAD: adds a thread pool
    return HystrixStream(registry)


async def _fleet(instances: int) -> None:
    """Serve ``instances`` Hystrix streams from this one process; print their ports."""
    stream = _fleet_ticks()
    breakers = stream.registry.breakers()
    writers: set[asyncio.StreamWriter] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream;charset=UTF-8\r\n"
            b"Cache-Control: no-cache\r\nConnection: close\r\n\r\n"
        )
        writers.add(writer)

    servers = [await asyncio.start_server(handle, "127.0.0.1", 0) for _ in range(instances)]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    print(orjson.dumps(ports).decode(), flush=True)
    i = 0
    while True:
        for b in breakers:  # counts move every tick, as under load
            for _ in range(1 + i % 3):
                b.call(int, 1)
        tick = stream.tick()
        for writer in list(writers):
            if writer.is_closing():
                writers.discard(writer)
                continue
            writer.write(tick)
        i += 1
        await asyncio.sleep(TICK_S)


def run(instances: int, seconds: float) -> dict[str, float]:
    fleet = subprocess.Popen(
        [sys.executable, __file__, "--fleet", str(instances)], stdout=subprocess.PIPE
    )
    try:
        assert fleet.stdout is not None
        ports = orjson.loads(fleet.stdout.readline())
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "tracelake.toml"
            entries = ", ".join(f'"127.0.0.1:{p}"' for p in ports)
            config.write_text(f"ingest_workers = 0\n[turbine_clusters]\nfleet = [{entries}]\n")
            server = ServerProcess(Path(tmp) / "data", extra_args=["--config", str(config)])
            server.start()
            try:
                return _measure(server, instances, seconds)
            finally:
                server.stop()
    finally:
        fleet.kill()
        fleet.wait()


def _measure(server: ServerProcess, instances: int, seconds: float) -> dict[str, float]:
    assert server.proc is not None
    latest: dict[str, int] = {}
    events = [0]
    stop = threading.Event()

    def read() -> None:
        url = f"{server.url}/turbine.stream?cluster=fleet"
        with httpx.stream("GET", url, timeout=httpx.Timeout(5.0, read=30.0)) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    event = orjson.loads(line[6:])
                    events[0] += 1
                    latest[event["name"]] = event.get("reportingHosts", 0)
                if stop.is_set():
                    return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 30
    while latest.get("payments") != instances:
        if time.monotonic() > deadline:
            raise RuntimeError(f"not all instances reporting: {latest}")
        time.sleep(0.1)
    time.sleep(2.0)  # settle
    cpu0, wall0, events0 = total_cpu_seconds(server.proc.pid), time.monotonic(), events[0]
    time.sleep(seconds)
    cpu1, wall1, events1 = total_cpu_seconds(server.proc.pid), time.monotonic(), events[0]
    stop.set()
    ratio = (cpu1 - cpu0) / (wall1 - wall0)
    return {
        "instances": instances,
        "reporting_hosts_seen": latest.get("payments", 0),
        "instance_events_per_s": instances * 4 / TICK_S,
        "cluster_events_out_per_s": (events1 - events0) / (wall1 - wall0),
        "server_cpu_share_of_one_core": ratio,
        "target_share": TARGET,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--fleet", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fleet:
        asyncio.run(_fleet(args.fleet))
        return 0
    out = run(args.instances, args.seconds)
    for key, value in out.items():
        print(f"{key:40} {value:>14,.3f}")
    return 0 if out["server_cpu_share_of_one_core"] < TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
