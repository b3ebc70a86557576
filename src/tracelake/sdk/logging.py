"""Standard-library logging to tracelake: a JSON formatter, a non-blocking handler, one-line setup.

Why: services already log with :mod:`logging`; they should not change a call site
to get structured, correlated logs in the lake. :class:`JSONFormatter` renders each
record as one Logstash-compatible JSON object (with the OpenTelemetry trace/span ids
and the middleware's request id when there are some), :class:`TracelakeHandler` ships
those objects to the server without ever blocking the logging thread, and
:func:`configure_logging` wires both onto the root logger.

The hot path (format + enqueue) is a handful of dict stores and one ``orjson.dumps``:
static fields are computed once, the timestamp's date part once a second, and a
record's ``extra=`` fields are looked for only when it has more attributes than a
plain :class:`logging.LogRecord`.

Imports only the standard library, orjson, prometheus_client and, when installed,
the OpenTelemetry API (it is optional).
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson

from tracelake.sdk._export import BatchExporter
from tracelake.sdk.middleware import request_id_var

__all__ = [
    "DEFAULT_ENDPOINT",
    "LOGS_PATH",
    "JSONFormatter",
    "TracelakeHandler",
    "configure_logging",
]

#: Where a tracelake server listens by default.
DEFAULT_ENDPOINT: Final = "http://127.0.0.1:7700"
#: The server's NDJSON log intake.
LOGS_PATH: Final = "/api/v1/logs"

_PLAIN_RECORD: Final = logging.LogRecord("", logging.INFO, "", 0, "", None, None)
#: How many attributes a record without ``extra=`` has (formatters may add two more).
_PLAIN_SIZE: Final = len(_PLAIN_RECORD.__dict__)
#: LogRecord attributes that are never copied as ``extra=`` fields: the standard ones,
#: what formatters add, and the OpenTelemetry logging instrumentation's copies of the
#: trace context (we write that context ourselves).
_RESERVED: Final = frozenset(_PLAIN_RECORD.__dict__) | {
    "message",
    "asctime",
    "taskName",
    "otelSpanID",
    "otelTraceID",
    "otelTraceSampled",
    "otelServiceName",
}
#: Fields an ``extra=`` key may not overwrite.
_PROTECTED: Final = frozenset({"@timestamp", "level", "logger", "message"})

_OPTIONS: Final = orjson.OPT_NON_STR_KEYS

_SpanGetter = Callable[[], Any]


def _otel_current_span() -> _SpanGetter | None:
    """``opentelemetry.trace.get_current_span`` if the API is installed, else ``None``."""
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    return trace.get_current_span


def _type_name(cls: type) -> str:
    module = getattr(cls, "__module__", "")
    if module in ("builtins", "__main__", ""):
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


class JSONFormatter(logging.Formatter):
    """Formats a record as one JSON object with Logstash-compatible field names.

    Fields, in order: ``@timestamp`` (UTC, microseconds, ``Z``), ``level``, ``logger``,
    ``message``, ``thread_name``, ``service``, ``host``, then when they apply:
    ``version``, ``env``, the static fields, ``trace_id``/``span_id`` (lower hex, from
    the active OpenTelemetry span), ``request_id`` (from the request middleware),
    ``stack_trace``/``error.type``/``error.message`` (exceptions), ``stack_info``,
    ``file``/``line``/``function`` (if ``include_location``), and every ``extra=``
    field. Values JSON cannot hold are written with ``str()``.

    Args:
        service: Name of the service; the ``service`` field of every record.
        version: Version of the service, written as ``version`` if given.
        env: Deployment environment (``prod``, ``staging``...), written as ``env``.
        host: Host name; defaults to :func:`socket.gethostname`.
        static_fields: More fields written on every record (region, pod...).
        include_location: Also write the source ``file``, ``line`` and ``function``.
        trace_context: Write OpenTelemetry ``trace_id``/``span_id`` when a span is
            active (needs ``opentelemetry-api``; silently off without it).
    """

    def __init__(
        self,
        service: str = "unknown_service",
        *,
        version: str | None = None,
        env: str | None = None,
        host: str | None = None,
        static_fields: Mapping[str, Any] | None = None,
        include_location: bool = False,
        trace_context: bool = True,
    ) -> None:
        super().__init__()
        static: dict[str, Any] = {
            "service": service,
            "host": host if host is not None else socket.gethostname(),
        }
        if version is not None:
            static["version"] = version
        if env is not None:
            static["env"] = env
        if static_fields:
            static.update(static_fields)
        self.service = service
        self.static_fields: Mapping[str, Any] = static
        self.include_location = include_location
        self._current_span = _otel_current_span() if trace_context else None
        self._second: tuple[int, str] = (-1, "")
        self._span_ids: tuple[object, str | None, str | None] = (None, None, None)

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of JSON (no trailing newline)."""
        return self.format_bytes(record).decode()

    def format_bytes(self, record: logging.LogRecord) -> bytes:
        """Return the record as UTF-8 JSON bytes: what the handler ships, undecoded."""
        created = record.created
        sec = int(created)
        second = self._second
        if second[0] != sec:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(sec))
            second = self._second = (sec, prefix)
        try:
            message = record.getMessage()
        except Exception as exc:  # bad %-args: keep the line rather than lose it
            message = f"{_safe_str(record.msg)} (log args {record.args!r}: {exc})"
        out: dict[str, Any] = {
            "@timestamp": "%s%06dZ" % (second[1], (created - sec) * 1_000_000),  # noqa: UP031
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            "thread_name": record.threadName,
        }
        out.update(self.static_fields)

        current_span = self._current_span
        if current_span is not None:
            ctx = current_span().get_span_context()
            ids = self._span_ids  # a request logs many lines from one span: hex them once
            if ids[0] is not ctx:
                if not ctx.is_valid:
                    ids = (ctx, None, None)
                else:
                    ids = (ctx, format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"))
                self._span_ids = ids
            if ids[1] is not None:
                out["trace_id"] = ids[1]
                out["span_id"] = ids[2]
        request_id = request_id_var.get()
        if request_id is not None:
            out["request_id"] = request_id

        exc_info = record.exc_info
        if exc_info and isinstance(exc_info, tuple) and exc_info[0] is not None:
            if not record.exc_text:
                record.exc_text = self.formatException(exc_info)
            out["error.type"] = _type_name(exc_info[0])
            out["error.message"] = _safe_str(exc_info[1])
        if record.exc_text:
            out["stack_trace"] = record.exc_text
        if record.stack_info:
            out["stack_info"] = self.formatStack(record.stack_info)
        if self.include_location:
            out["file"] = record.pathname
            out["line"] = record.lineno
            out["function"] = record.funcName

        attrs = record.__dict__
        if len(attrs) > _PLAIN_SIZE:  # a plain record has nothing more to look at
            for key in attrs.keys() - _RESERVED:
                if key not in _PROTECTED:
                    out[key] = attrs[key]
        try:
            return orjson.dumps(out, default=_safe_str, option=_OPTIONS)
        except Exception:
            return self._dumps_slow(out)

    @staticmethod
    def _dumps_slow(out: dict[str, Any]) -> bytes:
        """What orjson refuses (huge ints, cycles...): stdlib json, then plain strings."""
        try:
            return json.dumps(out, default=_safe_str, ensure_ascii=False, skipkeys=True).encode()
        except Exception:
            flat = {str(k): v if isinstance(v, str) else _safe_str(v) for k, v in out.items()}
            return orjson.dumps(flat)


class TracelakeHandler(logging.Handler):
    """Ships records to a tracelake server from a background thread; never blocks.

    ``emit`` formats the record and appends it to a bounded queue; when the queue is
    full the record is dropped and counted (:attr:`dropped`, and the Prometheus
    counter ``tracelake_sdk_dropped_records_total{signal="logs"}``). A daemon thread
    POSTs gzip'd NDJSON batches to ``{endpoint}/api/v1/logs`` every ``batch_size``
    records or ``flush_interval`` seconds, retrying connection errors, 408, 429 and
    5xx with exponential backoff and jitter (honouring ``Retry-After``). Pending
    records get a bounded flush at :meth:`close` and at interpreter exit.

    Args:
        endpoint: Base URL of the tracelake server.
        service: Service name (ignored if ``formatter`` is given).
        token: Bearer token for the server.
        version: Service version (ignored if ``formatter`` is given).
        env: Deployment environment (ignored if ``formatter`` is given).
        level: Handler level.
        formatter: Defaults to a :class:`JSONFormatter` for ``service``. Any formatter
            works, but the server expects one JSON object per record.
        batch_size: Records per POST at most.
        flush_interval: Seconds between sends of a partial batch.
        queue_size: Records held in memory at most; beyond, records are dropped.
        timeout: Socket timeout of one POST, in seconds.
        max_retries: Retries of a batch before it is given up.
        close_timeout: Bound, in seconds, on :meth:`flush`, :meth:`close` and the
            flush at exit.
        warn: Note delivery problems on stderr (rate limited).
    """

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        *,
        service: str = "unknown_service",
        token: str | None = None,
        version: str | None = None,
        env: str | None = None,
        level: int | str = logging.NOTSET,
        formatter: logging.Formatter | None = None,
        batch_size: int = 1000,
        flush_interval: float = 1.0,
        queue_size: int = 10_000,
        timeout: float = 10.0,
        max_retries: int = 6,
        close_timeout: float = 5.0,
        warn: bool = True,
    ) -> None:
        super().__init__(level)
        self._format_bytes: Callable[[logging.LogRecord], bytes] | None = None
        self.exporter = BatchExporter(
            endpoint,
            LOGS_PATH,
            signal="logs",
            token=token,
            batch_size=batch_size,
            flush_interval=flush_interval,
            queue_size=queue_size,
            timeout=timeout,
            max_retries=max_retries,
            close_timeout=close_timeout,
            warn=warn,
        )
        self.setFormatter(formatter or JSONFormatter(service, version=version, env=env))

    def setFormatter(self, fmt: logging.Formatter | None) -> None:
        """Set the formatter; a :class:`JSONFormatter` is used without a str round trip."""
        super().setFormatter(fmt)
        self._format_bytes = fmt.format_bytes if isinstance(fmt, JSONFormatter) else None

    @property
    def dropped(self) -> int:
        """Records dropped because the queue was full (or the handler closed)."""
        return self.exporter.dropped

    def handle(self, record: logging.LogRecord) -> bool:
        """Filter and emit without taking the handler lock: :meth:`emit` is thread-safe."""
        rv: Any = self.filter(record)
        if isinstance(rv, logging.LogRecord):  # Python 3.12+: a filter may swap the record
            record = rv
        if rv:
            self.emit(record)
        return bool(rv)

    def emit(self, record: logging.LogRecord) -> None:
        """Format the record and queue it. Never blocks; never raises."""
        try:
            exporter = self.exporter
            if exporter.is_full():  # do not pay for formatting a record we will drop
                exporter.drop()
                return
            format_bytes = self._format_bytes
            if format_bytes is not None:
                exporter.submit(format_bytes(record))
            else:
                exporter.submit(self.format(record).encode())
        except Exception:
            self.handleError(record)

    def flush(self, timeout: float | None = None) -> bool:  # type: ignore[override]
        """Send what is queued now.

        Args:
            timeout: Seconds to wait at most; ``None`` means ``close_timeout``.

        Returns:
            ``True`` if everything queued before the call was dealt with in time.
        """
        return self.exporter.flush(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Flush (bounded by ``timeout``, default ``close_timeout``) and stop.

        Args:
            timeout: Seconds to wait at most; ``None`` means ``close_timeout``.
        """
        try:
            self.exporter.close(timeout)
        finally:
            super().close()


_CONFIGURED: Final = "_tracelake_configured"


def configure_logging(
    service: str,
    endpoint: str = DEFAULT_ENDPOINT,
    level: int | str = "INFO",
    token: str | None = None,
    console: bool = True,
    version: str | None = None,
    env: str | None = None,
    **handler_options: Any,
) -> TracelakeHandler:
    """Send the root logger's records to tracelake (and, optionally, stderr) as JSON.

    Idempotent: calling it again replaces the handlers a previous call installed
    (reusing them if nothing changed) and never duplicates them. Handlers installed
    by anything else are left alone.

    Example::

        from tracelake.sdk.logging import configure_logging

        configure_logging(service="billing", version="1.4.2", env="prod")

    Args:
        service: Service name written on every record.
        endpoint: Base URL of the tracelake server.
        level: Root logger level (name or number).
        token: Bearer token for the server.
        console: Also write the same JSON lines to stderr (container logs, and
            what you see when the collector is down).
        version: Service version written on every record.
        env: Deployment environment written on every record.
        **handler_options: Passed on to :class:`TracelakeHandler` (``batch_size``,
            ``flush_interval``, ``queue_size``, ``timeout``, ``max_retries``,
            ``close_timeout``, ``warn``).

    Returns:
        The installed handler (for :meth:`TracelakeHandler.flush` or its counters).
    """
    if isinstance(level, str):
        level = level.upper()
    key = (service, endpoint, token, console, version, env, sorted(handler_options.items()))
    root = logging.getLogger()
    root.setLevel(level)
    ours = [h for h in root.handlers if getattr(h, _CONFIGURED, None) is not None]
    for handler in ours:
        if isinstance(handler, TracelakeHandler) and getattr(handler, _CONFIGURED) == key:
            others = [h for h in ours if h is not handler]
            if len(others) == int(console):  # same settings: keep what is there
                return handler
    for handler in ours:
        root.removeHandler(handler)
        handler.close()

    formatter = JSONFormatter(service, version=version, env=env)
    tracelake = TracelakeHandler(endpoint, token=token, formatter=formatter, **handler_options)
    setattr(tracelake, _CONFIGURED, key)
    root.addHandler(tracelake)
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(formatter)
        setattr(stream, _CONFIGURED, key)
        root.addHandler(stream)
    return tracelake
