"""Moving a lake of the old catalog (``_manifest.json``) onto Delta tables, once.

Before Delta, one JSON manifest listed every segment and how far the WAL was in them.
On the first start of this version each table's commit log is created with that
table's segments as version 0, in one commit that also records the manifest's WAL
checkpoint as this writer's position (so the WAL replays exactly as before). The files
stay where they are. Only when every table has its log is the manifest renamed to
``_manifest.json.migrated``: a crash part way leaves the manifest, and the next start
creates the logs still missing (a log, being one commit, is there whole or not at all).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson

from tracelake.errors import LakeNeedsRepair
from tracelake.files import fsync_dir
from tracelake.schema import SCHEMAS
from tracelake.store.delta import LOG_DIR, Segment, create_with_segments

log = logging.getLogger("tracelake.store")

MANIFEST = "_manifest.json"
MIGRATED = "_manifest.json.migrated"

_SEGMENT_FIELDS = {
    "table": str,
    "path": str,
    "min_ts": int,
    "max_ts": int,
    "rows": int,
    "bytes": int,
    "partition": str,
}


def migrate_manifest(lake: Path, app_id: str) -> bool:
    """Create the Delta logs of a lake that has the old manifest; True when it did."""
    manifest = lake / MANIFEST
    if not manifest.exists():
        return False
    try:
        checkpoint, segments = parse_manifest(orjson.loads(manifest.read_bytes()))
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        reason = f"no {e} key" if isinstance(e, KeyError) else str(e).splitlines()[0]
        raise LakeNeedsRepair(
            f"{manifest} (the catalog before Delta Lake) is unreadable ({reason}); nothing "
            f"was changed: move it aside and run `tracelake lake repair` to rebuild the lake"
        ) from None
    created = 0
    for table in SCHEMAS:
        if (lake / table / LOG_DIR).is_dir():
            continue
        mine = [s for s in segments if s.table == table]
        create_with_segments(lake, table, mine, operation="migrate", txn=(app_id, checkpoint))
        created += 1
    manifest.rename(lake / MIGRATED)
    fsync_dir(lake)
    log.warning(
        "store: moved the lake onto Delta tables (%d segments; %d commit logs created); "
        "the old catalog is kept as %s",
        len(segments),
        created,
        lake / MIGRATED,
    )
    return True


def parse_manifest(raw: Any) -> tuple[int, list[Segment]]:
    """The old manifest's WAL checkpoint and segments; ValueError/TypeError/KeyError
    when its shape is wrong."""
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    checkpoint, segments = raw["wal_checkpoint"], raw["segments"]
    if not isinstance(checkpoint, int):
        raise ValueError("wal_checkpoint must be an integer")
    if not isinstance(segments, list):
        raise ValueError("segments must be a list")
    parsed = []
    for i, entry in enumerate(segments):
        if not isinstance(entry, dict):
            raise ValueError(f"segment {i} is not an object")
        for name, kind in _SEGMENT_FIELDS.items():
            if not isinstance(entry.get(name), kind):
                raise ValueError(f"segment {i} has no valid {name!r}")
        if entry["table"] not in SCHEMAS:
            raise ValueError(f"segment {i} names no table of the lake")
        parsed.append(Segment(**{name: entry[name] for name in _SEGMENT_FIELDS}))
    return checkpoint, parsed
