"""SDK features the demo uses once they exist: business events and service registration.

Why: ``tracelake.sdk.publish_event`` and ``tracelake.sdk.register`` are being built
separately. The demo looks them up at run time and calls them when ``tracelake.sdk``
has them, so it gains events and registry entries (and the Circuits page its clusters)
without a change here; until then these calls do nothing. A call that fails is logged
once and not tried again: a demo service never fails a request because of it.
"""

from __future__ import annotations

import logging
from typing import Any

import tracelake.sdk

log = logging.getLogger("demo.extras")

_broken: set[str] = set()


def _sdk_function(name: str) -> Any:
    if name in _broken or not hasattr(tracelake.sdk, name):
        return None
    return getattr(tracelake.sdk, name)


def _failed(name: str, exc: Exception) -> None:
    _broken.add(name)
    log.warning(
        "tracelake.sdk.%s failed (%s: %s); the demo stops calling it", name, type(exc).__name__, exc
    )


def publish_event(event_type: str, **fields: Any) -> None:
    """A business event (``order_placed``...) into the lake's ``events`` table."""
    publish = _sdk_function("publish_event")
    if publish is None:
        return
    try:
        publish(event_type, fields)
    except Exception as exc:
        _failed("publish_event", exc)


def register(service: str, url: str, endpoint: str) -> None:
    """This service instance into the server's registry (Turbine reads its stream)."""
    register_fn = _sdk_function("register")
    if register_fn is None:
        return
    try:
        register_fn(service=service, url=url, endpoint=endpoint)
    except Exception as exc:
        _failed("register", exc)
