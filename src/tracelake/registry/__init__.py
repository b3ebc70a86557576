"""The service registry: which instances of which services exist, and where they serve.

Why in tracelake: the fleet's metrics scraper, Prometheus (through HTTP service
discovery) and ``/turbine.stream`` all need to know the instances of a service; a
service registers itself once (``tracelake.sdk.register``) and all three follow it.

Layout: ``model`` is the record and the checks of a registration, ``state`` the
sans-IO registry (leases with an injected clock), ``targets`` what to scrape and the
Prometheus SD shape, ``persist`` the state file, ``keeper`` the timer and file shell.
"""

from __future__ import annotations

from tracelake.registry.model import InstanceRecord, Registration, parse_registration
from tracelake.registry.state import Registry
from tracelake.registry.targets import ScrapeTarget, static_targets

__all__ = [
    "InstanceRecord",
    "Registration",
    "Registry",
    "ScrapeTarget",
    "parse_registration",
    "static_targets",
]
