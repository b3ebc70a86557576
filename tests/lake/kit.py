"""A lake with known events in it, written by the real server and committed to Delta."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson

from tests.conftest import ServerProcess

#: The two days the events fall on: three and two days before today (UTC), so they are
#: always inside the retention window, whatever day the suite runs on.
_TODAY = datetime.now(UTC).date()
DAY1 = (_TODAY - timedelta(days=3)).isoformat()
DAY2 = (_TODAY - timedelta(days=2)).isoformat()

#: (type, ISO time, amount) of the events every lake test reads back.
EVENTS = [
    ("order_placed", f"{DAY1}T03:04:05Z", 120.5),
    ("order_placed", f"{DAY1}T09:00:00Z", 80.0),
    ("order_placed", f"{DAY2}T00:30:00Z", 200.0),
    ("refund", f"{DAY1}T10:00:00Z", 20.0),
    ("page_viewed", f"{DAY2}T11:00:00Z", None),
]


def start_lake_server(
    factory: type[ServerProcess], data_dir: Path, env: dict[str, str] | None = None
) -> ServerProcess:
    """A running server whose events are all committed to the ``events`` Delta table:
    flushed (one version per flush) then compacted (one more version, whose files
    replace the flushed ones; those stay on disk until vacuum)."""
    server = factory(data_dir, env=env or {}).start()
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
