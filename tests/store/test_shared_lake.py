"""Several processes on one lake: two writers and a compactor share one directory of Delta
tables, each killed with kill -9 at random moments under load. Optimistic commits let a
flush race the other writer's flush and the compactor's rewrite; every acknowledged row
ends up in the lake exactly once, for tracelake's SQL and for an outside Delta reader."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import orjson
import pytest
from deltalake import DeltaTable

from tests.conftest import ServerProcess
from tests.security.fault_kit import numbered, stored_seqs

pytestmark = pytest.mark.e2e

#: Writers flush often and never compact; the compactor merges every half second.
WRITER = {
    "TRACELAKE_MEMTABLE_MAX_ROWS": "1500",
    "TRACELAKE_FLUSH_INTERVAL_S": "0.3",
    "TRACELAKE_COMPACTION_INTERVAL_S": "3600",
    "TRACELAKE_INGEST_WORKERS": "0",
    "TRACELAKE_QUERY_MAX_ROWS": "5000000",
}
COMPACTOR = {
    **WRITER,
    "TRACELAKE_COMPACTION_INTERVAL_S": "0.5",
    "TRACELAKE_COMPACTION_MIN_SEGMENTS": "2",
}
SEED = 20261207
BATCH = 250


class Sender(threading.Thread):
    """Posts numbered batches to one writer until told to stop, following it across
    restarts (a new port each time); a batch that got no 200 is never resent, so its
    numbers may be in the lake or not, but only acknowledged ones must be."""

    def __init__(self, server: ServerProcess, service: str) -> None:
        super().__init__(daemon=True)
        self.server, self.service = server, service
        self.acked: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        seq = 0
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                body = numbered(seq, BATCH, self.service)
                try:
                    r = client.post(f"{self.server.url}/api/v1/logs", content=body)
                    if r.status_code == 200 and r.json()["accepted"] == BATCH:
                        self.acked.extend(range(seq, seq + BATCH))
                except httpx.TransportError:
                    time.sleep(0.1)  # killed or restarting: the next batch goes to its new port
                seq += BATCH


def outside_seqs(lake: Path) -> Counter[tuple[str, int]]:
    """(service, seq) of every row of the current Delta version, read without tracelake."""
    table = (
        DeltaTable(str(lake / "logs"))
        .to_pyarrow_dataset()
        .to_table(columns=["service", "attributes"])
    )
    return Counter(
        (service, int(orjson.loads(attributes)["seq"]))
        for service, attributes in zip(
            table["service"].to_pylist(), table["attributes"].to_pylist(), strict=True
        )
    )


def test_two_writers_and_a_compactor_killed_at_random_lose_and_repeat_nothing(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    shared = {"TRACELAKE_LAKE_DIR": str(lake)}
    writers = [
        server_factory(tmp_path / name, env={**WRITER, **shared}).start() for name in ("a", "b")
    ]
    compactor = server_factory(tmp_path / "c", env={**COMPACTOR, **shared}).start()
    senders = [Sender(server, name) for server, name in zip(writers, ("a", "b"), strict=True)]
    for sender in senders:
        sender.start()

    rng = random.Random(SEED)
    victims = [*writers, compactor]
    killed: Counter[int] = Counter()
    for _ in range(7):
        time.sleep(rng.uniform(0.8, 2.5))
        victim = rng.choice(victims)
        assert victim.proc is not None
        victim.kill()
        assert victim.proc.returncode == -signal.SIGKILL
        killed[victims.index(victim)] += 1
        victim.start()
    time.sleep(2)  # the last restart replays its WAL and takes traffic again
    for sender in senders:
        sender.stop.set()
        sender.join(30)
    assert len(killed) == 3, "the seed kills each of the three at least once"

    lake_logs = DeltaTable(str(lake / "logs"))
    compactions = [c for c in lake_logs.history() if c.get("tracelake.operation") == "compact"]
    assert compactions, "the compactor should have rewritten files while the writers flushed"
    for server in victims:
        assert server.stop() == 0, server.output()

    reader = server_factory(tmp_path / "reader", env={**WRITER, **shared}).start()
    outside = outside_seqs(lake)
    for sender in senders:
        assert len(sender.acked) >= 5 * BATCH, "the writer should have ingested a fair amount"
        seqs = stored_seqs(reader.url, sender.service)
        repeated = [seq for seq, n in Counter(seqs).items() if n > 1]
        assert not repeated, f"{sender.service}: rows stored twice, e.g. {repeated[:5]}"
        missing = set(sender.acked) - set(seqs)
        assert not missing, f"{sender.service}: {len(missing)} acknowledged rows lost"
        theirs = sorted(seq for (service, seq) in outside if service == sender.service)
        assert theirs == sorted(seqs), "an outside reader sees what the SQL endpoint sees"
    assert max(outside.values()) == 1
