"""The four example services of ``tracelake demo``, instrumented only through the SDK.

gateway → orders → payments and inventory. Each module builds one service's routes; the
shared shape (health, metrics, the Hystrix stream, one log line per request, tracing,
breaker-guarded downstream calls) lives in :mod:`~tracelake.demo.services.app` and
:mod:`~tracelake.demo.services.downstream`, so a service module reads as its business.
"""

from __future__ import annotations

#: Every service, callees before callers, with the services it calls.
TOPOLOGY: dict[str, tuple[str, ...]] = {
    "inventory": (),
    "payments": (),
    "orders": ("payments", "inventory"),
    "gateway": ("orders",),
}
