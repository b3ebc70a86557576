"""A stand-in service for the alerting end-to-end tests: logs through the SDK, fails on cue.

Run: ``python checkout_service.py ENDPOINT``. Every 50 ms it logs one order through
``tracelake.sdk.logging`` to the tracelake server at ENDPOINT: ``INFO order placed``
while healthy, ``ERROR payment gateway timeout`` while failing. A line ``fail`` or
``recover`` on stdin switches; ``quit`` (or end of input) flushes and exits.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

from tracelake.sdk.logging import configure_logging

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


def main(endpoint: str) -> None:
    handler = configure_logging(
        "checkout", endpoint, console=False, flush_interval=0.05, max_retries=100
    )
    log = logging.getLogger("checkout.orders")
    threading.Thread(target=commands, daemon=True).start()
    n = 0
    while not stop.is_set():
        n += 1
        if failing.is_set():
            log.error("payment gateway timeout", extra={"order": n})
        else:
            log.info("order placed", extra={"order": n})
        time.sleep(0.05)
    handler.close()


if __name__ == "__main__":
    main(sys.argv[1])
