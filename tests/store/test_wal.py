"""The WAL: frames round-trip, a torn tail is truncated and reported, never fatal."""

from __future__ import annotations

from pathlib import Path

from tracelake.store.wal import WAL, ReplayReport, encode_frame, read_frames


def _frames(path: Path, *, is_last: bool = True) -> tuple[list[tuple[str, bytes]], ReplayReport]:
    report = ReplayReport()
    return [(t, bytes(p)) for t, p in read_frames(path, report, is_last=is_last)], report


def test_frames_round_trip_in_order(tmp_path: Path) -> None:
    path = tmp_path / "000000000001.wal"
    path.write_bytes(encode_frame("logs", b"one") + encode_frame("spans", b"two"))
    frames, report = _frames(path)
    assert frames == [("logs", b"one"), ("spans", b"two")] and report.frames == 2


def test_torn_tail_of_the_newest_file_is_truncated_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "000000000001.wal"
    good = encode_frame("logs", b"kept")
    path.write_bytes(good + encode_frame("logs", b"torn write")[:-3])
    frames, report = _frames(path)
    assert frames == [("logs", b"kept")]
    assert report.truncated_bytes > 0
    assert path.read_bytes() == good


def test_a_flipped_bit_fails_the_crc_and_stops_replay_there(tmp_path: Path) -> None:
    path = tmp_path / "000000000001.wal"
    bad = bytearray(encode_frame("logs", b"payload"))
    bad[-1] ^= 1
    path.write_bytes(encode_frame("logs", b"first") + bytes(bad))
    frames, report = _frames(path, is_last=False)
    assert frames == [("logs", b"first")] and report.corrupt_files == 1


def test_group_commit_applies_before_acknowledging_and_seal_starts_a_new_file(
    tmp_path: Path,
) -> None:
    applied: list[tuple[str, bytes]] = []
    sealed: list[int] = []
    wal = WAL(
        tmp_path,
        fsync=True,
        apply=lambda t, p: applied.append((t, bytes(p))),
        on_seal=sealed.append,
    )
    futures = [wal.append("logs", f"b{i}".encode()) for i in range(50)]
    for f in futures:
        f.result(5)
    assert len(applied) == 50
    assert wal.seal().result(5) == 1 and sealed == [1]
    wal.append("logs", b"after").result(5)
    wal.close()
    assert [p.name for _, p in wal.files()] == ["000000000001.wal", "000000000002.wal"]
    frames, _ = _frames(tmp_path / "000000000002.wal")
    assert frames == [("logs", b"after")]
