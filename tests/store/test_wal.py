"""The WAL: frames round-trip, a torn tail is truncated and reported, never fatal, and a
damaged frame in the middle hides no intact frame after it."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ServerProcess
from tests.security.fault_kit import numbered, stored_seqs
from tests.store.kit import metric
from tracelake.store.ipc import from_ipc
from tracelake.store.wal import (
    CORRUPT_DIR,
    HEADER,
    WAL,
    ReplayReport,
    _decode_payload,
    encode_frame,
    read_frames,
    scan_frames,
)


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


def test_a_flipped_bit_in_the_last_frame_of_a_sealed_file_is_skipped_as_corrupt(
    tmp_path: Path,
) -> None:
    """A sealed file cannot have a torn tail: damage at its end is corruption, not cut."""
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


def _many(n: int) -> list[bytes]:
    return [encode_frame("logs", f"payload number {i:04d} ".encode() * 3) for i in range(n)]


def test_a_flipped_byte_in_the_middle_skips_only_that_frame_and_keeps_a_copy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every frame but the damaged one replays, even in the newest file (it is no torn
    tail: intact frames follow); the bad bytes are counted, ONE error line names the
    file and the offsets, and a copy of the file as found is kept in corrupt/."""
    frames = _many(100)
    path = tmp_path / "000000000003.wal"
    data = bytearray(b"".join(frames))
    start = sum(len(f) for f in frames[:50])
    data[start + HEADER.size + 5] ^= 0x40
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="tracelake.store"):
        replayed, report = _frames(path, is_last=True)
    expected = [("logs", f"payload number {i:04d} ".encode() * 3) for i in range(100) if i != 50]
    assert replayed == expected
    assert report.corrupt_bytes == len(frames[50]) and report.corrupt_files == 1
    assert report.truncated_bytes == 0 and path.read_bytes() == bytes(data), "not truncated"
    assert (tmp_path / CORRUPT_DIR / path.name).read_bytes() == bytes(data)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1
    assert path.name in errors[0] and f"{start}-{start + len(frames[50])}" in errors[0]


def test_damage_followed_by_a_torn_tail_keeps_a_copy_before_truncating(tmp_path: Path) -> None:
    """Both in one newest file: the middle frame is skipped, the tail cut, and the copy
    kept for inspection is the file as found, before the cut."""
    frames = _many(5)
    data = bytearray(b"".join(frames) + frames[0][:-4])
    data[len(frames[0]) + HEADER.size + 2] ^= 1
    path = tmp_path / "000000000001.wal"
    path.write_bytes(bytes(data))
    replayed, report = _frames(path, is_last=True)
    assert len(replayed) == 4
    assert report.corrupt_bytes == len(frames[1])
    assert report.truncated_bytes == len(frames[0]) - 4
    assert path.read_bytes() == bytes(data[: sum(len(f) for f in frames)])
    assert (tmp_path / CORRUPT_DIR / path.name).read_bytes() == bytes(data)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_any_one_flipped_byte_loses_exactly_the_frame_it_falls_in(
    tmp_path: Path, position: int, flip: int
) -> None:
    """Wherever one byte is damaged (magic, length, CRC or payload), replay yields every
    other frame, in order, and counts the damaged frame's bytes as skipped."""
    frames = _many(12)
    data = bytearray(b"".join(frames))
    position %= len(data)
    data[position] ^= flip
    hit, offset = 0, position
    while offset >= len(frames[hit]):
        offset -= len(frames[hit])
        hit += 1
    path = tmp_path / "000000000001.wal"
    path.write_bytes(bytes(data))
    replayed, report = _frames(path, is_last=False)
    assert [p for _, p in replayed] == [
        f"payload number {i:04d} ".encode() * 3 for i in range(12) if i != hit
    ]
    assert report.corrupt_bytes == len(frames[hit])


def test_a_flipped_byte_in_the_wal_of_a_killed_server_loses_only_that_frame(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    """Real server, 1,000 acknowledged rows held in the WAL (no flush), kill -9, one byte
    flipped in the middle of the WAL file: on restart every row of the intact frames is
    back exactly once, the damaged frame's rows only are missing, /metrics counts the
    skipped bytes and the damaged file, and a copy of the damaged file is kept."""
    data = tmp_path / "data"
    keep_in_wal = {"TRACELAKE_FLUSH_INTERVAL_S": "3600", "TRACELAKE_MEMTABLE_MAX_ROWS": "1000000"}
    server = server_factory(data, env=keep_in_wal).start()
    for start in range(0, 1000, 50):
        r = httpx.post(f"{server.url}/api/v1/logs", content=numbered(start, 50, "walflip"))
        assert r.status_code == 200 and r.json()["accepted"] == 50, r.text
    server.kill()

    (path,) = sorted((data / "wal").glob("*.wal"))
    content = bytearray(path.read_bytes())
    ours = []  # (start, end, seqs) of the frames holding our rows
    for start, end in scan_frames(bytes(content)).frames:
        table, ipc = _decode_payload(bytes(content[start + HEADER.size : end]))
        batch = from_ipc(bytes(ipc))
        rows = batch.to_pylist()
        if table == "logs" and rows and rows[0]["service"] == "walflip":
            ours.append((start, end, {orjson.loads(r["attributes"])["seq"] for r in rows}))
    assert len(ours) == 20, "one frame per acknowledged request"
    start, end, lost = ours[10]
    content[(start + end) // 2] ^= 0x01
    path.write_bytes(bytes(content))

    restarted = server_factory(data, env=keep_in_wal).start()
    seqs = stored_seqs(restarted.url, "walflip")
    assert len(seqs) == len(set(seqs)), "a row came back twice"
    assert set(seqs) == set(range(1000)) - lost, "exactly the intact frames replay"
    assert metric(restarted.url, "tracelake_wal_corrupt_bytes_total") == end - start
    assert metric(restarted.url, "tracelake_wal_corrupt_files_total") == 1
    assert (data / "wal" / CORRUPT_DIR / path.name).read_bytes() == bytes(content)
    errors = [line for line in restarted.output().splitlines() if " ERROR " in line]
    assert len(errors) == 1 and path.name in errors[0] and f"{start}-{end}" in errors[0]
