"""The lake at scale, against the real server process.

Ingests N log lines (10 million by default; BENCH_LINES to change) spread over the
last 24 hours through ``POST /api/v1/logs`` while sampling the server's memory, then
times the searches of docs/performance.md (median of repeated runs) and reports the
stored bytes per line against the raw NDJSON. A baseline from the same run puts the
search figures in proportion: DuckDB's own ``count(*)`` over the same Parquet files.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import ServerProcess

from tracelake.schema import SCHEMAS
from tracelake.store.delta import LakeTable, Segment

LINES = int(os.environ.get("BENCH_LINES", 10_000_000))
BATCH = 5000
CLIENTS = 6
SPAN = timedelta(hours=24)
SERVICES = ("gateway", "orders", "payments", "inventory", "users", "search", "auth", "billing")
REGIONS = ("eu-west-1", "us-east-1", "ap-south-1", "eu-central-1")
TEMPLATES = (
    "GET /api/orders/{n} answered {status} in {ms} ms",
    "POST /api/pay/{n} answered {status} in {ms} ms",
    "cache miss for user {n}, loading from db took {ms} ms",
    "payment declined for order {n}: insufficient funds",
    "timeout calling bank after {ms} ms (order {n})",
    "inventory reserved {n} items in {ms} ms",
)


def make_bodies(n_lines: int, seed: int = 1) -> tuple[list[bytes], str]:
    """NDJSON bodies of BATCH lines, timestamps evenly over SPAN ending now."""
    rng = random.Random(seed)
    end = datetime.now(UTC)
    start_us = int((end - SPAN).timestamp() * 1e6)
    step = SPAN.total_seconds() * 1e6 / n_lines
    bodies = []
    trace = ""
    probe_trace = ""
    lines: list[bytes] = []
    dumps = orjson.dumps
    for i in range(n_lines):
        if i % 6 == 0:
            trace = f"{rng.getrandbits(128):032x}"
            if i == (n_lines // 3) // 6 * 6:
                probe_trace = trace
        status = rng.choice((200, 200, 200, 201, 404, 500))
        ms = rng.randint(1, 900)
        lines.append(
            dumps(
                {
                    "ts": (start_us + int(i * step)) // 1000,
                    "level": "ERROR" if status == 500 else "INFO",
                    "service": SERVICES[i % 8],
                    "host": f"node-{i % 12:02d}",
                    "message": TEMPLATES[i % 6].format(
                        n=rng.randint(1, 99999), status=status, ms=ms
                    ),
                    "trace_id": trace,
                    "span_id": f"{rng.getrandbits(64):016x}",
                    "latency_ms": ms,
                    "http": {"status": status, "method": "GET" if i % 3 else "POST"},
                    "client_ip": f"10.{i % 7}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                    "region": REGIONS[i % 4],
                }
            )
        )
        if len(lines) == BATCH:
            bodies.append(b"\n".join(lines))
            lines = []
    if lines:
        bodies.append(b"\n".join(lines))
    return bodies, probe_trace


def rss_mb(pid: int) -> float:
    """Resident memory of the server and its worker processes together."""
    total = 0.0
    for p in {pid, *_children(pid)}:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except FileNotFoundError:
            continue
    return total


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out += [int(c) for c in text]
    return out + [g for c in out for g in _children(c)]


def _gauges(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, _, value = line.partition(" ")
            out[name] = float(value)
    return out


def live_segments(lake: Path) -> list[Segment]:
    """The files of every table's newest Delta version: what the lake holds now, not the
    files compaction or retention removed that vacuum has not deleted yet. Read beside
    the running server, as any Delta reader may."""
    segments: list[Segment] = []
    for name in SCHEMAS:
        table = LakeTable(lake, name)
        table.open(create=False)
        segments += table.snapshot().segments
    return segments


def median_ms(url: str, params: dict[str, str], runs: int = 15) -> float:
    times = []
    with httpx.Client(timeout=120) as http:
        for _ in range(runs):
            t = time.perf_counter()
            r = http.get(f"{url}/api/v1/search", params=params)
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.text
    return statistics.median(times)


def run() -> dict[str, float]:
    print(f"generating {LINES:,} lines ...", file=sys.stderr)
    bodies, probe_trace = make_bodies(LINES)
    raw_bytes = sum(len(b) + 1 for b in bodies)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(
            Path(tmp) / "data", env={"TRACELAKE_COMPACTION_INTERVAL_S": "5"}
        ).start()
        assert server.proc is not None
        peak = [0.0]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], rss_mb(server.proc.pid))  # type: ignore[union-attr]
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        queue = list(reversed(bodies))
        lock = threading.Lock()

        def client() -> None:
            with httpx.Client(timeout=120) as http:
                while True:
                    with lock:
                        if not queue:
                            return
                        body = queue.pop()
                    while (
                        r := http.post(f"{server.url}/api/v1/logs", content=body)
                    ).status_code == 503:
                        time.sleep(float(r.headers.get("Retry-After", "1")))
                    assert r.status_code == 200, r.text

        print("ingesting ...", file=sys.stderr)
        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        done.set()
        out["ingest_lines_per_s"] = LINES / elapsed
        out["peak_server_rss_mb_while_ingesting"] = peak[0]

        # Let the flusher and compaction settle, as a server does between bursts: the
        # closed hours get compacted; the open hour (and the one just closed) may not.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            gauges = _gauges(httpx.get(f"{server.url}/metrics").text)
            if gauges["tracelake_memtable_rows"] == 0 and gauges["tracelake_segments_flushed"] <= 4:
                break
            time.sleep(1)
        out["settle_s"] = time.perf_counter() - started - elapsed
        stats = httpx.post(
            f"{server.url}/api/v1/sql", json={"sql": "SELECT count(*) FROM logs"}
        ).json()
        out["rows_stored"] = stats["rows"][0][0]
        lake = Path(tmp) / "data" / "lake"
        segments = live_segments(lake)
        segment_bytes = sum(s.bytes for s in segments)
        out["raw_ndjson_bytes_per_line"] = raw_bytes / LINES
        out["stored_bytes_per_line"] = segment_bytes / LINES
        out["stored_to_raw_ratio"] = segment_bytes / raw_bytes

        print("searching ...", file=sys.stderr)
        out["search_filter_and_word_last_hour_ms"] = median_ms(
            server.url,
            {"q": 'service:payments AND level:error "declined"', "from": "-1h", "limit": "100"},
        )
        out["stats_count_by_service_all_ms"] = median_ms(
            server.url, {"q": "| stats count() by service", "from": "-25h"}
        )
        out["trace_id_lookup_ms"] = median_ms(
            server.url, {"q": f"trace_id:{probe_trace}", "from": "-25h"}
        )
        files = [str(lake / s.path) for s in segments]
        con = duckdb.connect()
        t = time.perf_counter()
        for _ in range(5):
            con.execute(
                "SELECT service, count(*) FROM read_parquet(?) GROUP BY 1", [files]
            ).fetchall()
        out["baseline_duckdb_group_by_service_ms"] = (time.perf_counter() - t) / 5 * 1000
        out["stats_ratio_to_baseline"] = (
            out["stats_count_by_service_all_ms"] / out["baseline_duckdb_group_by_service_ms"]
        )
        t = time.perf_counter()
        for _ in range(5):
            con.execute(
                "SELECT * FROM read_parquet(?) WHERE trace_id = ?", [files, probe_trace]
            ).fetchall()
        out["baseline_duckdb_trace_lookup_ms"] = (time.perf_counter() - t) / 5 * 1000
        out["trace_lookup_ratio_to_baseline"] = (
            out["trace_id_lookup_ms"] / out["baseline_duckdb_trace_lookup_ms"]
        )
        out["segments"] = len(files)
        out["peak_server_rss_mb"] = max(peak[0], rss_mb(server.proc.pid))
        server.stop()
    return out


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:42} {value:>14,.2f}")
