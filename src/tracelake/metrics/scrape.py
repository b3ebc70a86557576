"""The scraper: pulls every target's ``/metrics`` on a schedule into the ``metrics`` table.

Targets come from a callable (the registry's ``scrape_targets``: registered instances
that are up plus the static ``scrape_targets`` setting), read again every second, so
an instance is scraped soon after it registers and no longer once it is gone. Each
target has its own loop; loops start at an offset within the interval derived from the
target's URL, so 200 targets spread over the 15 s instead of arriving at once, and a
target that takes longer than the interval skips the ticks it missed rather than
piling up scrapes.

One scrape is: GET with Prometheus's Accept header and a total time limit
(``scrape_timeout_s``) → parse in an ingest worker (``samples.scrape_job``) → one append
of the samples plus ``up``/``scrape_duration_seconds``/``scrape_samples_scraped``. A
down, slow, failing or malformed target stores ``up`` 0 and its error is kept for
``health()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx
from prometheus_client.core import CounterMetricFamily, Metric

from tracelake import __version__
from tracelake.errors import DecodeError, Overloaded, PayloadTooLarge
from tracelake.ingest.decoders.prom_text import ACCEPT
from tracelake.ingest.submit import Ingest
from tracelake.ingest.tables import samples
from tracelake.settings import Settings

log = logging.getLogger("tracelake.scrape")

SOURCE = "scrape"
#: How often the target list is read again.
SYNC_PERIOD_S = 1.0


class Target(Protocol):
    """What the scraper needs of a target (``tracelake.registry.ScrapeTarget`` has it)."""

    @property
    def service(self) -> str: ...
    @property
    def instance(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def labels(self) -> dict[str, str]: ...


TargetKey = tuple[str, str, str, tuple[tuple[str, str], ...]]


def target_key(target: Target) -> TargetKey:
    return (target.service, target.instance, target.url, tuple(sorted(target.labels.items())))


def target_labels(target: Target) -> dict[str, str]:
    """The target's own labels (its metadata), then ``job`` and ``service`` (the service)
    and ``instance``, which metadata cannot override."""
    return {
        **target.labels,
        "job": target.service,
        "service": target.service,
        "instance": target.instance,
    }


@dataclass(slots=True)
class TargetHealth:
    """The outcome of a target's last scrape, as Prometheus's targets page shows it."""

    url: str
    labels: dict[str, str]
    health: str = "unknown"  # up | down | unknown (not scraped yet)
    last_scrape: float = 0.0  # epoch seconds
    last_duration_s: float = 0.0
    last_error: str = ""
    samples: int = 0


class Scraper:
    """Scrape loops per target, kept in step with the target list."""

    def __init__(
        self,
        targets: Callable[[], Sequence[Target]],
        sink: Ingest,
        settings: Settings,
    ) -> None:
        self.targets = targets
        self.sink = sink
        self.settings = settings
        self.interval_s = settings.scrape_interval_s
        self.timeout_s = min(settings.scrape_timeout_s, settings.scrape_interval_s)
        self._loops: dict[TargetKey, asyncio.Task[None]] = {}
        self._health: dict[TargetKey, TargetHealth] = {}
        self._client: httpx.AsyncClient | None = None
        #: Ticks skipped, over every target, because a scrape overran the interval.
        self.missed_ticks = 0

    def health(self) -> list[TargetHealth]:
        """Every current target's last outcome."""
        return list(self._health.values())

    def collect(self) -> Iterator[Metric]:
        """For the server's /metrics: the ticks skipped since start."""
        yield CounterMetricFamily(
            "tracelake_scrape_missed_ticks",
            "Scrapes skipped because the target's previous scrape overran the interval",
            value=self.missed_ticks,
        )

    async def run(self) -> None:
        """Scrape until cancelled; the loops stop with it. An interval of 0 turns the
        scraper off: a Prometheus scrapes the registry's targets (HTTP SD) and forwards
        by remote_write instead."""
        if self.interval_s <= 0:
            log.info("scraper off (scrape_interval_s = 0)")
            return
        try:
            while True:
                self._sync()
                await asyncio.sleep(SYNC_PERIOD_S)
        finally:
            loops = list(self._loops.values())
            for task in loops:
                task.cancel()
            for task in loops:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._loops.clear()
            await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client (``run`` does it when it stops)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.timeout_s,
                headers={"Accept": ACCEPT, "User-Agent": f"tracelake/{__version__}"},
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=1000),
            )
        return self._client

    def _sync(self) -> None:
        """Start loops for new targets and stop those of targets that went away."""
        try:
            current = {target_key(t): t for t in self.targets()}
        except Exception:
            log.exception("scrape: reading the targets failed; keeping the current ones")
            return
        for key in set(self._loops) - set(current):
            self._loops.pop(key).cancel()
            self._health.pop(key, None)
        for key, target in current.items():
            if key not in self._loops:
                self._health[key] = TargetHealth(target.url, target_labels(target))
                self._loops[key] = asyncio.create_task(self._loop(target, key))

    async def _loop(self, target: Target, key: TargetKey) -> None:
        loop = asyncio.get_running_loop()
        spread = zlib.crc32(repr(key).encode()) / 0xFFFFFFFF
        next_at = loop.time() + spread * self.interval_s
        health = self._health[key]
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            try:
                await self.scrape(target, health)
            except Exception:
                log.exception("scrape of %s failed unexpectedly", target.url)
            next_at += self.interval_s
            behind = loop.time() - next_at
            if behind > 0:
                skipped = int(behind // self.interval_s) + 1
                self.missed_ticks += skipped
                next_at += skipped * self.interval_s
                log.warning("scrape of %s overran its interval; skipped %d", target.url, skipped)

    async def scrape(self, target: Target, health: TargetHealth | None = None) -> TargetHealth:
        """One scrape of ``target``: fetch, parse in a worker, store; returns its outcome."""
        health = health or TargetHealth(target.url, target_labels(target))
        labels = health.labels
        env = self.sink.env()  # its time is the scrape's
        started = env.now_us / 1e6
        clock = time.perf_counter()
        body = b""
        error = ""
        try:
            body, content_type = await asyncio.wait_for(self._fetch(target.url), self.timeout_s)
        except (TimeoutError, httpx.TimeoutException):
            error = f"timed out after {self.timeout_s:g} s (scrape_timeout_s)"
        except httpx.HTTPError as e:
            error = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
        except (DecodeError, PayloadTooLarge) as e:
            error = e.message
        duration = time.perf_counter() - clock
        decoded = None
        if not error:
            headers = {"content-type": content_type} if content_type else {}
            try:
                decoded = await self.sink.decode(
                    samples.scrape_job, body, headers, env, labels, duration
                )
            except DecodeError as e:
                error = e.message
        if decoded is None:
            decoded = samples.failed_scrape(labels, env, duration)
        scraped = decoded.answer or 0
        try:
            await self.sink.commit(decoded, SOURCE, len(body))
        except Overloaded as e:
            error = error or f"not stored: {e.message}"
        health.health = "down" if error else "up"
        health.last_error = error
        health.last_scrape = started
        health.last_duration_s = duration
        health.samples = scraped
        return health

    async def _fetch(self, url: str) -> tuple[bytes, str | None]:
        """The body of a 200 answer, bounded by ``max_body_bytes``."""
        limit = self.settings.max_body_bytes
        timeout = f"{self.timeout_s:g}"
        async with self._http().stream(
            "GET", url, headers={"X-Prometheus-Scrape-Timeout-Seconds": timeout}
        ) as response:
            if response.status_code != 200:
                raise DecodeError(f"HTTP {response.status_code} from the target")
            chunks = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"exposition is over max_body_bytes ({limit})")
                chunks.append(chunk)
            return b"".join(chunks), response.headers.get("content-type")
