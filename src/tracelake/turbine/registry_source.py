"""Clusters from the service registry: cluster name = service name.

Why: with the registry, a service's instances announce themselves (and their Hystrix
stream path) instead of being listed in ``turbine_clusters``; the hub asks this source
again every ``poll_interval_s`` while a cluster is watched, so instances that register,
go down or deregister join and leave the cluster's aggregate within about a second.
The lookup is an in-memory read, cheap enough to poll that often.
"""

from __future__ import annotations

from tracelake.registry.state import Registry
from tracelake.turbine.sources import Instance


class RegistrySource:
    """The instances of a registered service that are up and serve a Hystrix stream."""

    poll_interval_s = 1.0

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def instances(self, cluster: str) -> list[Instance] | None:
        """None when no instance of the service is registered (the cluster is unknown);
        an empty list when it has instances but none up with a stream."""
        if not self.registry.knows(cluster):
            return None
        return [
            Instance(r.address, r.url(r.hystrix_stream_path), r.service)
            for r in self.registry.instances(cluster)
            if r.status == "up" and r.hystrix_stream_path is not None
        ]

    def clusters(self) -> set[str]:
        """The registered services with an instance up that serves a Hystrix stream: the
        clusters whose breaker flips the server records without anyone watching."""
        return {
            r.service
            for r in self.registry.instances()
            if r.status == "up" and r.hystrix_stream_path is not None
        }
