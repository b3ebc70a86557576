"""How much a log call costs a service: tracelake's formatter and handler vs python-json-logger.

Why: the SDK promises that formatting *and* enqueueing a record costs less than
python-json-logger's formatter alone. This script measures all of them side by side,
in one run, on identical records, and prints microseconds per record with the ratio
to ``python-json-logger``'s ``JsonFormatter.format``.

Rows:

* ``pjl JsonFormatter.format``: python-json-logger (stdlib json), configured for the
  same fields (ISO timestamp with microseconds, level, logger, message, thread name,
  service, host, extras). The baseline.
* ``pjl OrjsonFormatter.format``: the same with python-json-logger's orjson backend,
  for reference (when it is available).
* ``tracelake JSONFormatter.format``: ours, returning ``str`` like any formatter.
* ``tracelake TracelakeHandler.emit``: ours, format + enqueue. The worker ships to a
  discard receiver in a separate process between timed blocks of ``--block`` records,
  so what is timed is exactly what the logging thread pays.
* ``... emit, worker live``: the same with the worker shipping (gzip + HTTP)
  concurrently, i.e. including its share of the GIL.

Usage: ``python benchmarks/bench_sdk_logging.py [--n 20000] [--rounds 7] [--check]``.
Needs ``python-json-logger`` (a benchmark-only dependency) and optionally
``opentelemetry-sdk`` for the in-span scenario. ``--check`` exits 1 if ours is not
faster than the baseline.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import logging
import platform
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tracelake.sdk.logging import JSONFormatter, TracelakeHandler


def _load(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


# python-json-logger >= 3 (older versions only have the jsonlogger module).
PJLFormatter = _load("pythonjsonlogger.json", "JsonFormatter") or _load(
    "pythonjsonlogger.jsonlogger", "JsonFormatter"
)
if PJLFormatter is None:
    sys.exit("this benchmark needs python-json-logger: pip install python-json-logger")
PJLOrjson = _load("pythonjsonlogger.orjson", "OrjsonFormatter")  # needs orjson; >= 3.1


SERVICE = "checkout"
HOST = socket.gethostname()
PJL_FIELDS = "%(levelname)s %(name)s %(message)s %(threadName)s"

RECEIVER = textwrap.dedent(
    """
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Discard(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b'{"accepted": 0, "rejected": 0, "errors": []}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Discard)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """
)


@contextmanager
def discard_receiver() -> Iterator[str]:
    """A log intake in another process, so it takes no GIL from the benchmark."""
    proc = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(5)


def make_record(extra: bool) -> logging.LogRecord:
    logger = logging.getLogger("shop.checkout")
    fields = {"user_id": 4242, "cart_items": 3, "path": "/api/cart/checkout"} if extra else None
    return logger.makeRecord(
        logger.name,
        logging.INFO,
        __file__,
        42,
        "user %s paid %.2f EUR",
        ("alice", 99.5),
        None,
        func="pay",
        extra=fields,
    )


def format_round(fn: Callable[[], object], n: int) -> float:
    """µs per call of ``fn`` over ``n`` calls."""
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def emit_round(
    handler: TracelakeHandler, record: logging.LogRecord, n: int, block: int, live: bool
) -> float:
    """µs per ``emit``; unless ``live``, the worker ships only between timed blocks."""
    emit = handler.emit
    timed = 0.0
    done = 0
    while done < n:
        count = min(block, n - done)
        start = time.perf_counter()
        for _ in range(count):
            emit(record)
        timed += time.perf_counter() - start
        done += count
        if not live:
            handler.flush(10)
    if live:
        handler.flush(30)
    return timed / n * 1e6


def in_span() -> AbstractContextManager[object]:
    from opentelemetry.sdk.trace import TracerProvider

    return TracerProvider().get_tracer("bench").start_as_current_span("checkout")


def run(scenario: str, extra: bool, span: bool, endpoint: str, args: argparse.Namespace) -> float:
    static = {"service": SERVICE, "host": HOST}
    pjl = PJLFormatter(PJL_FIELDS, timestamp=True, static_fields=static)
    ours = JSONFormatter(SERVICE, host=HOST)
    handler = TracelakeHandler(
        endpoint, formatter=ours, batch_size=1000, queue_size=max(args.n, 10_000), warn=False
    )
    # Each contender gets its own record: python-json-logger adds attributes to it.
    rec_p, rec_o, rec_f, rec_h = (make_record(extra) for _ in range(4))
    n, block = args.n, args.block
    rounds: list[tuple[str, Callable[[], float]]] = [
        ("pjl JsonFormatter.format", lambda: format_round(lambda: pjl.format(rec_p), n)),
    ]
    if PJLOrjson is not None:
        pjlo = PJLOrjson(PJL_FIELDS, timestamp=True, static_fields=static)
        rounds.append(
            ("pjl OrjsonFormatter.format", lambda: format_round(lambda: pjlo.format(rec_o), n))
        )
    rounds += [
        ("tracelake JSONFormatter.format", lambda: format_round(lambda: ours.format(rec_f), n)),
        ("tracelake TracelakeHandler.emit", lambda: emit_round(handler, rec_h, n, block, False)),
        ("tracelake ... emit, worker live", lambda: emit_round(handler, rec_h, n, block, True)),
    ]
    results: dict[str, list[float]] = {name: [] for name, _ in rounds}
    try:
        with in_span() if span else nullcontext():
            # Round-robin, so a noisy neighbour slows every contender alike; round 0 warms up.
            for r in range(args.rounds + 1):
                for name, one_round in rounds:
                    cost = one_round()
                    if r:
                        results[name].append(cost)
        lost = handler.exporter.dropped + handler.exporter.failed
    finally:
        handler.close()
    costs = {name: statistics.median(values) for name, values in results.items()}
    base = costs["pjl JsonFormatter.format"]
    print(f"\n{scenario}")
    for name, cost in costs.items():
        print(f"  {name:<34} {cost:7.2f} µs/record   {cost / base:5.2f}x")
    if lost:
        print(f"  (handler lost {lost} records: queue too small for --n?)")
    return costs["tracelake TracelakeHandler.emit"] / base


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="records per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds (the median is shown)")
    parser.add_argument("--block", type=int, default=500, help="emits per timed block")
    parser.add_argument("--check", action="store_true", help="exit 1 unless emit < pjl format")
    args = parser.parse_args()

    versions = {name: importlib.metadata.version(name) for name in ("python-json-logger", "orjson")}
    print(
        f"Python {platform.python_version()} on {platform.machine()}, "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + f"; median of {args.rounds} rounds x {args.n} records; ratio vs pjl JsonFormatter"
    )
    try:
        import opentelemetry.sdk.trace  # noqa: F401

        have_otel = True
    except ImportError:
        have_otel = False

    ratios = []
    with discard_receiver() as endpoint:
        ratios.append(run("plain record (no extra fields)", False, False, endpoint, args))
        ratios.append(run("record with 3 extra fields", True, False, endpoint, args))
        if have_otel:
            ratios.append(
                run("3 extra fields, inside an OpenTelemetry span", True, True, endpoint, args)
            )
    if args.check and max(ratios) >= 1.0:
        print("\nFAIL: format + enqueue is not cheaper than python-json-logger's format")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
