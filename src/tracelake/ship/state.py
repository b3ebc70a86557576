"""The acknowledged read offsets, on disk, replaced atomically.

The state file says, per file identity, how far the server has acknowledged its lines. It is
only ever written after an acknowledgement (never when lines are merely read or batched), as
a new file that is fsync'd and renamed over the old one, so a kill -9 at any moment leaves
either the old or the new state, and a restart repeats at most the batch that was in flight.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from tracelake.files import write_atomic
from tracelake.ship.tailer import Fingerprint, Mark

VERSION = 1
FORGET_AFTER_S = 7 * 24 * 3600.0


def mark_to_dict(mark: Mark) -> dict[str, Any]:
    """A mark as JSON-ready data (the key is kept by the caller)."""
    return {
        "path": mark.path,
        "offset": mark.offset,
        "fp_len": mark.fingerprint.length,
        "fp": mark.fingerprint.digest,
    }


def mark_from_dict(key: str, data: Mapping[str, Any]) -> Mark:
    """The mark ``mark_to_dict`` wrote."""
    fingerprint = Fingerprint(int(data["fp_len"]), str(data["fp"]))
    return Mark(key, str(data["path"]), int(data["offset"]), fingerprint)


class OffsetStore:
    """The state file: a mark per file identity, with when it was last acknowledged.

    Thread-safe: the sender commits acknowledgements while the reader asks for lag.

    Args:
        path: the state file (``state.json`` in the state directory).
        forget_after: seconds after which an entry of a file no glob matches any more is
            dropped, so the file does not grow forever with rotated-away files.
        clock: wall clock, for the entries' ages.
    """

    def __init__(
        self, path: Path, *, forget_after: float = FORGET_AFTER_S, clock: Any = time.time
    ) -> None:
        self.path = path
        self.forget_after = forget_after
        self._clock = clock
        self._lock = threading.Lock()
        self._marks: dict[str, Mark] = {}
        self._updated: dict[str, float] = {}
        self._live: frozenset[str] = frozenset()

    def load(self) -> dict[str, Mark]:
        """Read the state file (none yet: no marks); returns the marks by file key."""
        try:
            raw = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            raw = {"files": {}}
        except orjson.JSONDecodeError as e:  # only a hand edit can do this: writes are atomic
            raise ValueError(f"state file {self.path} is not JSON ({e}): fix or delete it") from e
        with self._lock:
            for key, entry in raw.get("files", {}).items():
                self._marks[key] = mark_from_dict(key, entry)
                self._updated[key] = float(entry.get("updated", 0.0))
            return dict(self._marks)

    def offset(self, key: str) -> int | None:
        """The acknowledged offset of a file, if any."""
        with self._lock:
            mark = self._marks.get(key)
            return None if mark is None else mark.offset

    def set_live(self, keys: Iterable[str]) -> None:
        """The files followed now; their entries are never forgotten."""
        self._live = frozenset(keys)

    def commit(self, marks: Mapping[str, Mark]) -> None:
        """Record acknowledged marks and rewrite the file (nothing to do for none)."""
        if not marks:
            return
        with self._lock:
            now = self._clock()
            for key, mark in marks.items():
                self._marks[key] = mark
                self._updated[key] = now
            for key in [k for k, t in self._updated.items() if now - t > self.forget_after]:
                if key not in self._live:
                    del self._marks[key], self._updated[key]
            write_atomic(self.path, self._encode())

    def _encode(self) -> bytes:
        files = {
            key: {**mark_to_dict(m), "updated": round(self._updated[key], 3)}
            for key, m in sorted(self._marks.items())
        }
        return orjson.dumps({"version": VERSION, "files": files}, option=orjson.OPT_INDENT_2)
