"""Turbine in the server: ``/turbine.stream?cluster=NAME`` over every instance's Hystrix stream.

Why here: the lake already holds a fleet's logs and traces; aggregating the fleet's
``/hystrix.stream`` in the same process lets one Hystrix Dashboard URL show a cluster,
and lets each circuit's open/close be written to the lake as a searchable log record.

Layout: ``aggregate`` is the sans-IO core (Turbine's rules over parsed events),
``sources`` says which instances make a cluster (``registry_source``: the registered
instances of a service), ``client`` reads one instance's stream,
``hub`` runs one aggregator per watched cluster and fans its ticks out to clients.
"""

from __future__ import annotations

from tracelake.turbine.aggregate import BreakerFlip, ClusterAggregate
from tracelake.turbine.hub import TurbineHub
from tracelake.turbine.registry_source import RegistrySource
from tracelake.turbine.sources import (
    ClusterSource,
    FirstMatch,
    Instance,
    StaticClusterSource,
    instance_from_entry,
)

__all__ = [
    "BreakerFlip",
    "ClusterAggregate",
    "ClusterSource",
    "FirstMatch",
    "Instance",
    "RegistrySource",
    "StaticClusterSource",
    "TurbineHub",
    "instance_from_entry",
]
