"""The decode worker processes every table's jobs run in.

Decoding JSON, protobuf and syslog and running the pipeline is GIL-bound Python; a pool
of spawned processes (``ingest_workers``) lets ingest use the other cores while the
server process does the network, the WAL and queries. Arguments and results are bytes
and small dataclasses, so they cross the process boundary cheaply (Arrow IPC is a memcpy
to rebuild). With ``ingest_workers = 0`` jobs run inline, which tests and profiling use.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from tracelake.errors import Overloaded

T = TypeVar("T")

#: How often a decode worker checks that the server is still its parent.
ORPHAN_CHECK_S = 1.0


def _init_worker() -> None:
    """Set a decode worker up: Ctrl-C and SIGTERM are the server's to handle (sent to
    the whole process group, they would end the workers while the server still answers
    requests on its way down; it stops the pool itself), and the cyclic GC runs rarely —
    each job makes thousands of short-lived, acyclic dicts that reference counting
    frees, which the default thresholds would scan again and again."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()


def _exit_when_orphaned(parent: int) -> None:
    """End this worker once the server is gone (``kill -9`` included).

    A pool worker holds both ends of its call queue's pipe, so the parent's death never
    reaches it as end-of-file: without this it would wait for work forever.
    """
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_S)
    os._exit(0)


class Workers:
    """``count`` decode processes, or inline calls when ``count`` is 0."""

    def __init__(self, count: int) -> None:
        self._count = count
        self._pool: ProcessPoolExecutor | None = self._new_pool() if count > 0 else None

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self._count, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker
        )

    def warm_up(self) -> None:
        """Start the processes now rather than on the first request."""
        if self._pool is not None:
            self._pool.submit(int, 0).result()

    async def run(self, job: Callable[..., T], *args: Any) -> T:
        """``job(*args)`` in a worker process, off the event loop."""
        pool = self._pool
        if pool is None:
            return job(*args)
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, job, *args)
        except BrokenProcessPool:
            # a worker died (killed, out of memory): nothing of this request was stored;
            # a fresh pool takes the next ones, and the client retries this one
            if self._pool is pool:
                self._pool = self._new_pool()
                pool.shutdown(wait=False, cancel_futures=True)
            raise Overloaded(
                "a decode worker ended abruptly and was replaced: retry after the "
                "Retry-After delay",
                retry_after=1,
            ) from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
