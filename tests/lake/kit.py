"""A lake with known events in it, written by the real server and flushed to Parquet."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson

from tests.conftest import ServerProcess

#: (type, ISO time, amount) of the events every lake test reads back.
EVENTS = [
    ("order_placed", "2026-01-02T03:04:05Z", 120.5),
    ("order_placed", "2026-01-02T09:00:00Z", 80.0),
    ("order_placed", "2026-01-03T00:30:00Z", 200.0),
    ("refund", "2026-01-02T10:00:00Z", 20.0),
    ("page_viewed", "2026-01-03T11:00:00Z", None),
]


def start_lake_server(factory: type[ServerProcess], data_dir: Path) -> ServerProcess:
    """A running server whose events are all in segments (flushed and compacted)."""
    server = factory(data_dir).start()
    body = b"\n".join(
        orjson.dumps(
            {
                "type": kind,
                "timestamp": ts,
                "payload": {"amount": amount} if amount is not None else {"path": "/"},
            }
        )
        for kind, ts, amount in EVENTS
    )
    r = httpx.post(f"{server.url}/api/v1/events", content=body)
    assert r.json()["accepted"] == len(EVENTS)
    r = httpx.post(f"{server.url}/api/v1/lake/compact", timeout=60)
    assert r.status_code == 200 and r.json()["flushed_rows"] == len(EVENTS)
    return server
