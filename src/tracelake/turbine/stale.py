"""Turbine's guard against stale host data: latent events are dropped, the host catches up.

Why: an instance's stream can fall behind (a slow network, a paused process, a client
that read too slowly); summing its numbers from seconds ago with everybody else's
current ones would show a cluster that never existed. Turbine 1.x (``InstanceMonitor``'s
skip-line logic) compares each event's ``currentTime`` with its own clock: an event more
than ``latency_threshold_ms`` (2500 ms) old is discarded, and every event of that host is
skipped for ``catch_up_ms`` (500 ms) more, so the reader drains the backlog instead of
replaying it. The host's previous numbers stay in the aggregate meanwhile; they are
replaced by the first event that is fresh again.

Events without a positive integer ``currentTime`` are let through (Turbine stamps them
with its own clock). Sans IO: the caller passes its clock in milliseconds.
"""

from __future__ import annotations

from typing import Any

LATENCY_THRESHOLD_MS = 2500
CATCH_UP_MS = 500


class StaleGuard:
    """Per-host skip state of one cluster.

    Attributes:
        discarded: Events dropped as stale or skipped while catching up.
    """

    def __init__(
        self, latency_threshold_ms: int = LATENCY_THRESHOLD_MS, catch_up_ms: int = CATCH_UP_MS
    ) -> None:
        self.latency_threshold_ms = latency_threshold_ms
        self.catch_up_ms = catch_up_ms
        self.discarded = 0
        self._skip_until: dict[str, int] = {}

    def admit(self, host: str, event: dict[str, Any], now_ms: int) -> bool:
        """Whether ``event`` from ``host`` may reach the aggregate now."""
        until = self._skip_until.get(host)
        if until is not None:
            if now_ms < until:
                self.discarded += 1
                return False
            del self._skip_until[host]
        sent = event.get("currentTime")
        if not isinstance(sent, int) or isinstance(sent, bool) or sent <= 0:
            return True  # unstamped: Turbine stamps it with its own clock
        if now_ms - sent > self.latency_threshold_ms:
            self._skip_until[host] = now_ms + self.catch_up_ms
            self.discarded += 1
            return False
        return True

    def forget(self, host: str) -> None:
        """A host left or reconnected: its next events start fresh."""
        self._skip_until.pop(host, None)
