"""Which peer addresses the stream listeners (JSON lines, syslog, forward) accept.

Those protocols have no place for a token (Logstash encoders, rsyslog, ``SysLogHandler``
send bytes and nothing else), so they are guarded by where a connection comes from:
the ``stream_allow_from`` networks, loopback only by default. Fluentd forward with a
``forward_shared_key`` is authenticated by its handshake and accepts any address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from tracelake.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK = ("127.0.0.0/8", "::1/128")


def parse_networks(values: Iterable[str], setting: str = "stream_allow_from") -> list[str]:
    """Check every entry is an address or CIDR network; return them normalised."""
    out: list[str] = []
    for value in values:
        try:
            out.append(str(ipaddress.ip_network(str(value).strip(), strict=False)))
        except ValueError as e:
            raise ConfigError(
                f"{setting}: {value!r} is not an address or network like 10.0.0.0/8 ({e})"
            ) from e
    return out


class AllowList:
    """Membership test of a peer address in a fixed set of networks."""

    __slots__ = ("_networks",)

    def __init__(self, networks: Iterable[str]) -> None:
        self._networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in networks
        )

    def __call__(self, host: str) -> bool:
        """Whether ``host`` (a peer's address as the socket reports it) may connect."""
        try:
            address = ipaddress.ip_address(host.partition("%")[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._networks)
