"""What to scrape: registered instances that are up, plus static targets from the config.

Why one place: tracelake's own scraper and a real Prometheus (through HTTP service
discovery) must see the same list, so both are built here from ``ScrapeTarget``.
Static targets come from the ``scrape_targets`` setting::

    [scrape_targets]
    orders = ["127.0.0.1:8001", "http://10.0.0.7:9100/custom/metrics"]

``host:port`` means ``http://host:port/metrics``; a URL keeps its scheme and path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tracelake.errors import ConfigError
from tracelake.registry.model import SERVICE_RE, InstanceRecord

_LABEL_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
META = "__meta_tracelake_"


@dataclass(frozen=True, slots=True)
class ScrapeTarget:
    """One endpoint to scrape.

    Attributes:
        service: The service it belongs to (the ``job`` of its samples).
        instance: ``host:port`` (the ``instance`` of its samples).
        url: The full metrics URL.
        labels: Extra labels for its samples: the instance's metadata, with names made
            safe for Prometheus (characters other than letters, digits and ``_`` become
            ``_``).
        instance_id: The registered instance it comes from; None for a static target.
    """

    service: str
    instance: str
    url: str
    labels: dict[str, str] = field(default_factory=dict)
    instance_id: str | None = None

    def __hash__(self) -> int:
        return hash((self.service, self.instance, self.url))


def label_name(key: str) -> str:
    """A metadata key as a Prometheus label name."""
    name = _LABEL_UNSAFE.sub("_", key)
    return f"_{name}" if name[:1].isdigit() else name


def target_of(record: InstanceRecord) -> ScrapeTarget:
    return ScrapeTarget(
        service=record.service,
        instance=record.address,
        url=record.url(record.metrics_path),
        labels={label_name(k): v for k, v in record.metadata.items()},
        instance_id=record.instance_id,
    )


def registered_targets(records: Iterable[InstanceRecord]) -> list[ScrapeTarget]:
    """The targets of the instances that are up."""
    return [target_of(r) for r in records if r.status == "up"]


def _static_target(service: str, entry: str) -> ScrapeTarget:
    text = entry.strip()
    if "://" not in text:
        text = f"http://{text}/metrics"
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError as e:
        raise ConfigError(f"scrape_targets.{service}: {entry!r} has a bad port") from e
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"scrape_targets.{service}: {entry!r} is not host:port or an http(s) metrics URL"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    instance = f"{host}:{port or (443 if parts.scheme == 'https' else 80)}"
    path = parts.path or "/metrics"
    url = f"{parts.scheme}://{instance}{path}" + (f"?{parts.query}" if parts.query else "")
    return ScrapeTarget(service=service, instance=instance, url=url)


def static_targets(config: Mapping[str, Sequence[str]]) -> list[ScrapeTarget]:
    """The ``scrape_targets`` setting as targets, checked at start.

    Raises:
        ConfigError: A service name or entry is not usable; the message names it.
    """
    out: list[ScrapeTarget] = []
    for service, entries in config.items():
        if not SERVICE_RE.fullmatch(str(service)):
            raise ConfigError(
                f"scrape_targets: {service!r} is not a service name:"
                " use letters, digits, '.', '_' or '-'"
            )
        if isinstance(entries, str) or not isinstance(entries, Sequence):
            raise ConfigError(f"scrape_targets.{service} must be a list of host:port or URLs")
        out.extend(_static_target(str(service), str(e)) for e in entries)
    return out


def sd_group(target: ScrapeTarget) -> dict[str, Any]:
    """One Prometheus HTTP SD target group for one target.

    ``__scheme__`` and ``__metrics_path__`` make Prometheus scrape the right URL; the
    plain ``service`` label and the metadata labels are kept on every sample; the
    ``__meta_tracelake_*`` labels are there for relabelling and then dropped.
    """
    parts = urlsplit(target.url)
    labels: dict[str, str] = {
        "__scheme__": parts.scheme,
        "__metrics_path__": parts.path or "/metrics",
        "service": target.service,
        f"{META}service": target.service,
        f"{META}source": "static" if target.instance_id is None else "registry",
    }
    if target.instance_id is not None:
        labels[f"{META}instance_id"] = target.instance_id
    for key, value in target.labels.items():
        labels[f"{META}metadata_{key}"] = value
        if not key.startswith("__"):
            labels.setdefault(key, value)
    return {"targets": [target.instance], "labels": labels}
