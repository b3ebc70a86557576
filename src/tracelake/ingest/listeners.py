"""Start and stop every stream listener the settings ask for.

One place decides which protocol listens where: JSON lines on TCP and UDP share
``tcp_port``, syslog on TCP and UDP shares ``syslog_port``, and Fluentd forward takes
``forward_port`` (TCP, with its UDP heartbeat on the same number).

JSON lines and syslog over TCP hand complete frames to a worker process
(``ingest/tables/logs.py::frames_job`` decodes, joins multiline events and runs the
pipeline) and commit the result as a second, retryable step; every other listener hands
log objects to ``Ingest.submit_objects``.

Access: these protocols carry no token, so every stream listener (TCP and UDP) accepts
only peers in ``stream_allow_from``; forward with a shared key is authenticated by its
handshake and accepts any peer. With ``tls_cert_file`` every TCP listener speaks TLS.
"""

from __future__ import annotations

import dataclasses
import logging
import ssl
from collections.abc import Iterator, Sequence
from typing import Literal

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from tracelake.errors import ConfigError
from tracelake.ingest.jobs import Decoded
from tracelake.ingest.sink import LogSink
from tracelake.ingest.submit import Ingest
from tracelake.ingest.tables import logs
from tracelake.ingest.tcp import ListenerConfig, TcpListener
from tracelake.ingest.udp import UdpListener
from tracelake.model import IngestResult, LogObject
from tracelake.pipeline.multiline import MultilineJoiner
from tracelake.security.networks import AllowList
from tracelake.settings import Settings

log = logging.getLogger("tracelake.ingest")

Format = Literal["jsonlines", "syslog", "forward"]


class Listeners:
    """The running stream listeners, by name (``jsonlines/tcp`` …)."""

    def __init__(
        self, settings: Settings, ingest: Ingest, tls: ssl.SSLContext | None = None
    ) -> None:
        self.settings = settings
        self.ingest = ingest
        self.tls = tls
        self.allow = AllowList(settings.stream_allow_from)
        self.running: dict[str, TcpListener | UdpListener] = {}

    async def start(self) -> dict[str, str]:
        """Start each enabled listener; returns ``{name: "host:port"}``."""
        s = self.settings
        plan: list[tuple[Format, int, str]] = [
            ("jsonlines", s.tcp_port, "--tcp-port"),
            ("syslog", s.syslog_port, "--syslog-port"),
            ("forward", s.forward_port, "--forward-port"),
        ]
        busy: list[str] = []
        for fmt, port, flag in plan:
            if port < 0:
                continue
            config = ListenerConfig(
                host=s.host,
                port=port,
                max_frame_bytes=s.max_line_bytes,
                max_connections=s.max_connections,
                idle_timeout=s.idle_timeout_s,
                max_decompressed_bytes=s.max_body_bytes,
                shared_key=s.forward_shared_key or None,
                allow=None if fmt == "forward" and s.forward_shared_key else self.allow,
                tls=self.tls,
            )
            tcp = TcpListener(
                self._sink(f"{fmt}/tcp"),
                fmt,
                config,
                name=f"{fmt}/tcp",
                frames=_FrameSink(self.ingest, f"{fmt}/tcp") if fmt != "forward" else None,
            )
            try:
                await tcp.start()
            except OSError as e:
                # keep trying the others: one message names every port that is taken
                busy.append(f"{s.host}:{port} for {fmt} ({e.strerror}; {flag})")
                continue
            self.running[tcp.name] = tcp
            # UDP takes the port TCP got, so "any free port" gives one number for both.
            udp_config = dataclasses.replace(config, port=tcp.port)
            udp = UdpListener(
                self._sink(f"{fmt}/udp"),
                fmt,
                udp_config,
                name=f"{fmt}/udp",
                receive_buffer_bytes=s.udp_receive_buffer_bytes,
            )
            try:
                await udp.start()
            except OSError as e:
                busy.append(f"{s.host}:{tcp.port}/udp for {fmt} ({e.strerror}; {flag})")
                continue
            self.running[udp.name] = udp
        if busy:
            await self.stop()
            raise ConfigError(
                f"cannot listen on {', '.join(busy)}: stop what uses them, or pass the flag "
                "named with another port (0 picks a free one, -1 turns the listener off)"
            )
        self._warn_capped_buffers()
        return {name: f"{self.settings.host}:{lst.port}" for name, lst in self.running.items()}

    def _warn_capped_buffers(self) -> None:
        """One line when the kernel gave the UDP listeners less buffer than asked for."""
        capped = [
            lst
            for lst in self.running.values()
            if isinstance(lst, UdpListener) and lst.buffer_capped
        ]
        if capped:
            want = self.settings.udp_receive_buffer_bytes
            log.warning(
                "UDP listeners got a %d-byte receive buffer, not the %d asked for: bursts "
                "beyond it are dropped by the kernel (tracelake_listener_kernel_drops); "
                "raise net.core.rmem_max (sysctl -w net.core.rmem_max=%d) or lower "
                "udp_receive_buffer_bytes",
                capped[0].receive_buffer,
                want,
                want,
            )

    def _sink(self, source: str) -> LogSink:
        """The ingest sink, counting this listener's records under its own name."""
        ingest = self.ingest

        async def sink(
            objects: Sequence[LogObject], ids: Sequence[str | None] | None = None
        ) -> IngestResult:
            return await ingest.submit_objects(objects, source, ids)

        return sink

    async def stop(self) -> None:
        for listener in self.running.values():
            await listener.stop()
        self.running.clear()

    def collect(self) -> Iterator[Metric]:
        """Each running listener's ``ListenerStats``, for the server's /metrics."""
        received = CounterMetricFamily(
            "tracelake_listener_records",
            "Records decoded by a stream listener",
            labels=["listener"],
        )
        accepted = CounterMetricFamily(
            "tracelake_listener_accepted_records",
            "Records of a stream listener the sink accepted",
            labels=["listener"],
        )
        rejected = CounterMetricFamily(
            "tracelake_listener_rejects",
            "Frames or records a stream listener refused, by reason",
            labels=["listener", "reason"],
        )
        read = CounterMetricFamily(
            "tracelake_listener_bytes", "Bytes a stream listener received", labels=["listener"]
        )
        opened = CounterMetricFamily(
            "tracelake_listener_connections_opened",
            "TCP connections made to a stream listener (refused ones included)",
            labels=["listener"],
        )
        retries = CounterMetricFamily(
            "tracelake_listener_overload_retries",
            "Times a TCP listener waited for an overloaded sink and tried again",
            labels=["listener"],
        )
        connections = GaugeMetricFamily(
            "tracelake_listener_connections",
            "Open connections of a stream listener",
            labels=["listener"],
        )
        kernel_drops = CounterMetricFamily(
            "tracelake_listener_kernel_drops",
            "Datagrams the kernel dropped before a UDP listener read them (receive buffer full)",
            labels=["listener"],
        )
        buffers = GaugeMetricFamily(
            "tracelake_listener_receive_buffer_bytes",
            "Receive buffer of a UDP listener's socket, as the kernel reports it",
            labels=["listener"],
        )
        for name, listener in self.running.items():
            stats = listener.stats
            received.add_metric([name], stats.received)
            accepted.add_metric([name], stats.accepted)
            read.add_metric([name], stats.bytes)
            opened.add_metric([name], stats.connections_total)
            retries.add_metric([name], stats.overloaded_retries)
            connections.add_metric([name], stats.connections)
            for reason, count in stats.rejected_by_reason.items():
                rejected.add_metric([name, reason], count)
            if isinstance(listener, UdpListener):
                buffers.add_metric([name], listener.receive_buffer)
                drops = listener.kernel_drops()
                if drops is not None:
                    kernel_drops.add_metric([name], drops)
        yield from (received, accepted, rejected, read, opened, retries, connections)
        yield from (kernel_drops, buffers)


class _FrameSink:
    """``Ingest`` as the ``FrameSink`` of one TCP listener, counted under its name."""

    def __init__(self, ingest: Ingest, source: str) -> None:
        self._ingest = ingest
        self._source = source

    def joiner(self) -> MultilineJoiner | None:
        return self._ingest.pipeline.joiner()

    async def decode(
        self,
        fmt: logs.FrameFormat,
        frames: list[bytes],
        joiner: MultilineJoiner | None,
        final: bool,
    ) -> Decoded:
        chunk = logs.Frames(fmt, frames, joiner, final)
        return await self._ingest.decode(logs.frames_job, chunk, self._ingest.env(self._source))

    async def store(self, decoded: Decoded) -> IngestResult:
        await self._ingest.commit(decoded, self._source)
        return decoded.result
