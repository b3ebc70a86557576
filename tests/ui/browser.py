"""Driving Debian's chromium with Playwright against the real server process.

Only ``/usr/bin/chromium`` (or ``$TRACELAKE_CHROMIUM``) is used: Playwright's own browser
downloads are never needed. Browser test modules call ``require_chromium()`` first so
they skip cleanly on a machine without it.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import orjson
import pytest

from tests.conftest import ServerProcess

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path(os.environ.get("TRACELAKE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1440, "height": 900}


@contextlib.contextmanager
def shared_server(data_dir: Path, *extra_args: str) -> Iterator[ServerProcess]:
    """A server for every test of a module (module-scoped fixtures), stopped at the end."""
    server = ServerProcess(data_dir, extra_args=list(extra_args)).start()
    try:
        yield server
    finally:
        server.stop()


def require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need chromium at {CHROMIUM}", allow_module_level=True)


class Served(Protocol):
    """What a tab needs of a server: where its UI is (a test server, or the demo's)."""

    @property
    def url(self) -> str: ...


@dataclass
class UI:
    """A browser tab on the UI of one server, with everything it complained about."""

    page: Page
    server: Served
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def open(self, route: str = "#/logs") -> Page:
        self.page.goto(f"{self.server.url}/{route}")
        return self.page

    def post_logs(self, records: list[dict[str, Any]]) -> None:
        body = b"\n".join(orjson.dumps(r) for r in records)
        answer = httpx.post(f"{self.server.url}/api/v1/logs", content=body).json()
        assert answer["accepted"] == len(records), answer

    def screenshot(self, directory: Path, name: str, **kwargs: Any) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(directory / f"{name}.png"), **kwargs)


SERVICES = ["checkout", "payments", "auth", "inventory", "gateway"]
HOSTS = ["web-1", "web-2", "web-3"]
LEVELS = ["INFO"] * 10 + ["DEBUG"] * 4 + ["WARN"] * 3 + ["ERROR"] * 2 + ["TRACE"]
MESSAGES = {
    "TRACE": ["enter handler GET /api/cart"],
    "DEBUG": ["cache hit for cart:{n}", "retrying request attempt=2", "pool size 8/32"],
    "INFO": ["GET /api/orders/{n} 200", "order {n} placed", "user login ok", "payment accepted"],
    "WARN": ["slow query took {n} ms", "connection pool at 90%", "retry budget low"],
    "ERROR": [
        "payment timed out after 3000 ms",
        "upstream connection reset by peer",
        'Traceback (most recent call last):\n  File "pay.py", line 12, in charge\n'
        "TimeoutError: bank did not answer",
    ],
}


def sample_logs(count: int = 400, *, seed: int = 7, minutes: float = 50.0) -> list[dict[str, Any]]:
    """Believable logs over the last ``minutes``: services, hosts, levels, attributes, traces."""
    rng = random.Random(seed)
    now = time.time()
    out = []
    for i in range(count):
        level = rng.choice(LEVELS)
        service = rng.choice(SERVICES)
        record: dict[str, Any] = {
            "@timestamp": round(now - 5 - rng.random() ** 0.7 * minutes * 60, 6),
            "service": service,
            "host": rng.choice(HOSTS),
            "level": level,
            "logger": f"{service}.{rng.choice(['http', 'db', 'worker'])}",
            "message": rng.choice(MESSAGES[level]).format(n=rng.randint(100, 9999)),
            "http": {
                "method": rng.choice(["GET", "GET", "POST"]),
                "status": rng.choice([200] * 6 + [201, 404, 500]),
            },
            "latency_ms": rng.randint(2, 3200),
            "region": rng.choice(["eu-west-1", "us-east-1"]),
        }
        if i % 3 == 0:
            record["trace_id"] = f"{rng.getrandbits(128):032x}"
            record["span_id"] = f"{rng.getrandbits(64):016x}"
        out.append(record)
    return out
