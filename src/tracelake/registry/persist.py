"""The registry's state file: ``registry.json`` in the data directory.

Why a file and not the lake: the registry is a small, current map that is rewritten
whole, not an append-only history; ``write_atomic`` makes each rewrite crash-safe (the
old file or the new one, never half of each). Records read back go through the same
checks as an HTTP registration, so a hand-edited file cannot smuggle in bad names.
Each record keeps the name of the token that owns it (``owner``), so after a restart a
service heartbeats with the same token as before and another token still may not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from tracelake.errors import BadRequest, ConfigError
from tracelake.files import write_atomic
from tracelake.registry.model import InstanceRecord, parse_registration
from tracelake.security.tokens import check_name

FILE_NAME = "registry.json"
FORMAT_VERSION = 1


def encode(records: list[InstanceRecord]) -> bytes:
    return orjson.dumps(
        {
            "version": FORMAT_VERSION,
            "instances": [r.as_dict() for r in records],
        },
        option=orjson.OPT_INDENT_2,
    )


def _record(item: Any) -> InstanceRecord:
    if not isinstance(item, dict):
        raise ValueError("an instance is not an object")
    lease = {k: item.pop(k, None) for k in ("status", "registered_at", "last_heartbeat", "owner")}
    reg = parse_registration(item)
    status = lease["status"]
    if status not in ("up", "down"):
        raise ValueError(f"status {status!r} is not up or down")
    times = [lease["registered_at"], lease["last_heartbeat"]]
    if not all(isinstance(t, int | float) and not isinstance(t, bool) for t in times):
        raise ValueError("registered_at and last_heartbeat must be epoch seconds")
    owner = lease["owner"]  # absent in files of servers before owners: nobody's
    if owner is not None:
        try:
            check_name(owner, "owner")
        except ConfigError as e:
            raise ValueError(f"owner {owner!r} is not a token name") from e
    return InstanceRecord.of(reg, status, float(times[0]), float(times[1]), owner)


def decode(data: bytes) -> list[InstanceRecord]:
    """Records from the file's bytes.

    Raises:
        ValueError: The bytes are not a registry file; the message says where.
    """
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise ValueError(f"not JSON ({e})") from e
    if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION:
        raise ValueError(f"not a version {FORMAT_VERSION} registry file")
    items = doc.get("instances")
    if not isinstance(items, list):
        raise ValueError("'instances' is not a list")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(_record(item))
        except (BadRequest, ValueError) as e:
            message = e.message if isinstance(e, BadRequest) else str(e)
            raise ValueError(f"instance {i}: {message}") from e
    return out


def load(path: Path) -> list[InstanceRecord]:
    """The saved records; none when there is no file yet.

    Raises:
        ConfigError: The file exists but cannot be used.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    try:
        return decode(data)
    except ValueError as e:
        raise ConfigError(
            f"registry state {path} is unreadable ({e}): fix it, or delete it to start empty"
        ) from e


def save(path: Path, records: list[InstanceRecord]) -> None:
    write_atomic(path, encode(records))
