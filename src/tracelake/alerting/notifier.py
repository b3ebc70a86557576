"""Delivering notifications: one queue and one worker per receiver, retried with backoff.

Why a worker per receiver: a receiver that is down must not delay the others, and
messages to one receiver must arrive in order (a "resolved" never overtakes its
"firing"). A delivery is retried on connection errors, timeouts, 429 and 5xx answers,
for ``attempts`` tries in all, waiting by ``tracelake.backoff``'s rule (the SDK's and the
agent's too): up to ``backoff_s``, then up to twice that, capped at ``max_backoff_s``,
each wait drawn from the upper half of its ceiling; a ``Retry-After`` from the receiver
is honoured up to ``max_backoff_s``. Any other 4xx means the receiver refuses the
message and retrying cannot help.
Each queue is bounded: when a receiver stays down that long, the oldest messages go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import orjson

from tracelake.backoff import Backoff, parse_retry_after

log = logging.getLogger("tracelake.alerting")

Kind = Literal["webhook", "alertmanager"]
ClientFactory = Callable[[float], httpx.AsyncClient]
#: Messages waiting per receiver before the oldest is dropped.
QUEUE_SIZE = 1024
ALERTMANAGER_PATH = "/api/v2/alerts"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    timeout_s: float = 10.0

    def backoff(self) -> Backoff:
        """The waits between the attempts of one delivery."""
        return Backoff(self.backoff_s, self.max_backoff_s)


def alertmanager_endpoint(url: str) -> str:
    """An Alertmanager's base URL (or its full alerts URL) → where alerts are posted."""
    url = url.rstrip("/")
    return url if url.endswith(ALERTMANAGER_PATH) else url + ALERTMANAGER_PATH


@dataclass(slots=True)
class ReceiverStats:
    delivered: int = 0
    failed: int = 0
    retries: int = 0
    dropped: int = 0


class Receiver:
    """One destination: its queue, its worker and its counts."""

    def __init__(self, kind: Kind, url: str) -> None:
        self.kind = kind
        self.url = alertmanager_endpoint(url) if kind == "alertmanager" else url
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_SIZE)
        self.stats = ReceiverStats()
        self.task: asyncio.Task[None] | None = None

    def offer(self, body: bytes) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.queue.task_done()
            self.stats.dropped += 1
            log.warning("alert notifications to %s are backing up: dropped the oldest", self.url)
        self.queue.put_nowait(body)


def default_client(timeout_s: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=timeout_s, headers={"User-Agent": "tracelake-alerting"})


class Notifier:
    """Sends webhook messages and Alertmanager alerts to every configured receiver."""

    def __init__(
        self,
        webhooks: list[str],
        alertmanagers: list[str],
        policy: RetryPolicy,
        *,
        client_factory: ClientFactory = default_client,
    ) -> None:
        self.policy = policy
        self.receivers = [Receiver("webhook", u) for u in webhooks]
        self.receivers += [Receiver("alertmanager", u) for u in alertmanagers]
        self._client_factory = client_factory
        self._client: httpx.AsyncClient | None = None

    @property
    def has_alertmanagers(self) -> bool:
        return any(r.kind == "alertmanager" for r in self.receivers)

    def start(self) -> None:
        if not self.receivers:
            return
        self._client = self._client_factory(self.policy.timeout_s)
        for receiver in self.receivers:
            receiver.task = asyncio.create_task(
                self._deliver(receiver), name=f"alerts:{receiver.url}"
            )

    def send(self, kind: Kind, payload: Any) -> None:
        """Queue one message (a webhook message or a list of alerts) for its receivers."""
        body = orjson.dumps(payload)
        for receiver in self.receivers:
            if receiver.kind == kind:
                receiver.offer(body)

    async def aclose(self, drain_s: float) -> None:
        """Give queued messages up to ``drain_s`` to go out, then stop."""
        waiting = [r.queue.join() for r in self.receivers if r.task is not None]
        if waiting:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*waiting), drain_s)
        for receiver in self.receivers:
            if receiver.task is not None:
                receiver.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await receiver.task
        if self._client is not None:
            await self._client.aclose()

    async def _deliver(self, receiver: Receiver) -> None:
        while True:
            body = await receiver.queue.get()
            try:
                await self._post(receiver, body)
            finally:
                receiver.queue.task_done()

    async def _post(self, receiver: Receiver, body: bytes) -> None:
        assert self._client is not None
        headers = {"Content-Type": "application/json"}
        backoff = self.policy.backoff()
        for attempt in range(self.policy.attempts):
            if attempt:
                receiver.stats.retries += 1
            retry_after = None
            try:
                response = await self._client.post(receiver.url, content=body, headers=headers)
            except httpx.HTTPError as e:
                problem = f"{type(e).__name__}: {e}"
            else:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if response.is_success:
                    receiver.stats.delivered += 1
                    return
                problem = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code < 500 and response.status_code != 429:
                    receiver.stats.failed += 1
                    log.error(
                        "%s %s refused an alert notification: %s",
                        receiver.kind,
                        receiver.url,
                        problem,
                    )
                    return
            if attempt + 1 < self.policy.attempts:
                delay = backoff.next(retry_after)
                log.warning(
                    "alert notification to %s failed (%s); retrying in %.1f s",
                    receiver.url,
                    problem,
                    delay,
                )
                await asyncio.sleep(delay)
            else:
                receiver.stats.failed += 1
                log.error(
                    "alert notification to %s failed %d times (%s): given up",
                    receiver.url,
                    self.policy.attempts,
                    problem,
                )
