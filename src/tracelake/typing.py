"""Protocols shared across layers, so each part is replaceable and testable."""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    """An injectable clock, so state machines are tested without sleeping."""

    def __call__(self) -> float: ...
