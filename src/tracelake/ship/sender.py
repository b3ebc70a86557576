"""One POST of a batch and what the answer means.

The server acknowledges a batch with 200 once its lines are in the fsync'd WAL. Anything
that says "not now" — no connection, a timeout, 429, 5xx, 503 with ``Retry-After`` — is
retried (forever: the spool holds what comes meanwhile); 400 means no line of the batch was
usable and 413 that the body is over the server's limit, which are answers, not outages.
``Client.send_logs`` blocks through 503s on its own and folds the status codes into one
error, so the agent talks HTTP itself. How long to wait between tries is
``tracelake.backoff``'s rule, shared with the SDK and the alert notifier.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from typing import Any

import httpx

from tracelake.backoff import parse_retry_after
from tracelake.ship.batcher import compress

#: The longest ``Retry-After`` the agent honours: its spool holds what comes meanwhile.
MAX_RETRY_AFTER_S = 300.0


class RetryLater(Exception):
    """The server could not take the batch now; ``retry_after`` is its hint in seconds."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Refused(Exception):
    """The server refused the batch for good (400, 4xx): sending it again cannot help."""


@dataclass(slots=True)
class Result:
    """What the server stored of a batch."""

    accepted: int = 0
    rejected: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: Result) -> None:
        """Sum the result of another part of the same batch."""
        self.accepted += other.accepted
        self.rejected += other.rejected
        self.errors += other.errors


class Sender:
    """POSTs gzip'd NDJSON to ``/api/v1/logs``.

    Args:
        url: the server, e.g. ``http://127.0.0.1:7700``.
        timeout: seconds for one request.
        token: the API token, sent as a Bearer token, when the server requires one.
        http: an ``httpx.Client`` to use instead of a new one (tests).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        token: str | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = http or httpx.Client(base_url=self.url, timeout=timeout, headers=headers)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def send(self, payload: bytes) -> Result:
        """Send one gzip'd batch; a body over the server's limit is split and sent in halves.

        Raises:
            RetryLater: the server is unreachable or busy; try again after a backoff.
            Refused: the server will never take this batch.
        """
        try:
            response = self._http.post(
                f"{self.url}/api/v1/logs",
                content=payload,
                headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"},
            )
        except httpx.TransportError as e:
            raise RetryLater(f"cannot reach {self.url}: {e or type(e).__name__}") from e
        status = response.status_code
        if status == 200:
            data = response.json()
            return Result(int(data["accepted"]), int(data["rejected"]), list(data["errors"]))
        if status == 413:
            return self._split(payload, response)
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise RetryLater(f"server answered {status}", retry_after)
        is_json = response.headers.get("content-type", "").startswith("application/json")
        if status == 400 and is_json:
            data = response.json()
            if "rejected" in data:  # the lines were read and none was usable
                return Result(0, int(data["rejected"]), list(data.get("errors", [])))
        raise Refused(f"server answered {status}: {response.text.strip()[:300]}")

    def _split(self, payload: bytes, response: httpx.Response) -> Result:
        lines = gzip.decompress(payload).splitlines(keepends=True)
        if len(lines) <= 1:
            raise Refused(f"one line is over the server's body limit: {response.text[:200]}")
        half = len(lines) // 2
        result = self.send(compress(b"".join(lines[:half])))
        result.add(self.send(compress(b"".join(lines[half:]))))
        return result
