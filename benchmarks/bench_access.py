"""What access control costs: the decision alone, and HTTP ingest with and without tokens.

The middleware runs on every request, so its cost matters most for small requests.
Two figures: the ``Guard.check`` of one bearer-token request (µs, in-process), and the
ratio of lines/s of durable NDJSON ingest in small (100-line) and normal (5,000-line)
batches against a server with three tokens to the same server with none, both started
here, interleaved, so the shared machine's noise hits both alike.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import ServerProcess
from tests.security.kit import INGEST, TOKENS_TOML

from benchmarks.datagen import log_lines
from tracelake.api.access import Guard
from tracelake.app import RULES
from tracelake.security.tokens import parse_tokens

CLIENTS = 4
ROUNDS = 2


def check_us(n: int = 200_000) -> float:
    tokens = parse_tokens([f"ingest:{INGEST}", "read:" + "r" * 40, "admin:" + "a" * 40])
    guard = Guard(tokens, rules=RULES)
    header = f"Bearer {INGEST}"
    t = time.perf_counter()
    for _ in range(n):
        guard.check("POST", "/api/v1/logs", authorization=header, host="127.0.0.1:7700")
    return (time.perf_counter() - t) / n * 1e6


def ingest_rate(server: ServerProcess, body: bytes, lines: int, requests: int, token: str) -> float:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    sent = [0]
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(timeout=60, headers=headers) as http:
            for _ in range(n):
                r = http.post(f"{server.url}/api/v1/logs", content=body)
                while r.status_code == 503:
                    time.sleep(float(r.headers.get("Retry-After", 1)))
                    r = http.post(f"{server.url}/api/v1/logs", content=body)
                assert r.status_code == 200, r.text
                with lock:
                    sent[0] += lines

    threads = [threading.Thread(target=client, args=(requests // CLIENTS,)) for _ in range(CLIENTS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sent[0] / (time.perf_counter() - started)


def run() -> dict[str, float]:
    out = {"guard_check_us": check_us()}
    with tempfile.TemporaryDirectory() as tmp:
        open_server = ServerProcess(Path(tmp) / "open").start()
        secured = ServerProcess(
            Path(tmp) / "secured", env={"TRACELAKE_TOKENS": TOKENS_TOML}
        ).start()
        try:
            for lines, requests in ((100, 2000), (5000, 120)):
                body = b"\n".join(log_lines(lines)) + b"\n"
                ingest_rate(open_server, body, lines, CLIENTS * 4, "")  # warm-up
                ingest_rate(secured, body, lines, CLIENTS * 4, INGEST)
                plain, guarded = [], []
                for i in range(ROUNDS * 2):  # alternate which goes first
                    if i % 2:
                        guarded.append(ingest_rate(secured, body, lines, requests, INGEST))
                        plain.append(ingest_rate(open_server, body, lines, requests, ""))
                    else:
                        plain.append(ingest_rate(open_server, body, lines, requests, ""))
                        guarded.append(ingest_rate(secured, body, lines, requests, INGEST))
                best_plain, best_guarded = max(plain), max(guarded)
                out[f"lines_per_s_{lines}_no_tokens"] = best_plain
                out[f"lines_per_s_{lines}_tokens"] = best_guarded
                out[f"ratio_tokens_to_none_{lines}_line_batches"] = best_guarded / best_plain
        finally:
            open_server.stop()
            secured.stop()
    return out


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:44} {value:>14,.2f}")
