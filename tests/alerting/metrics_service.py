"""A stand-in service for the PromQL alerting test: Prometheus counters, failing on cue.

Run: ``python metrics_service.py``. It serves prometheus_client's ``/metrics`` on a free
port of 127.0.0.1, prints ``port N`` once listening, and handles one pretend request
every 50 ms: ``checkout_requests_total{status="200"}`` goes up while healthy;
``checkout_requests_total{status="503"}`` and ``checkout_errors_total{status="503"}``
while failing. A line ``fail`` or ``recover`` on stdin switches; ``quit`` (or end of
input) exits.

Why the counters and not log lines: a PromQL rule reads only what a scrape stored, so
this service says nothing to the server; the server has to come and get it.
"""

from __future__ import annotations

import sys
import threading
import time

from prometheus_client import Counter, start_http_server

REQUESTS = Counter("checkout_requests", "Requests handled, by status", ["status"])
ERRORS = Counter("checkout_errors", "Requests that failed, by status", ["status"])
FAILING_STATUS = "503"

failing = threading.Event()
stop = threading.Event()


def commands() -> None:
    for line in sys.stdin:
        word = line.strip()
        if word == "fail":
            failing.set()
        elif word == "recover":
            failing.clear()
        elif word == "quit":
            break
    stop.set()


def main() -> None:
    # Exported at 0 from the start, as a real service should: the first failure is then
    # an increase a rate() sees, not the birth of a series it cannot yet rate.
    ERRORS.labels(FAILING_STATUS)
    REQUESTS.labels("200")
    server, _ = start_http_server(0, addr="127.0.0.1")
    print(f"port {server.server_address[1]}", flush=True)
    threading.Thread(target=commands, daemon=True).start()
    while not stop.is_set():
        if failing.is_set():
            REQUESTS.labels(FAILING_STATUS).inc()
            ERRORS.labels(FAILING_STATUS).inc()
        else:
            REQUESTS.labels("200").inc()
        time.sleep(0.05)
    server.shutdown()


if __name__ == "__main__":
    main()
