"""A writer's identity: the name a data directory writes the lake under.

Commits and segment file names carry it, so writers sharing one lake never collide,
and a restart finds its own WAL position in the tables' commit logs.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from tracelake.files import write_atomic

WRITER_ID = "writer-id"


def writer_id(data_dir: Path) -> str:
    """This data directory's writer name, made once and kept in ``<data_dir>/writer-id``."""
    path = data_dir / WRITER_ID
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        name = uuid.uuid4().hex[:12]
        data_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(path, name.encode())
        return name


def wal_app_id(writer: str) -> str:
    """The Delta app transaction id under which a writer records its WAL position."""
    return f"tracelake-wal-{writer}"
