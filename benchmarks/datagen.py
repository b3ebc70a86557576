"""Synthetic log lines like a fleet of web services writes them (~280 bytes each)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import orjson

SERVICES = ("gateway", "orders", "payments", "inventory", "users", "search", "auth", "billing")
LEVELS = ("INFO",) * 14 + ("DEBUG", "DEBUG", "WARN", "ERROR")
PATHS = ("/api/orders", "/api/users", "/api/cart", "/api/items", "/health", "/api/pay")


def log_lines(
    n: int, *, start: datetime | None = None, span_s: float = 3600.0, seed: int = 7
) -> list[bytes]:
    """``n`` NDJSON lines spread evenly over ``span_s`` seconds from ``start``."""
    rng = random.Random(seed)
    start = start or datetime.now(UTC) - timedelta(seconds=span_s)
    step = span_s / max(n, 1)
    lines = []
    trace = f"{rng.getrandbits(128):032x}"
    for i in range(n):
        if i % 6 == 0:
            trace = f"{rng.getrandbits(128):032x}"
        status = rng.choice((200, 200, 200, 201, 404, 500))
        latency = rng.randint(1, 900)
        lines.append(
            orjson.dumps(
                {
                    "@timestamp": (start + timedelta(seconds=i * step)).isoformat(
                        timespec="microseconds"
                    ),
                    "level": rng.choice(LEVELS),
                    "service": rng.choice(SERVICES),
                    "host": f"node-{rng.randint(1, 12):02d}",
                    "message": f"{rng.choice(('GET', 'POST'))} {rng.choice(PATHS)}/{rng.randint(1, 99999)} "
                    f"answered {status} in {latency} ms",
                    "trace_id": trace,
                    "span_id": f"{rng.getrandbits(64):016x}",
                    "latency_ms": latency,
                    "http": {"status": status},
                    "user_id": rng.randint(1, 5000),
                }
            )
        )
    return lines
