"""The demo services' business events and registry entries, through the SDK only.

Why a module: a service calls these from request handlers and from its start-up, and a
demo service must never fail a request, or refuse to start, because the observability
around it had a problem. So each call goes to ``tracelake.sdk`` (``configure_events`` /
``publish_event``, ``register``) and a call that raises is logged once and not tried
again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import tracelake.sdk

log = logging.getLogger("demo.extras")

_broken: set[str] = set()
_registration: Any = None

#: Heartbeats per registry TTL the demo configures (docs/demo.md): a missed one is no outage.
HEARTBEAT_INTERVAL_S = 5.0


def _failed(name: str, exc: Exception) -> None:
    _broken.add(name)
    log.warning(
        "tracelake.sdk.%s failed (%s: %s); the demo stops calling it", name, type(exc).__name__, exc
    )


def configure(service: str, endpoint: str) -> None:
    """Send this process's events to ``endpoint``, stamped with ``service``."""
    if "configure_events" in _broken:
        return
    try:
        tracelake.sdk.configure_events(service=service, endpoint=endpoint, flush_interval=0.5)
    except Exception as exc:
        _failed("configure_events", exc)


def publish_event(event_type: str, payload: Mapping[str, Any], key: str | None = None) -> None:
    """A business event (``order_placed``...) into the lake's ``events`` table."""
    if "publish_event" in _broken:
        return
    try:
        tracelake.sdk.publish_event(event_type, payload, key=key)
    except Exception as exc:
        _failed("publish_event", exc)


def register(service: str, port: int, endpoint: str) -> None:
    """This instance into the server's registry: its metrics get scraped, its Hystrix
    stream joins the service's Turbine cluster. Deregistered when the process exits."""
    global _registration
    if "register" in _broken:
        return
    try:
        _registration = tracelake.sdk.register(
            service=service,
            port=port,
            host="127.0.0.1",
            metrics_path="/metrics",
            hystrix_stream_path="/hystrix.stream",
            health_path="/health",
            metadata={"demo": "true"},
            endpoint=endpoint,
            heartbeat_interval=HEARTBEAT_INTERVAL_S,
        )
    except Exception as exc:
        _failed("register", exc)


def deregister() -> None:
    """Leave the registry now (at shutdown), rather than when the TTL runs out."""
    global _registration
    registration, _registration = _registration, None
    if registration is None:
        return
    try:
        registration.close()
    except Exception as exc:
        _failed("deregister", exc)


def flush(timeout: float) -> None:
    """Wait up to ``timeout`` s for the events published so far to be acknowledged."""
    try:
        tracelake.sdk.flush_events(timeout)
    except Exception as exc:
        _failed("flush_events", exc)
