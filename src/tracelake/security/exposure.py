"""The one rule about where an unprotected server may listen: loopback only.

With no tokens configured anyone who reaches a port can write and read everything, so
the server then binds only to a loopback address and refuses any other ``host``.
"""

from __future__ import annotations

import ipaddress

from tracelake.errors import ConfigError


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (``localhost`` counts; other names do not)."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, has_tokens: bool) -> None:
    """Refuse to bind a non-loopback ``host`` when nothing would check who connects."""
    if has_tokens or is_loopback(host):
        return
    raise ConfigError(
        f"refusing to listen on {host} without tokens: anyone who reaches it could read and "
        "write everything. Configure tokens (see docs/security.md) or bind 127.0.0.1"
    )
