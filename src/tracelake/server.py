"""The composition root: the one place that builds and wires every part.

Read this first. ``Server`` makes the metrics, the store, the ingest sink and the HTTP
app from one ``Settings``; ``run`` replays the WAL, starts the listeners and the
background maintenance, reports ready, and on SIGINT/SIGTERM stops taking input,
flushes the memtable to segments and closes the WAL.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import signal
import socket
import time
from collections.abc import Callable, Iterator

import pyarrow as pa
import uvicorn

from tracelake.alerting import AlertManager
from tracelake.api.connections import bounded_protocol
from tracelake.api.context import AppContext, RunState
from tracelake.app import build_app
from tracelake.errors import ConfigError
from tracelake.ingest.listeners import Listeners
from tracelake.ingest.submit import Ingest
from tracelake.metrics.scrape import Scraper
from tracelake.query.promql import PromQLEngine
from tracelake.registry import Registry, static_targets
from tracelake.registry.keeper import RegistryKeeper
from tracelake.security.exposure import check_exposure
from tracelake.security.tls import check_files, server_context
from tracelake.settings import Settings
from tracelake.store import Store
from tracelake.store.lock import DataDirLock
from tracelake.streams import StreamRunner, parse_continuous_queries
from tracelake.telemetry import ServerMetrics
from tracelake.tracing.dependencies import DependencyAggregator
from tracelake.turbine import FirstMatch, RegistrySource, StaticClusterSource, TurbineHub

log = logging.getLogger("tracelake.server")

MAINTENANCE_PERIOD_S = 0.5
#: How soon a newly registered service's breaker flips start reaching the lake.
RECORD_CLUSTERS_PERIOD_S = 5.0


def bind_tcp(host: str, port: int, flag: str) -> socket.socket:
    """Bind a listening socket now, so a busy port is a clear error, not a log line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Without it, Nagle's algorithm and delayed ACKs hold each small response to a
    # keep-alive client back by ~40 ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({e.strerror}): stop what uses it or pass {flag}"
        ) from e
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class _HTTPServer(uvicorn.Server):
    """uvicorn without its own signal handling: it re-raises the signal after its
    shutdown, which would kill the process before the store is flushed and closed."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def request_exit(self) -> None:
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True


def bound_allocator() -> None:
    """Keep the server's memory near its working set under sustained ingest.

    Arrow's default allocator keeps freed memory for reuse, and glibc, left alone,
    raises its mmap threshold after the first large free and spreads threads over many
    arenas, so the megabyte-sized request bodies and flushed memtables are never given
    back. With Arrow on the system allocator, two arenas and a fixed 1 MiB mmap
    threshold, peak memory under the lake benchmark fell by 40 % at the same speed.
    """
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to tune
        return
    m_mmap_threshold, m_arena_max = -3, -8
    libc.mallopt(m_arena_max, 2)
    libc.mallopt(m_mmap_threshold, 1024 * 1024)


class Server:
    def __init__(self, settings: Settings) -> None:
        bound_allocator()
        self.settings = settings
        check_exposure(settings.host, bool(settings.tokens))  # before anything is opened
        tls_on = check_files(settings.tls_cert_file, settings.tls_key_file)
        self.tls = server_context(settings.tls_cert_file, settings.tls_key_file) if tls_on else None
        # Before anything in the data directory is opened or changed; held until close()
        # or the process ends (kill -9 included: the kernel drops it).
        self.lock = DataDirLock(settings.data_path)
        self.lock.acquire()
        self.metrics = ServerMetrics()
        self.state = RunState()
        self.store = Store(settings)
        self.promql = PromQLEngine(self.store, settings)
        self.ingest = Ingest(self.store, settings, self.metrics)
        self.listeners = Listeners(settings, self.ingest, self.tls)
        self.dependencies = DependencyAggregator(self.store)
        queries = parse_continuous_queries(settings.continuous_queries, settings.stream_lateness_s)
        self.streams = StreamRunner(self.store, settings, queries)
        self.registry = Registry(
            settings.registry_ttl_s,
            settings.registry_evict_after_s,
            static=static_targets(settings.scrape_targets),
        )
        self.registry_keeper = RegistryKeeper(self.registry, settings.data_path)
        self.scraper = Scraper(self.registry.scrape_targets, self.ingest, settings)
        self.registered_clusters = RegistrySource(self.registry)
        self.turbine = TurbineHub(
            FirstMatch(StaticClusterSource(settings.turbine_clusters), self.registered_clusters),
            recorder=lambda records: self.ingest.submit_objects(records, "turbine"),
        )
        self.alerts = AlertManager(
            settings,
            self.store,
            promql=self.promql.vector,
            external_url=lambda: self.state.listeners.get("http", ""),
            commit=lambda decoded: self.ingest.commit(decoded, "recording_rules"),
        )
        self.ctx = AppContext(
            settings=settings,
            store=self.store,
            ingest=self.ingest,
            metrics=self.metrics,
            promql=self.promql,
            alerts=self.alerts,
            registry=self.registry,
            registry_keeper=self.registry_keeper,
            turbine=self.turbine,
            scraper=self.scraper,
            state=self.state,
        )
        self.app = build_app(self.ctx)
        self.metrics.register(
            self.store,
            self.listeners,
            self.dependencies,
            self.streams,
            self.scraper,
            self.turbine,
            self.alerts,
        )

    async def run(self, on_ready: Callable[[Server], None] | None = None) -> None:
        """Serve until SIGINT/SIGTERM; then flush and close."""
        s = self.settings
        self.state.started_at = time.time()
        await asyncio.to_thread(self.store.open)
        await asyncio.to_thread(self.registry_keeper.load)
        self.dependencies.start()  # after the WAL replay: replayed spans were linked before
        await self.turbine.record(s.turbine_clusters)  # breaker flips reach the lake unwatched
        await asyncio.to_thread(self.ingest.warm_up)
        config = uvicorn.Config(
            self.app,
            host=s.host,
            port=s.http_port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=5,
            http=bounded_protocol(
                s.http_header_timeout_s,
                s.http_max_connections,
                body_timeout_s=s.http_body_timeout_s,
                max_header_bytes=s.http_max_header_bytes,
                max_headers=s.http_max_headers,
            ),
            ssl_certfile=s.tls_cert_file if self.tls else None,
            ssl_keyfile=s.tls_key_file if self.tls else None,
        )
        # Every port is tried before giving up, so one message names all that are taken.
        try:
            sock: socket.socket | None = bind_tcp(s.host, s.http_port, "--http-port")
            http_busy = ""
        except ConfigError as e:
            sock, http_busy = None, e.message
        try:
            self.state.listeners.update(await self.listeners.start())
        except ConfigError as e:
            if sock is not None:
                sock.close()
            raise ConfigError(f"{http_busy}; and {e.message}" if http_busy else e.message) from e
        if sock is None:
            raise ConfigError(http_busy)
        http = _HTTPServer(config)
        loop = asyncio.get_running_loop()

        def request_exit() -> None:
            self.turbine.shutdown()  # end the open /turbine.stream responses
            http.request_exit()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, request_exit)
        scheme = "https" if self.tls else "http"
        self.state.listeners["http"] = f"{scheme}://{s.host}:{sock.getsockname()[1]}"
        self.alerts.start()
        background = [
            asyncio.create_task(job)
            for job in (
                self._maintain(),
                self.dependencies.run(),
                self.streams.run(),  # after the WAL replay
                self.registry_keeper.run(),
                self.scraper.run(),  # targets: registered + static
                self._record_registered_circuits(),
            )
        ]
        serving = asyncio.create_task(http.serve(sockets=[sock]))
        while not http.started and not serving.done():
            await asyncio.sleep(0.02)
        if http.started:
            self.state.ready = True
            if not s.tokens:
                log.warning(
                    "no tokens configured: listening on loopback only, and everything on this "
                    "machine can read and write; see docs/security.md to add tokens"
                )
            if on_ready is not None:
                on_ready(self)
        try:
            await serving
        finally:
            self.state.ready = False
            await self.listeners.stop()
            for task in background:  # all of them write to the store: stop before it closes
                task.cancel()
            for outcome in await asyncio.gather(*background, return_exceptions=True):
                if isinstance(outcome, Exception):
                    log.error("a background task had failed: %r", outcome)
            await self.dependencies.stop()
            await self.turbine.aclose()  # pending breaker records, before the store closes
            await self.alerts.aclose()  # state saved, before the store closes
            await asyncio.to_thread(self.close)

    async def _maintain(self) -> None:
        while True:
            await asyncio.sleep(MAINTENANCE_PERIOD_S)
            try:
                await asyncio.to_thread(self.store.maintain)
            except Exception:
                log.exception("store maintenance failed; retrying in %.1f s", MAINTENANCE_PERIOD_S)

    async def _record_registered_circuits(self) -> None:
        """Record the breaker flips of every registered service with a Hystrix stream,
        as of the static clusters, so they reach the lake with nobody watching."""
        while True:
            await self.turbine.record(self.registered_clusters.clusters())
            await asyncio.sleep(RECORD_CLUSTERS_PERIOD_S)

    def close(self) -> None:
        self.registry_keeper.close()
        self.ingest.close()
        self.store.close()
        self.lock.release()
