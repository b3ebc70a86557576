"""The registry's thin async shell: expiry on a timer, the state file kept current.

Why apart from ``state``: the rules stay free of files and tasks; this module decides
when they run. Registrations and deregistrations are saved before their HTTP answer
(``save``), so an acknowledged registration survives a crash; heartbeats and expiry
are saved by the timer, at most once per ``period_s``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

from tracelake.registry import persist
from tracelake.registry.state import Registry

log = logging.getLogger("tracelake.registry")


class RegistryKeeper:
    """Loads, expires and saves one ``Registry``.

    Args:
        registry: The registry to keep.
        directory: The data directory; the state is ``registry.json`` in it.
        period_s: Seconds between two expiry passes; default a quarter of the TTL,
            between 0.05 and 1 s, so an instance is marked down at most that late.
    """

    def __init__(self, registry: Registry, directory: Path, period_s: float | None = None) -> None:
        self.registry = registry
        self.path = directory / persist.FILE_NAME
        self.period_s = period_s or min(1.0, max(0.05, registry.ttl_s / 4))
        self._saved = -1
        #: A thread lock, not an asyncio one: writes run in worker threads (``save``) and
        #: at shutdown (``close``), and one temp file name must see one writer at a time.
        self._lock = threading.Lock()

    def load(self) -> None:
        """Restore the saved instances (start-up, before serving)."""
        records = persist.load(self.path)
        self.registry.restore(records)
        self._saved = self.registry.changes
        if records:
            log.info("registry: %d instances restored from %s", len(records), self.path)

    def _write(self) -> None:
        with self._lock:
            changes = self.registry.changes
            if changes == self._saved:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            persist.save(self.path, self.registry.instances())
            self._saved = changes

    async def save(self) -> None:
        """Write the state if it changed since the last write (in a thread)."""
        await asyncio.to_thread(self._write)

    def close(self) -> None:
        """The last write, at shutdown."""
        self._write()

    async def run(self) -> None:
        """Expire and save every ``period_s`` until cancelled."""
        while True:
            await asyncio.sleep(self.period_s)
            expiry = self.registry.expire()
            for r in expiry.down:
                log.info("registry: %s/%s is down (no heartbeat)", r.service, r.instance_id)
            for r in expiry.evicted:
                log.info("registry: %s/%s evicted", r.service, r.instance_id)
            try:
                await self.save()
            except OSError:
                log.exception("registry: cannot write %s; retrying", self.path)
