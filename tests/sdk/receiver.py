"""A real local HTTP intake for the SDK tests, speaking the server's logs contract.

A ``ThreadingHTTPServer`` in a thread records every POST (gzip NDJSON) and answers as
``POST /api/v1/logs`` does; tests script other answers (503, 413 …) or stall it.
"""

from __future__ import annotations

import collections
import contextlib
import gzip
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    lines: list[bytes]
    client: tuple[str, int]
    at: float


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None


class Receiver:
    """A ThreadingHTTPServer in a thread, recording every POST it gets."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.script: collections.deque[Answer] = collections.deque()
        self.max_lines: int | None = None  # answer 413 above this many lines
        self.stalled = threading.Event()  # while set, requests wait for `release`
        self.release = threading.Event()
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.stalled.is_set():
                    receiver.release.wait(30)
                body = gzip.decompress(raw) if self.headers["Content-Encoding"] == "gzip" else raw
                lines = body.splitlines()
                with receiver.changed:
                    receiver.requests.append(
                        Received(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            lines,
                            self.client_address,
                            time.monotonic(),
                        )
                    )
                    receiver.changed.notify_all()
                if receiver.script:
                    answer = receiver.script.popleft()
                elif receiver.max_lines is not None and len(lines) > receiver.max_lines:
                    answer = Answer(413, body={"error": "payload too large"})
                else:
                    answer = Answer()
                if answer.body is None and answer.status == 200:
                    answer.body = {"accepted": len(lines), "rejected": 0, "errors": []}
                data = json.dumps(answer.body or {}).encode()
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client may have given up
                    self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def lines(self) -> list[bytes]:
        return [line for r in self.requests for line in r.lines]

    def wait_lines(self, n: int, timeout: float = 5.0) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.lines) >= n, timeout)

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    @property
    def objects(self) -> list[dict[str, Any]]:
        """Every record received, decoded, in arrival order."""
        return [json.loads(line) for line in self.lines]

    @property
    def headers(self) -> list[dict[str, str]]:
        """The headers of each request, lower-cased names."""
        return [r.headers for r in self.requests]
