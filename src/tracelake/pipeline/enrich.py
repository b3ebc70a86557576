"""Enrichment: fields added to records from outside the record.

Today that is the static fields of ``[pipeline.enrich]`` (``env = "prod"``). The seam
for more is ``Enricher``: any callable that adds fields to a log object in place, listed
in ``Pipeline.enrichers`` (run after the parsers, before the rules). Registry-based
enrichment (a service's version, zone and instance from the service registry) will be
one. Mind the process boundary: a ``Pipeline`` reaches ingest workers as its config and
is rebuilt there, so an enricher that needs live server state must either be built from
data the job carries (a registry snapshot passed with it) or run in the server process.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from typing import Any

from tracelake.model import LogObject

#: Adds fields to one log object in place.
Enricher = Callable[[LogObject], None]


class StaticFields:
    """Adds fixed fields; a field the record already has wins unless ``override``."""

    __slots__ = ("_fields", "_mutable", "override")

    def __init__(self, fields: tuple[tuple[str, Any], ...], override: bool = False) -> None:
        self._fields = dict(fields)
        self._mutable = any(isinstance(v, dict | list) for v in self._fields.values())
        self.override = override

    def __call__(self, obj: LogObject) -> None:
        fields = deepcopy(self._fields) if self._mutable else self._fields
        if self.override:
            obj.update(fields)
        else:
            for key, value in fields.items():
                if key not in obj:
                    obj[key] = value
