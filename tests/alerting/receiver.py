"""A real HTTP receiver of alert notifications: webhook or Alertmanager-shaped.

A ``ThreadingHTTPServer`` in a thread records the JSON body of every POST with its
path and the answer it gave; a test scripts answers (``fail_next(500)``) and waits for
bodies that match a predicate.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Delivery:
    path: str
    body: Any
    status: int
    at: float


class AlertReceiver:
    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.script: collections.deque[int] = collections.deque()
        self.retry_after: str | None = None  # sent with every failed answer when set
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.changed:
                    status = receiver.script.popleft() if receiver.script else 200
                    receiver.deliveries.append(
                        Delivery(self.path, json.loads(raw), status, time.monotonic())
                    )
                    receiver.changed.notify_all()
                data = b"{}" if status < 300 else b'{"error": "scripted failure"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if status >= 300 and receiver.retry_after is not None:
                    self.send_header("Retry-After", receiver.retry_after)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail_next(self, *statuses: int, retry_after: str | None = None) -> None:
        with self.changed:
            self.script.extend(statuses)
            self.retry_after = retry_after

    def accepted(self) -> list[Any]:
        """Bodies answered with 2xx, in arrival order."""
        with self.changed:
            return [d.body for d in self.deliveries if d.status < 300]

    def wait_for(self, match: Callable[[Any], bool], timeout: float = 30.0) -> Any:
        """The first accepted body that matches, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for d in self.deliveries:
                    if d.status < 300 and match(d.body):
                        return d.body
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [d.body for d in self.deliveries]
                    raise AssertionError(f"no matching notification in {timeout} s; got {seen}")
                self.changed.wait(left)


@contextmanager
def alert_receiver() -> Iterator[AlertReceiver]:
    receiver = AlertReceiver()
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
