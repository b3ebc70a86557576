"""One call to trace a service into tracelake with OpenTelemetry (the Sleuth role).

Why: every service should get the same tracing set-up — a tracer provider named after
the service, spans exported over OTLP/HTTP to tracelake, trace context accepted and
sent both as W3C ``traceparent`` and as Zipkin's B3 (single ``b3`` header and the
``X-B3-*`` headers, so Brave/Sleuth services and OpenTelemetry services join the same
traces), and the HTTP clients it uses instrumented — without each team wiring
OpenTelemetry by hand. Nothing here is a tracer: it is OpenTelemetry's SDK and its
instrumentation packages, configured.

Example::

    from tracelake.sdk.tracing import configure_tracing, instrument_asgi

    configure_tracing(service="checkout", endpoint="http://collector:7700")
    app = instrument_asgi(app)            # or instrument_wsgi(app) for Flask/Django

``pip install tracelake`` brings what it needs (opentelemetry-sdk,
opentelemetry-exporter-otlp-proto-http, opentelemetry-propagator-b3). The
instrumentation packages (``opentelemetry-instrumentation-asgi``, ``-wsgi``,
``-requests``, ``-httpx``: the ``instrument`` extra) are used when installed and
imported only then. Imports
nothing of the server (no duckdb, pyarrow or starlette).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

__all__ = [
    "DEFAULT_ENDPOINT",
    "TRACES_PATH",
    "configure_tracing",
    "instrument_asgi",
    "instrument_wsgi",
    "shutdown_tracing",
]

log = logging.getLogger("tracelake.sdk.tracing")

#: Where a tracelake server listens by default.
DEFAULT_ENDPOINT: Final = "http://127.0.0.1:7700"
#: The server's OTLP/HTTP trace intake.
TRACES_PATH: Final = "/v1/traces"

#: HTTP client instrumentations turned on when their package is installed:
#: (module, instrumentor class).
_CLIENT_INSTRUMENTORS: Final = (
    ("opentelemetry.instrumentation.requests", "RequestsInstrumentor"),
    ("opentelemetry.instrumentation.httpx", "HTTPXClientInstrumentor"),
)

_lock = threading.Lock()
_provider: TracerProvider | None = None
_settings: tuple[Any, ...] | None = None


def configure_tracing(
    service: str,
    endpoint: str = DEFAULT_ENDPOINT,
    *,
    version: str | None = None,
    env: str | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    token: str | None = None,
    sample_ratio: float = 1.0,
    instrument_clients: bool = True,
    export_interval_ms: int = 1000,
) -> TracerProvider:
    """Set up OpenTelemetry tracing for this process, exporting to tracelake.

    Installs (globally, once per process, as OpenTelemetry requires) a tracer provider
    whose resource carries ``service.name`` (and ``service.version``,
    ``deployment.environment.name``), a batch OTLP/HTTP exporter to
    ``endpoint + /v1/traces``, a parent-based ratio sampler, and a composite
    propagator of W3C trace context + baggage + B3 multi-header + B3 single-header.
    With ``instrument_clients`` the ``requests`` and ``httpx`` instrumentations are
    turned on when installed (calls to ``endpoint`` itself are never traced).

    A second call with the same arguments returns the same provider; with different
    arguments it logs a warning and still returns the first (OpenTelemetry does not
    allow replacing the global provider).

    Args:
        service: ``service.name`` of every span.
        endpoint: Base URL of the tracelake server.
        version: ``service.version``.
        env: ``deployment.environment.name``.
        resource_attributes: More resource attributes (``host.name``, ``k8s.pod.name``...).
        token: Bearer token for the server.
        sample_ratio: Fraction of new traces recorded (0-1); calls that arrive with a
            sampling decision follow it.
        instrument_clients: Trace outgoing ``requests``/``httpx`` calls.
        export_interval_ms: Longest time a finished span waits before it is sent.

    Returns:
        The tracer provider (``provider.force_flush()`` before a short-lived process exits).
    """
    global _provider, _settings
    settings = (service, endpoint, version, env, sorted((resource_attributes or {}).items()),
                token, sample_ratio, instrument_clients, export_interval_ms)  # fmt: skip
    with _lock:
        if _provider is not None:
            if settings != _settings:
                log.warning("tracing is already configured in this process; keeping that set-up")
            return _provider
        _provider = _build_provider(
            service, endpoint, version=version, env=env,
            resource_attributes=resource_attributes, token=token,
            sample_ratio=sample_ratio, export_interval_ms=export_interval_ms,
        )  # fmt: skip
        _settings = settings
    from opentelemetry import propagate, trace

    trace.set_tracer_provider(_provider)
    propagate.set_global_textmap(_propagator())
    if instrument_clients:
        _instrument_clients(_provider, endpoint)
    return _provider


def _build_provider(
    service: str,
    endpoint: str,
    *,
    version: str | None,
    env: str | None,
    resource_attributes: Mapping[str, Any] | None,
    token: str | None,
    sample_ratio: float,
    export_interval_ms: int,
) -> TracerProvider:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"tracing needs OpenTelemetry ({e.name} is missing): reinstall tracelake, "
            "whose dependencies include it (pip install --force-reinstall tracelake)"
        ) from e
    if not 0.0 <= sample_ratio <= 1.0:
        raise ValueError(f"sample_ratio must be from 0 to 1, got {sample_ratio}")
    attributes: dict[str, Any] = {"service.name": service}
    if version:
        attributes["service.version"] = version
    if env:
        attributes["deployment.environment.name"] = env
    attributes.update(resource_attributes or {})
    provider = TracerProvider(
        resource=Resource.create(attributes),
        sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
    )
    headers = {"Authorization": f"Bearer {token}"} if token else None
    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + TRACES_PATH, headers=headers)
    provider.add_span_processor(
        BatchSpanProcessor(exporter, schedule_delay_millis=export_interval_ms)
    )
    return provider


def _propagator() -> Any:
    """W3C trace context + baggage + B3 multi + B3 single, one composite.

    On extraction each propagator that finds valid headers overrides the ones before
    it, so ``traceparent`` wins over ``b3``, which wins over ``X-B3-*`` (B3's own rule).
    """
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.propagators.b3 import B3MultiFormat, B3SingleFormat
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return CompositePropagator(
        [B3MultiFormat(), B3SingleFormat(), TraceContextTextMapPropagator(), W3CBaggagePropagator()]
    )


def _instrument_clients(provider: TracerProvider, endpoint: str) -> None:
    excluded = endpoint.rstrip("/")
    for module_name, class_name in _CLIENT_INSTRUMENTORS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        instrumentor = getattr(module, class_name)()
        if instrumentor.is_instrumented_by_opentelemetry:
            continue
        options: dict[str, Any] = {"tracer_provider": provider}
        if class_name == "RequestsInstrumentor":
            options["excluded_urls"] = excluded
        instrumentor.instrument(**options)


def instrument_asgi(app: Any, **options: Any) -> Any:
    """``app`` wrapped in OpenTelemetry's ASGI middleware: one SERVER span per request.

    Needs ``opentelemetry-instrumentation-asgi``. ``options`` go to its
    ``OpenTelemetryMiddleware`` (``excluded_urls``, hooks...); the per-message
    ``http send``/``http receive`` spans are left out unless ``exclude_spans`` says.
    """
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    options.setdefault("exclude_spans", ["receive", "send"])
    options.setdefault("tracer_provider", _provider)
    return OpenTelemetryMiddleware(app, **options)


def instrument_wsgi(app: Any, **options: Any) -> Any:
    """``app`` wrapped in OpenTelemetry's WSGI middleware: one SERVER span per request.

    Needs ``opentelemetry-instrumentation-wsgi``; ``options`` go to its middleware.
    """
    from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

    options.setdefault("tracer_provider", _provider)
    return OpenTelemetryMiddleware(app, **options)


def shutdown_tracing(timeout_ms: int = 5000) -> None:
    """Send what is buffered and stop exporting (also done at interpreter exit)."""
    with _lock:
        provider = _provider
    if provider is not None:
        provider.force_flush(timeout_ms)
        provider.shutdown()
