"""The server on a small real filesystem (tmpfs): under the free-space floor ingest
answers 503 and stream listeners pause; on a disk that fills up completely writes get
503, never 500, nothing refused is kept and nothing acknowledged is lost; both resume
by themselves once space is freed."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import ServerProcess
from tests.security.fault_kit import (
    CHURN,
    eventually,
    fill,
    numbered,
    small_filesystem,
    stored_seqs,
)

MIB = 1024 * 1024


def test_under_the_floor_http_gets_503_tcp_pauses_and_both_resume_when_space_returns(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    with small_filesystem(tmp_path / "disk", "64m") as disk:
        env = {**CHURN, "TRACELAKE_DISK_FREE_FLOOR_BYTES": str(16 * MIB)}
        server = server_factory(disk / "data", env=env).start()
        assert httpx.post(f"{server.url}/api/v1/logs", content=numbered(0, 100)).status_code == 200

        ballast = fill(disk, leave=8 * MIB)
        time.sleep(0.5)  # one free-space measurement is trusted for 0.25 s
        refused = httpx.post(f"{server.url}/api/v1/logs", content=numbered(100, 100))
        assert refused.status_code == 503
        assert refused.headers["retry-after"].isdigit()
        assert "disk_free_floor_bytes" in refused.json()["error"]

        tcp = socket.create_connection(("127.0.0.1", server.listener("jsonlines/tcp")))
        tcp.sendall(numbered(200, 100) + b"\n")
        time.sleep(1.5)
        assert sorted(stored_seqs(server.url)) == list(range(100)), "stored under the floor"
        tcp.sendall(numbered(300, 100) + b"\n")  # the connection is held open, not dropped

        ballast.unlink()
        eventually(
            lambda: len(stored_seqs(server.url)) == 300,
            what="the paused TCP connection delivers once space returns",
        )
        again = httpx.post(f"{server.url}/api/v1/logs", content=numbered(400, 100))
        assert again.status_code == 200, again.text
        tcp.close()

        assert server.stop() == 0
        restarted = server_factory(disk / "data", env=env).start()
        seqs = stored_seqs(restarted.url)
        assert sorted(seqs) == list(range(100)) + list(range(200, 500))


def test_a_disk_that_fills_up_answers_503_keeps_nothing_refused_and_loses_nothing_acked(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    with small_filesystem(tmp_path / "disk", "48m") as disk:
        env = {**CHURN, "TRACELAKE_DISK_FREE_FLOOR_BYTES": "0"}  # no floor: hit the wall
        server = server_factory(disk / "data", env=env).start()
        acked: list[int] = []
        statuses: list[tuple[float, int]] = []
        stop = threading.Event()

        def send() -> None:
            seq = 0
            with httpx.Client(timeout=30) as client:
                while not stop.is_set():
                    r = client.post(f"{server.url}/api/v1/logs", content=numbered(seq, 200))
                    statuses.append((time.monotonic(), r.status_code))
                    if r.status_code == 200:
                        assert r.json()["accepted"] == 200
                        acked.extend(range(seq, seq + 200))
                    seq += 200
                    time.sleep(0.01)

        sender = threading.Thread(target=send)
        sender.start()
        try:
            time.sleep(1.5)
            ballast = fill(disk, leave=0)
            full_at = time.monotonic()
            time.sleep(3)
            ballast.unlink()
            freed_at = time.monotonic()
            eventually(
                lambda: any(t > freed_at and s == 200 for t, s in statuses),
                what="ingest resumes by itself once space is freed",
            )
            time.sleep(1)
        finally:
            stop.set()
            sender.join()

        during = [s for t, s in statuses if full_at + 0.5 < t < freed_at]
        assert 503 in during, f"a full disk must answer 503, got {sorted(set(during))}"
        assert all(s in (200, 503) for _, s in statuses), sorted({s for _, s in statuses})

        server.kill()
        restarted = server_factory(disk / "data", env=env).start()
        seqs = stored_seqs(restarted.url)
        assert len(seqs) == len(set(seqs)), "a line was stored twice"
        assert set(seqs) == set(acked), (
            f"{len(set(acked) - set(seqs))} acknowledged lines lost, "
            f"{len(set(seqs) - set(acked))} refused lines kept"
        )
