"""The alert state file: active alerts, breaker-rule memory and history, across restarts.

One JSON file under the data directory, replaced whole with ``write_atomic`` after each
evaluation that changed something and at shutdown, so a crash leaves the previous
state. Rules are matched back by a key of file, group, name and position; the state of
a rule that is gone from the files is dropped. A file that cannot be read is set
aside (renamed ``*.unreadable``) and alerting starts empty rather than not at all.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson

from tracelake.files import write_atomic

log = logging.getLogger("tracelake.alerting")

VERSION = 1


class StateFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any]:
        """``{"rules": {key: {...}}, "history": [...]}``; empty when there is none."""
        try:
            data = orjson.loads(self.path.read_bytes())
            if not isinstance(data, dict) or data.get("version") != VERSION:
                raise ValueError(f"not a version {VERSION} alert state file")
        except FileNotFoundError:
            return {"rules": {}, "history": []}
        except (OSError, ValueError) as e:
            aside = self.path.with_name(self.path.name + ".unreadable")
            log.error(
                "alert state %s unreadable (%s): moved to %s, starting empty", self.path, e, aside
            )
            self.path.replace(aside)
            return {"rules": {}, "history": []}
        return {"rules": data.get("rules") or {}, "history": data.get("history") or []}

    def save(self, rules: dict[str, Any], history: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"version": VERSION, "rules": rules, "history": history}
        write_atomic(self.path, orjson.dumps(body))
