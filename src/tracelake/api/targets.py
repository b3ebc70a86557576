"""``GET /prometheus/api/v1/targets``: every scrape target and how its last scrape went.

Why: "is my service scraped, and if not, why" is the first question when a metric is
missing; Prometheus answers it on its Targets page from this endpoint, and the Services
page here does the same. The shape is Prometheus's (``activeTargets`` with ``health``,
``lastScrape``, ``lastScrapeDuration``, ``lastError``; ``droppedTargets`` always
empty: no relabelling drops targets here), so tools written for Prometheus read it.
``scrapePool=NAME`` keeps one service's targets (the pool is the ``job``, the service).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from tracelake.api.context import context
from tracelake.api.endpoints import READ, Endpoint
from tracelake.api.responses import JSON
from tracelake.metrics.scrape import TargetHealth

#: What Prometheus reports as the last scrape of a target not scraped yet.
NEVER = "0001-01-01T00:00:00Z"


def _duration(seconds: float) -> str:
    """A Prometheus duration (``15s``, ``1m``, ``500ms``) for the interval and timeout."""
    ms = round(seconds * 1000)
    if ms % 60_000 == 0 and ms:
        return f"{ms // 60_000}m"
    if ms % 1000 == 0:
        return f"{ms // 1000}s"
    return f"{ms}ms"


def target_json(health: TargetHealth, interval_s: float, timeout_s: float) -> dict[str, Any]:
    """One active target as Prometheus describes it."""
    labels = dict(health.labels)
    scraped = health.last_scrape > 0
    return {
        "discoveredLabels": labels,
        "labels": labels,
        "scrapePool": labels.get("job", ""),
        "scrapeUrl": health.url,
        "globalUrl": health.url,
        "lastError": health.last_error,
        "lastScrape": (
            datetime.fromtimestamp(health.last_scrape, UTC).isoformat().replace("+00:00", "Z")
            if scraped
            else NEVER
        ),
        "lastScrapeDuration": health.last_duration_s if scraped else 0.0,
        "lastSamplesScraped": health.samples,
        "health": health.health,
        "scrapeInterval": _duration(interval_s),
        "scrapeTimeout": _duration(timeout_s),
    }


async def targets(request: Request) -> Response:
    scraper = context(request).scraper
    pool = request.query_params.get("scrapePool") or ""
    found = [
        target_json(h, scraper.interval_s, scraper.timeout_s)
        for h in scraper.health()
        if not pool or h.labels.get("job") == pool
    ]
    found.sort(key=lambda t: (t["scrapePool"], t["labels"].get("instance", ""), t["scrapeUrl"]))
    return JSON({"status": "success", "data": {"activeTargets": found, "droppedTargets": []}})


endpoints = [Endpoint("/prometheus/api/v1/targets", targets, ("GET",), READ)]
