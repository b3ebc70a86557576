"""The spool keeps unacknowledged batches on disk, in order, bounded; the outbox orders all."""

from __future__ import annotations

from pathlib import Path

from tracelake.ship.batcher import Batch
from tracelake.ship.spool import Outbox, Spool
from tracelake.ship.tailer import Fingerprint, Mark


def batch(n: int, size: int = 100) -> Batch:
    mark = Mark("1:2", "a.log", n, Fingerprint.of(b"h"))
    return Batch(bytes([n % 256]) * size, lines=n, raw_bytes=size, marks={"1:2": mark}, seq=n)


def test_batches_come_back_oldest_first_and_survive_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    for n in (1, 2, 3):
        spool.append(batch(n))
    spool.remove(1)
    again = Spool(tmp_path / "spool")
    assert len(again) == 2 and again.last_seq == 3
    oldest = again.oldest()
    assert oldest is not None and oldest.seq == 2 and oldest.payload == batch(2).payload
    assert oldest.marks == batch(2).marks
    assert [m["1:2"].offset for m in again.marks()] == [2, 3]


def test_past_the_bound_the_oldest_batches_are_dropped_and_counted(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=450)
    assert spool.append(batch(1)) == []
    assert spool.append(batch(2)) == []
    assert spool.append(batch(3)) == [(1, 1)]
    assert spool.bytes <= 450 and len(spool) == 2


def test_the_batch_being_sent_is_never_dropped(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=450)
    spool.append(batch(1))
    spool.append(batch(2))
    assert spool.append(batch(3), protect=1) == [(2, 2)]


def test_a_write_that_never_got_renamed_is_cleaned_up(tmp_path: Path) -> None:
    (tmp_path / "0000000000000009.batch.tmp").write_bytes(b"half")
    assert len(Spool(tmp_path)) == 0
    assert list(tmp_path.iterdir()) == []


def test_the_outbox_keeps_order_across_memory_and_spool(tmp_path: Path) -> None:
    outbox = Outbox(Spool(tmp_path), memory_batches=8)
    outbox.put(batch(0))
    outbox.put(batch(0))
    outbox.set_healthy(False)
    outbox.put(batch(0))
    assert len(outbox.spool) == 1  # spooled while the server is away
    outbox.set_healthy(True)
    outbox.put(batch(0))
    assert len(outbox.spool) == 2  # behind a non-empty spool, never ahead of it
    seqs = []
    while (b := outbox.take(0.01)) is not None:
        seqs.append(b.seq)
        outbox.done(b)
    assert seqs == [1, 2, 3, 4]


def test_spool_all_moves_memory_batches_to_disk_for_the_next_run(tmp_path: Path) -> None:
    outbox = Outbox(Spool(tmp_path))
    outbox.put(batch(5))
    assert outbox.spool_all() == 1
    restarted = Outbox(Spool(tmp_path))
    taken = restarted.take(0.01)
    assert taken is not None and taken.lines == 5
    restarted.put(batch(6))
    assert (taken.seq, restarted.spool.last_seq) == (1, 2)


def test_dropped_batches_are_reported(tmp_path: Path) -> None:
    drops: list[tuple[int, int]] = []
    outbox = Outbox(Spool(tmp_path, max_bytes=250), on_drop=lambda b, n: drops.append((b, n)))
    outbox.set_healthy(False)
    outbox.put(batch(7))
    outbox.put(batch(8))
    assert drops == [(1, 7)] and outbox.dropped_lines == 7
