"""TCP JSON lines and syslog over TCP, stored end to end, against the real server process.

Several client connections per format send pre-built bytes (logback-style JSON lines of
~280 bytes from ``datagen``; the same records as RFC 5424 syslog lines with the trace
ids in structured data, and as RFC 3164 lines) as fast as the socket takes them. The
clock stops when ``POST /api/v1/sql`` counts every line stored (WAL fsync'd, in the
memtable). The same run measures a plain ``orjson.loads`` loop over the same JSON lines,
so the figure is reported as a ratio to that floor as well as in lines/s.

Before the server starts, the worker's job (``frames_job``: decode, pipeline, Arrow
IPC) is timed in this process on the same lines in chunks of the listener's batch size;
each syslog figure is given as a ratio to the JSON-lines job of the same run, which the
machine's load changes alike.

    BENCH_LINES=400000 BENCH_CLIENTS=4 python benchmarks/bench_stream_ingest.py
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import ServerProcess

from benchmarks.datagen import log_lines
from tracelake.ingest.jobs import JobEnv, Limits
from tracelake.ingest.tables.logs import FrameFormat, Frames, frames_job
from tracelake.ingest.tcp import ListenerConfig
from tracelake.pipeline.config import Pipeline
from tracelake.settings import Settings

LINES = int(os.environ.get("BENCH_LINES", 400_000))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", 4))
UNIQUE = 20_000
_SEVERITY = {"DEBUG": 7, "INFO": 6, "WARN": 4, "ERROR": 3}


def syslog_lines(json_lines: list[bytes]) -> list[bytes]:
    """The same records as RFC 5424 lines (local4, structured data with the trace ids)."""
    out = []
    for raw in json_lines:
        o = orjson.loads(raw)
        pri = 20 * 8 + _SEVERITY[o["level"]]
        sd = f'[ctx@32473 trace_id="{o["trace_id"]}" span_id="{o["span_id"]}" user_id="{o["user_id"]}"]'
        stamp = o["@timestamp"].replace("+00:00", "Z")
        line = f"<{pri}>1 {stamp} {o['host']} {o['service']} 4242 req {sd} {o['message']}"
        out.append(line.encode())
    return out


def syslog3164_lines(json_lines: list[bytes]) -> list[bytes]:
    """The same records as BSD lines (``Mmm dd hh:mm:ss host app[pid]: msg``, UTC)."""
    out = []
    for raw in json_lines:
        o = orjson.loads(raw)
        pri = 20 * 8 + _SEVERITY[o["level"]]
        when = datetime.fromisoformat(o["@timestamp"])
        stamp = f"{when:%b} {when.day:2d} {when:%H:%M:%S}"
        out.append(f"<{pri}>{stamp} {o['host']} {o['service']}[4242]: {o['message']}".encode())
    return out


def job_micros(fmt: FrameFormat, lines: list[bytes], rounds: int = 7) -> float:
    """µs per line of the worker's job over ``lines`` in listener-sized chunks (best of)."""
    size = ListenerConfig().batch_size
    chunks = [lines[i : i + size] for i in range(0, len(lines), size)]
    limits = Limits.of(Settings.load(env={}))
    pipeline = Pipeline({})
    best = float("inf")
    for _ in range(rounds):
        t = time.process_time()
        for chunk in chunks:
            frames_job(Frames(fmt, chunk), JobEnv(limits, pipeline, int(time.time() * 1e6)))
        best = min(best, time.process_time() - t)
    return best / len(lines) * 1e6


def orjson_floor(lines: list[bytes], rounds: int = 5) -> float:
    """Lines/s of a plain ``orjson.loads`` loop over ``lines`` (best of ``rounds``)."""
    best = 0.0
    loads = orjson.loads
    for _ in range(rounds):
        t = time.perf_counter()
        for line in lines:
            loads(line)
        best = max(best, len(lines) / (time.perf_counter() - t))
    return best


def count_rows(server: ServerProcess) -> int:
    r = httpx.post(
        f"{server.url}/api/v1/sql", json={"sql": "SELECT count(*) FROM logs"}, timeout=60
    )
    r.raise_for_status()
    return int(r.json()["rows"][0][0])


def send_all(server: ServerProcess, listener: str, lines: list[bytes]) -> float:
    """Send ``LINES`` lines over ``CLIENTS`` connections; seconds until all are stored."""
    port = server.listener(listener)
    per_client = LINES // CLIENTS
    blob = b"\n".join(lines) + b"\n"
    reps, rest = divmod(per_client, len(lines))
    payload = blob * reps + b"\n".join(lines[:rest]) + (b"\n" if rest else b"")
    before = count_rows(server)
    expected = before + per_client * CLIENTS

    def client() -> None:
        with socket.create_connection(("127.0.0.1", port)) as s:
            view = memoryview(payload)
            for i in range(0, len(view), 1 << 20):
                s.sendall(view[i : i + (1 << 20)])

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    last, progress_at = before, time.perf_counter()
    while (n := count_rows(server)) < expected:
        if n != last:
            last, progress_at = n, time.perf_counter()
        elif time.perf_counter() - progress_at > 20:
            raise RuntimeError(f"{listener}: {n - before} of {expected - before} rows stored")
        time.sleep(0.05)
    return time.perf_counter() - started


def run() -> dict[str, float]:
    json_lines = log_lines(UNIQUE)
    sys_lines = syslog_lines(json_lines)
    bsd_lines = syslog3164_lines(json_lines)
    floor = orjson_floor(json_lines)
    out: dict[str, float] = {}
    json_job = job_micros("jsonlines", json_lines)
    out["jsonlines_job_us_per_line"] = json_job
    for name, lines in (("syslog5424", sys_lines), ("syslog3164", bsd_lines)):
        us = job_micros("syslog", lines)
        out[f"{name}_job_us_per_line"] = us
        out[f"{name}_job_ratio_to_jsonlines_job"] = us / json_job
        print(
            f"{name} job: {us:.2f} µs/line, {us / json_job:.2f}x the JSON-lines job",
            file=sys.stderr,
        )
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "data", env={"TRACELAKE_WAL_FSYNC": "true"}).start()
        try:
            for name, listener, lines in (
                ("jsonlines_tcp", "jsonlines/tcp", json_lines),
                ("syslog_tcp", "syslog/tcp", sys_lines),
                ("syslog3164_tcp", "syslog/tcp", bsd_lines),
            ):
                elapsed = send_all(server, listener, lines)
                rate = (LINES // CLIENTS * CLIENTS) / elapsed
                out[f"{name}_lines_per_s"] = rate
                out[f"{name}_ratio_to_orjson_loads"] = rate / floor
                out[f"{name}_bytes_per_line"] = sum(map(len, lines)) / len(lines) + 1
                print(f"{name}: {rate:,.0f} lines/s stored", file=sys.stderr)
        finally:
            server.stop()
    out["floor_orjson_loads_lines_per_s"] = floor
    out["lines_per_format"] = LINES // CLIENTS * CLIENTS
    out["clients_per_format"] = CLIENTS
    return out


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:40} {value:>14,.2f}")
