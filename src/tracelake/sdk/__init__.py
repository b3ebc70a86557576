"""What services import: logging, tracing, breakers, events and registry clients.

Importable with plain ``pip install tracelake``: nothing here may import duckdb,
pyarrow, starlette or any other part of the server. Names are loaded on first use, so
``import tracelake.sdk`` stays cheap for a service that only wants a breaker.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "configure_logging": "tracelake.sdk.logging",
    "JSONFormatter": "tracelake.sdk.logging",
    "TracelakeHandler": "tracelake.sdk.logging",
    "ASGIRequestIdMiddleware": "tracelake.sdk.middleware",
    "WSGIRequestIdMiddleware": "tracelake.sdk.middleware",
    "get_request_id": "tracelake.sdk.middleware",
    "bind_request_id": "tracelake.sdk.middleware",
    "configure_tracing": "tracelake.sdk.tracing",
    "CircuitBreaker": "tracelake.sdk.breaker",
    "CircuitOpenError": "tracelake.sdk.breaker",
    "get_breaker": "tracelake.sdk.breaker",
    "register": "tracelake.sdk.registry",
    "Registration": "tracelake.sdk.registry",
    "configure_events": "tracelake.sdk.events",
    "flush_events": "tracelake.sdk.events",
    "publish_event": "tracelake.sdk.events",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tracelake.sdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
