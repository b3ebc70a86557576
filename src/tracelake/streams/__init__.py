"""Stream processing: continuous queries over the lake (docs/streams.md).

``config`` parses the ``[[continuous_queries]]`` tables; ``windows`` cuts time into
tumbling or sliding windows (sans-IO); ``sources``, ``aggregates`` and ``statement``
build the one DuckDB statement that computes a window; ``output`` turns its rows into
``derived`` rows and ``metrics`` samples; ``checkpoint`` and ``runner`` commit each
window exactly once, across crashes.
"""

from __future__ import annotations

from tracelake.streams.config import parse_continuous_queries
from tracelake.streams.query import ContinuousQuery
from tracelake.streams.runner import StreamRunner
from tracelake.streams.windows import Window, WindowSpec

__all__ = ["ContinuousQuery", "StreamRunner", "Window", "WindowSpec", "parse_continuous_queries"]
