"""``ContinuousQuery``: one validated continuous query, as ``config`` makes it.

A module of its own so that the statement builder and the runner read it without
importing the settings parser (which builds statements to check them).
"""

from __future__ import annotations

from dataclasses import dataclass

from tracelake.query import ast
from tracelake.streams.windows import WindowSpec


@dataclass(frozen=True, slots=True)
class ContinuousQuery:
    """One validated continuous query."""

    name: str
    source: str
    filter: str
    windows: WindowSpec
    lateness_us: int
    group_by: tuple[str, ...]
    aggregates: tuple[ast.Aggregate, ...]
    ratios: tuple[tuple[str, str], ...]

    @property
    def metric_prefix(self) -> str:
        """Metric names of this query are this prefix plus an aggregate's name."""
        return f"tracelake_cq_{self.name}_"
