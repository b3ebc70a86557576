"""Cost of tracelake.sdk.breaker next to pybreaker and circuitbreaker, in one run.

Why: a breaker sits on every call to a dependency, so its overhead on the happy path
and its behaviour under threads decide whether people can afford it. All figures are
measured in the same process, against a no-breaker baseline measured in the same run,
and printed as ratios to it, so they compare across machines.

Run:  python benchmarks/bench_breaker.py [--quick]
Needs: pybreaker and circuitbreaker for the comparison rows (skipped when missing).

Rows:
* sync/async overhead: a protected call that succeeds (a function returning a constant).
  tracelake runs with ``isolation=SEMAPHORE, timeout=None``, the configuration that is
  comparable to the other libraries (they have no bulkhead or timeout); the Hystrix
  default (THREAD isolation, 1 s timeout: one hop to a worker thread per call) is shown
  for reference.
* 8-thread throughput through one shared breaker vs. no breaker, for a call that waits
  on I/O (releases the GIL) and for a pure-Python call.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tracelake.sdk.breaker import CircuitBreaker, Isolation

try:
    import pybreaker
except ImportError:  # pragma: no cover - optional comparison
    pybreaker = None
try:
    import circuitbreaker
except ImportError:  # pragma: no cover - optional comparison
    circuitbreaker = None


def plain() -> int:
    return 1


async def aplain() -> int:
    return 1


def per_call_sync(fn: Callable[[], Any], n: int, repeat: int) -> float:
    """Best-of-``repeat`` seconds per call of ``fn`` over ``n`` calls."""
    best = float("inf")
    rng = range(n)
    for _ in range(repeat):
        gc.disable()
        t0 = time.perf_counter()
        for _ in rng:
            fn()
        dt = time.perf_counter() - t0
        gc.enable()
        best = min(best, dt)
    return best / n


def per_call_async(fn: Callable[[], Awaitable[Any]], n: int, repeat: int) -> float:
    """Best-of-``repeat`` seconds per awaited call, inside one running event loop."""

    async def drive() -> float:
        best = float("inf")
        rng = range(n)
        for _ in range(repeat):
            gc.disable()
            t0 = time.perf_counter()
            for _ in rng:
                await fn()
            dt = time.perf_counter() - t0
            gc.enable()
            best = min(best, dt)
        return best / n

    return asyncio.run(drive())


def throughput(fn: Callable[[], Any], threads: int, seconds: float) -> float:
    """Calls per second of ``threads`` threads calling ``fn`` for ``seconds``."""
    stop = threading.Event()
    counts = [0] * threads
    start = threading.Barrier(threads + 1)

    def work(i: int) -> None:
        start.wait()
        c = 0
        while not stop.is_set():
            for _ in range(50):
                fn()
            c += 50
        counts[i] = c

    ts = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in ts:
        t.join()
    return sum(counts) / (time.perf_counter() - t0)


def tracelake_fast(name: str) -> CircuitBreaker:
    return CircuitBreaker(
        name,
        isolation=Isolation.SEMAPHORE,
        timeout=None,
        max_concurrent_requests=1000,
        registry=None,
    )


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    args = parser.parse_args()
    n, repeat, seconds = (20_000, 3, 0.5) if args.quick else (200_000, 7, 2.0)

    print(f"python {sys.version.split()[0]}, {n} calls x best of {repeat}")

    # --- sync overhead ---------------------------------------------------------------
    sync: dict[str, Callable[[], Any]] = {"no breaker": plain}
    sync["tracelake (semaphore, no timeout)"] = tracelake_fast("bench-sync")(plain)
    if pybreaker is not None:
        sync["pybreaker"] = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60)(plain)
    if circuitbreaker is not None:
        sync["circuitbreaker"] = circuitbreaker.circuit(failure_threshold=5)(plain)
    default_cb = CircuitBreaker("bench-default", registry=None)
    sync["tracelake (Hystrix default: thread + 1 s timeout)"] = default_cb(plain)
    results = {
        name: per_call_sync(fn, n if "thread" not in name else n // 20, repeat)
        for name, fn in sync.items()
    }
    base = results["no breaker"]
    rows = [
        [name, f"{t * 1e9:,.0f}", f"{(t - base) * 1e6:.3f}", f"{t / base:.1f}x"]
        for name, t in results.items()
    ]
    table(
        "Sync call that succeeds",
        ["library", "ns/call", "overhead us", "vs no breaker"],
        rows,
    )

    # --- async overhead --------------------------------------------------------------
    asy: dict[str, Callable[[], Awaitable[Any]]] = {"no breaker": aplain}
    asy["tracelake (no timeout)"] = tracelake_fast("bench-async")(aplain)
    if circuitbreaker is not None:
        asy["circuitbreaker"] = circuitbreaker.circuit(failure_threshold=5)(aplain)
    asy["tracelake (1 s timeout, cancels)"] = CircuitBreaker(
        "bench-async-timeout", timeout=1.0, max_concurrent_requests=1000, registry=None
    )(aplain)
    aresults = {name: per_call_async(fn, n // 2, repeat) for name, fn in asy.items()}
    abase = aresults["no breaker"]
    arows = [
        [name, f"{t * 1e9:,.0f}", f"{(t - abase) * 1e6:.3f}", f"{t / abase:.1f}x"]
        for name, t in aresults.items()
    ]
    if pybreaker is not None:
        arows.append(["pybreaker", "n/a", "n/a", "no asyncio support"])
    table(
        "Async call that succeeds (awaited in a loop)",
        ["library", "ns/call", "overhead us", "vs no breaker"],
        arows,
    )

    # --- threads ---------------------------------------------------------------------
    def io_call() -> int:
        time.sleep(0.0002)  # a 200 us I/O wait: releases the GIL like a socket read
        return 1

    def cpu_call() -> int:
        return sum(range(20))

    trows: list[list[str]] = []
    for label, work in (("I/O-bound (200 us wait)", io_call), ("pure Python", cpu_call)):
        cands: dict[str, Callable[[], Any]] = {"no breaker": work}
        cands["tracelake"] = tracelake_fast(f"bench-thr-{label}")(work)
        if pybreaker is not None:
            cands["pybreaker"] = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60)(work)
        if circuitbreaker is not None:
            cands["circuitbreaker (not thread-safe)"] = circuitbreaker.circuit(failure_threshold=5)(
                work
            )
        single = throughput(work, 1, seconds / 2)
        measured = {name: throughput(fn, 8, seconds) for name, fn in cands.items()}
        tbase = measured["no breaker"]
        for name, rate in measured.items():
            trows.append([label, name, f"{rate:,.0f}", f"{rate / tbase:.2f}x"])
        trows.append([label, "(1 thread, no breaker)", f"{single:,.0f}", f"{single / tbase:.2f}x"])
    table(
        "8 threads through one breaker: calls/s",
        ["workload", "library", "calls/s", "vs no breaker"],
        trows,
    )

    ours = results["tracelake (semaphore, no timeout)"] - base
    print(f"\nsync overhead: tracelake {ours * 1e6:.3f} us", end="")
    for other in ("pybreaker", "circuitbreaker"):
        if other in results:
            print(f", {other} {(results[other] - base) * 1e6:.3f} us", end="")
    print()


if __name__ == "__main__":
    main()
