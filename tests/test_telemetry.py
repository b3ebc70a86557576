"""The server's /metrics is what the docs say: each family in the table of
docs/http-api.md with its type, and every metric any page names published."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ServerProcess

DOCS = Path(__file__).resolve().parents[1] / "docs"
NAME = re.compile(r"tracelake_[a-z0-9_]+")
#: ``tracelake_…`` words of the docs that are not the server's metrics: continuous
#: queries' and the SDK's metrics (its breakers' included, which services expose),
#: registry labels and the UI's session cookie.
NOT_THE_SERVERS = re.compile(
    r"tracelake_(cq_|sdk_|metadata_|breaker_).*|tracelake_(service|source|instance_id|session)"
)


def published(server: ServerProcess) -> dict[str, str]:
    """Every family on /metrics by its exposed name (a counter's ends in ``_total``): its type."""
    text = httpx.get(f"{server.url}/metrics").text
    return {
        f.name + ("_total" if f.type == "counter" else ""): f.type
        for f in text_string_to_metric_families(text)
    }


def documented() -> dict[str, str]:
    """The table under ``GET /metrics`` in docs/http-api.md: each name, its type."""
    section = (DOCS / "http-api.md").read_text().split("## `GET /metrics`", 1)[1]
    table: dict[str, str] = {}
    for line in section.split("\n## ")[0].splitlines():
        cells = line.split("|")
        if len(cells) > 3:
            table |= dict.fromkeys(NAME.findall(cells[1]), cells[2].strip())
    return table


def test_every_metric_is_in_the_table_with_its_type_and_every_one_named_is_published(
    server: ServerProcess,
) -> None:
    families = published(server)
    assert documented() == families
    named = {
        name
        for page in DOCS.rglob("*.md")
        for name in NAME.findall(page.read_text())
        if not NOT_THE_SERVERS.fullmatch(name)
    }
    assert named - set(families) == set(), "the docs name metrics the server does not publish"
