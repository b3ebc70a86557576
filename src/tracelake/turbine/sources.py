"""Which instances make a cluster: the ``ClusterSource`` seam.

Why a seam: Turbine found its instances in static config, files, Eureka or ZooKeeper.
Here the static table in ``tracelake.toml`` (``turbine_clusters``) comes first; the
service registry (service name -> instances carrying a Hystrix stream path) plugs in
by implementing ``ClusterSource`` — one async method — and is combined with the static
table by ``FirstMatch``:

    class RegistrySource:
        poll_interval_s = 5.0

        async def instances(self, cluster: str) -> list[Instance] | None:
            found = registry.lookup(cluster)            # whatever the registry offers
            if found is None:
                return None
            return [Instance(i.address, f"http://{i.address}{i.stream_path}", cluster)
                    for i in found]

    TurbineHub(FirstMatch(StaticClusterSource(settings.turbine_clusters), RegistrySource()))

The hub asks its source again every ``poll_interval_s`` while a cluster is watched and
follows the instances that come and go.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from tracelake.errors import ConfigError

STREAM_PATH = "/hystrix.stream"


@dataclass(frozen=True, slots=True)
class Instance:
    """One instance of a cluster.

    Attributes:
        host: How the instance is named in aggregates and records (``host:port``).
        url: Its Hystrix stream URL.
        service: The service it belongs to (``service`` of its breaker records).
    """

    host: str
    url: str
    service: str


class ClusterSource(Protocol):
    """Where a cluster's instances come from."""

    #: Seconds between two membership look-ups of a watched cluster.
    poll_interval_s: float

    async def instances(self, cluster: str) -> list[Instance] | None:
        """The cluster's instances now; None when the cluster is unknown to this source."""
        ...


def instance_from_entry(entry: str, service: str) -> Instance:
    """An instance from a config entry: ``host:port`` or a full stream URL.

    Raises:
        ConfigError: The entry is neither.
    """
    text = entry.strip()
    if "://" not in text:
        text = f"http://{text}{STREAM_PATH}"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"turbine_clusters.{service}: {entry!r} is not host:port or an http(s) stream URL"
        )
    try:
        port = parts.port
    except ValueError as e:
        raise ConfigError(f"turbine_clusters.{service}: {entry!r} has a bad port") from e
    default_port = 443 if parts.scheme == "https" else 80
    return Instance(f"{parts.hostname}:{port or default_port}", text, service)


class StaticClusterSource:
    """Clusters listed in ``turbine_clusters``: ``{orders = ["127.0.0.1:8001", ...]}``.

    Entries are checked when the server starts, so a typo stops it with one line.
    """

    poll_interval_s = 60.0

    def __init__(self, clusters: Mapping[str, Sequence[str]]) -> None:
        self._clusters: dict[str, list[Instance]] = {}
        for name, entries in clusters.items():
            if isinstance(entries, str) or not isinstance(entries, Sequence):
                raise ConfigError(
                    f"turbine_clusters.{name} must be a list of host:port or stream URLs"
                )
            self._clusters[str(name)] = [instance_from_entry(str(e), str(name)) for e in entries]

    async def instances(self, cluster: str) -> list[Instance] | None:
        found = self._clusters.get(cluster)
        return None if found is None else list(found)


class FirstMatch:
    """Several sources, asked in order; the first that knows the cluster answers."""

    def __init__(self, *sources: ClusterSource) -> None:
        self.sources = sources
        self.poll_interval_s = min((s.poll_interval_s for s in sources), default=60.0)

    async def instances(self, cluster: str) -> list[Instance] | None:
        for source in self.sources:
            found = await source.instances(cluster)
            if found is not None:
                return found
        return None
