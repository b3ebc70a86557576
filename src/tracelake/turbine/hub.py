"""One aggregator per watched cluster, shared by all of its stream clients.

Why: every client of ``/turbine.stream?cluster=orders`` wants the same numbers, and each
instance's Hystrix stream allows only a few connections (5 by default), so the server
opens one connection per instance for the cluster, whoever watches it. A cluster's
``ClusterFeed`` starts with its first subscriber and stops when the last one leaves; it
follows membership (asking the ``ClusterSource`` again every ``poll_interval_s``), folds
the instances' events into a ``ClusterAggregate`` (past Turbine's ``StaleGuard``), and every 500 ms hands each
subscriber the cluster's events as ready-made SSE frames. Circuit opens and closes it
sees are written to the lake as log records through the recorder (the server's log
sink), off the tick path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any

import httpx
import orjson
from prometheus_client.core import CounterMetricFamily, Metric

from tracelake.turbine.aggregate import BreakerFlip, ClusterAggregate
from tracelake.turbine.client import READ_TIMEOUT_S, Event, follow
from tracelake.turbine.sources import ClusterSource, Instance
from tracelake.turbine.stale import StaleGuard

log = logging.getLogger("tracelake.turbine")

#: One tick: (event type, ``data: {json}\n\n``) per cluster event; the route filters by type.
Tick = tuple[tuple[str, bytes], ...]
Recorder = Callable[[list[dict[str, Any]]], Awaitable[Any]]
ClientFactory = Callable[[], httpx.AsyncClient]

PING = b": ping\n\n"
#: Ticks a slow client may fall behind by; older ones are dropped (each tick is complete).
SUBSCRIBER_BACKLOG = 4


def breaker_record(cluster: str, instance: Instance, flip: BreakerFlip) -> dict[str, Any]:
    """The log record of one circuit opening or closing on one host."""
    state = "opened" if flip.opened else "closed"
    return {
        "service": instance.service,
        "level": "WARN" if flip.opened else "INFO",
        "message": f"circuit {flip.name} {state}",
        "host": instance.host,
        "event": "circuit_open" if flip.opened else "circuit_closed",
        "breaker": flip.name,
        "group": flip.group,
        "cluster": cluster,
    }


def default_client() -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    return httpx.AsyncClient(timeout=httpx.Timeout(5.0, read=READ_TIMEOUT_S), limits=limits)


class Subscription:
    """One client's view of a cluster: iterate for ticks; ends when the server stops."""

    def __init__(self, feed: ClusterFeed) -> None:
        self.feed = feed
        self.queue: asyncio.Queue[Tick | None] = asyncio.Queue(SUBSCRIBER_BACKLOG)

    def offer(self, tick: Tick | None) -> None:
        if self.queue.full():
            self.queue.get_nowait()  # slow client: drop its oldest tick
        self.queue.put_nowait(tick)

    def __aiter__(self) -> AsyncIterator[Tick]:
        return self._ticks()

    async def _ticks(self) -> AsyncIterator[Tick]:
        while True:
            tick = await self.queue.get()
            if tick is None:
                return
            yield tick

    def close(self) -> None:
        """Leave; the last subscriber to leave stops the cluster's feed."""
        self.feed.leave(self)


class ClusterFeed:
    """A watched cluster: one follower per instance, the aggregate, the subscribers."""

    def __init__(
        self,
        name: str,
        instances: list[Instance],
        source: ClusterSource,
        *,
        recorder: Recorder | None,
        interval_s: float,
        client_factory: ClientFactory,
        on_idle: Callable[[ClusterFeed], None],
    ) -> None:
        self.name = name
        self.aggregate = ClusterAggregate()
        self.guard = StaleGuard()
        self._behind: set[str] = set()
        self.subscribers: set[Subscription] = set()
        self._instances = instances
        self._source = source
        self._recorder = recorder
        self._interval_s = interval_s
        self._client_factory = client_factory
        self._on_idle = on_idle
        self._records: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"turbine:{self.name}")
        if self._recorder is not None:
            self._writer = asyncio.create_task(self._write(), name=f"turbine-log:{self.name}")

    def join(self) -> Subscription:
        sub = Subscription(self)
        self.subscribers.add(sub)
        return sub

    def leave(self, sub: Subscription) -> None:
        self.subscribers.discard(sub)
        if not self.subscribers:
            self.stop()
            self._on_idle(self)

    def stop(self) -> None:
        """End every subscriber's stream and cancel the feed's tasks."""
        for sub in list(self.subscribers):
            sub.offer(None)
        if self._task is not None:
            self._task.cancel()

    async def wait(self) -> None:
        """Until the feed's tasks have ended, the pending records written."""
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._writer is not None:
            await self._records.join()
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    def _on_events(self, instance: Instance, events: list[Event]) -> None:
        now_ms = int(time.time() * 1000)
        fresh = [e for e in events if self.guard.admit(instance.host, e, now_ms)]
        if len(fresh) < len(events) and instance.host not in self._behind:
            self._behind.add(instance.host)  # once per host: a skewed clock would flood
            log.warning(
                "turbine: %s of %s sends events over %d ms old; skipping them to catch up"
                " (or its clock is behind)",
                instance.host,
                self.name,
                self.guard.latency_threshold_ms,
            )
        for flip in self.aggregate.update_many(instance.host, fresh):
            if self._recorder is not None:
                self._records.put_nowait(breaker_record(self.name, instance, flip))

    def _on_lost(self, instance: Instance) -> None:
        self.aggregate.remove_host(instance.host)
        self.guard.forget(instance.host)

    async def _run(self) -> None:
        followers: dict[Instance, asyncio.Task[None]] = {}
        async with self._client_factory() as client:
            try:
                next_poll = time.monotonic() + self._source.poll_interval_s
                self._follow(client, followers, self._instances)
                while True:
                    await asyncio.sleep(self._interval_s)
                    if time.monotonic() >= next_poll:
                        next_poll = time.monotonic() + self._source.poll_interval_s
                        await self._refresh(client, followers)
                    self._broadcast(self._tick())
            finally:
                for task in followers.values():
                    task.cancel()
                await asyncio.gather(*followers.values(), return_exceptions=True)

    async def _refresh(
        self, client: httpx.AsyncClient, followers: dict[Instance, asyncio.Task[None]]
    ) -> None:
        try:
            found = await self._source.instances(self.name)
        except Exception:
            log.exception("turbine: membership of %s unavailable; keeping the last", self.name)
            return
        self._follow(client, followers, found or [])

    def _follow(
        self,
        client: httpx.AsyncClient,
        followers: dict[Instance, asyncio.Task[None]],
        instances: list[Instance],
    ) -> None:
        wanted = set(instances)
        for instance in [i for i in followers if i not in wanted]:
            followers.pop(instance).cancel()
            self.aggregate.remove_host(instance.host, forget=True)
            self.guard.forget(instance.host)
            self._behind.discard(instance.host)
        for instance in instances:
            if instance not in followers:
                followers[instance] = asyncio.create_task(
                    follow(client, instance, self._on_events, self._on_lost),
                    name=f"turbine:{self.name}:{instance.host}",
                )

    def _tick(self) -> Tick:
        now_ms = int(time.time() * 1000)
        return tuple(
            (str(e.get("type", "")), b"data: " + orjson.dumps(e) + b"\n\n")
            for e in self.aggregate.tick(now_ms)
        )

    def _broadcast(self, tick: Tick) -> None:
        for sub in self.subscribers:
            sub.offer(tick)

    async def _write(self) -> None:
        assert self._recorder is not None
        while True:
            first = await self._records.get()
            batch = [first]
            while not self._records.empty():
                batch.append(self._records.get_nowait())
            try:
                await self._recorder(batch)
            except Exception:
                log.exception("turbine: %d breaker records of %s lost", len(batch), self.name)
            finally:
                for _ in batch:
                    self._records.task_done()


class TurbineHub:
    """Cluster feeds by name, created on the first subscriber, dropped after the last.

    Args:
        source: Where clusters' instances come from.
        recorder: Takes breaker records (the server's log sink); None: not recorded.
        interval_s: Seconds between ticks (Hystrix and Turbine: 500 ms).
        client_factory: Makes the HTTP client of one feed (tests inject transports).
    """

    def __init__(
        self,
        source: ClusterSource,
        recorder: Recorder | None = None,
        *,
        interval_s: float = 0.5,
        client_factory: ClientFactory = default_client,
    ) -> None:
        self.source = source
        self.recorder = recorder
        self.interval_s = interval_s
        self.client_factory = client_factory
        self.feeds: dict[str, ClusterFeed] = {}
        self._stopping: set[ClusterFeed] = set()
        self._recording: dict[str, Subscription] = {}
        self._closed = False

    async def subscribe(self, cluster: str) -> Subscription | None:
        """Watch a cluster; None when no source knows it (or the hub is closed)."""
        feed = self.feeds.get(cluster)
        if feed is None:
            instances = await self.source.instances(cluster)
            if instances is None or self._closed:
                return None
            feed = self.feeds.get(cluster)  # another client may have started it meanwhile
            if feed is None:
                feed = ClusterFeed(
                    cluster,
                    instances,
                    self.source,
                    recorder=self.recorder,
                    interval_s=self.interval_s,
                    client_factory=self.client_factory,
                    on_idle=self._idle,
                )
                self.feeds[cluster] = feed
                feed.start()
        return feed.join()

    async def record(self, clusters: Iterable[str]) -> None:
        """Keep a feed per cluster running for as long as the hub lives.

        Breaker flips are written to the lake only by a running feed; holding one
        subscription per configured cluster (never read: its queue is bounded and
        drops old ticks) means "when was payments' circuit open" has an answer even
        when nobody had the stream open. Clusters already recorded are skipped, so the
        server can call this again as services with a stream register.
        """
        for cluster in clusters:
            if cluster in self._recording:
                continue
            sub = await self.subscribe(cluster)
            if sub is not None:
                self._recording[cluster] = sub

    def collect(self) -> Iterator[Metric]:
        """For the server's /metrics: stale events dropped, per watched cluster."""
        stale = CounterMetricFamily(
            "tracelake_turbine_stale_events",
            "Hystrix events dropped as too old or skipped while a host caught up",
            labels=["cluster"],
        )
        for name, feed in self.feeds.items():
            stale.add_metric([name], feed.guard.discarded)
        yield stale

    def _idle(self, feed: ClusterFeed) -> None:
        if self.feeds.get(feed.name) is feed:
            del self.feeds[feed.name]
        self._stopping.add(feed)
        task = asyncio.ensure_future(feed.wait())
        task.add_done_callback(lambda _: self._stopping.discard(feed))

    def shutdown(self) -> None:
        """End every client's stream now (the server is stopping)."""
        self._closed = True
        for feed in list(self.feeds.values()):
            feed.stop()

    async def aclose(self) -> None:
        """Stop every feed and write the breaker records still pending."""
        self.shutdown()
        feeds = [*self.feeds.values(), *self._stopping]
        self.feeds.clear()
        await asyncio.gather(*(feed.wait() for feed in feeds), return_exceptions=True)
