"""The server as a process: readiness, clean shutdown, and nothing acknowledged lost to kill -9."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import orjson
from deltalake import DeltaTable

from tests.conftest import ServerProcess
from tests.store.kit import serve_once

CHURN = {  # flush, compact and expire constantly, so a kill lands mid-maintenance
    "TRACELAKE_MEMTABLE_MAX_ROWS": "3000",
    "TRACELAKE_FLUSH_INTERVAL_S": "0.3",
    "TRACELAKE_COMPACTION_INTERVAL_S": "0.5",
    "TRACELAKE_COMPACTION_MIN_SEGMENTS": "2",
    "TRACELAKE_QUERY_MAX_ROWS": "1000000",
}


def _batch(start: int, n: int) -> bytes:
    return b"\n".join(
        orjson.dumps({"message": f"line {i}", "service": "crash", "seq": i})
        for i in range(start, start + n)
    )


def _seqs(url: str) -> list[int]:
    response = httpx.post(
        f"{url}/api/v1/sql",
        json={"sql": "SELECT CAST(json_extract_string(attributes, '$.seq') AS BIGINT) FROM logs"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return [row[0] for row in response.json()["rows"]]


def test_kill_9_mid_ingest_loses_no_acknowledged_line_and_duplicates_none(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server = server_factory(data, env=CHURN).start()
    acked: list[int] = []
    stop = threading.Event()

    def send() -> None:
        seq = 0
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                try:
                    r = client.post(f"{server.url}/api/v1/logs", content=_batch(seq, 500))
                except httpx.TransportError:
                    return
                if r.status_code == 200:
                    assert r.json()["accepted"] == 500
                    acked.extend(range(seq, seq + 500))
                seq += 500

    senders = [threading.Thread(target=send) for _ in range(1)]
    for t in senders:
        t.start()
    time.sleep(3)
    server.kill()
    stop.set()
    for t in senders:
        t.join()
    assert len(acked) >= 5000, "the test should have ingested a fair amount before the kill"

    restarted = server_factory(data, env=CHURN).start()
    seqs = _seqs(restarted.url)
    assert len(seqs) == len(set(seqs)), "a line was stored twice"
    missing = set(acked) - set(seqs)
    assert not missing, f"{len(missing)} acknowledged lines lost, e.g. {sorted(missing)[:5]}"


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def test_the_decode_workers_exit_when_the_server_is_killed(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    server = server_factory(tmp_path / "data").start()
    assert server.proc is not None
    workers = _children(server.proc.pid)
    assert workers, "the server should have started its decode workers"
    server.kill()
    deadline = time.monotonic() + 10
    while workers and time.monotonic() < deadline:
        workers = {w for w in workers if Path(f"/proc/{w}").exists()}
        time.sleep(0.2)
    assert not workers, f"decode workers {workers} outlived the killed server"


def test_clean_shutdown_flushes_memtable_to_segments(server: ServerProcess) -> None:
    r = httpx.post(f"{server.url}/api/v1/logs", content=_batch(0, 100))
    assert r.json()["accepted"] == 100
    assert server.stop() == 0
    logs = DeltaTable(str(server.data_dir / "lake" / "logs"))
    assert logs.to_pyarrow_dataset().count_rows() == 100, "committed to the Delta table"
    assert not any(p.stat().st_size for p in (server.data_dir / "wal").glob("*.wal"))


def test_ready_and_health_answer_once_started(server: ServerProcess) -> None:
    assert httpx.get(f"{server.url}/-/ready").json() == {"status": "ready"}
    health = httpx.get(f"{server.url}/-/health").json()
    assert health["status"] == "ok" and health["listeners"]["http"] == server.url


def test_busy_port_is_a_one_line_error_and_exit_2(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    import subprocess
    import sys

    first = server_factory(tmp_path / "a").start()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tracelake",
            "serve",
            "--data-dir",
            str(tmp_path / "b"),
            "--http-port",
            str(first.port),
            *("--tcp-port", "-1", "--syslog-port", "-1", "--forward-port", "-1"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert f"cannot listen on 127.0.0.1:{first.port}" in out.stderr
    assert "--http-port" in out.stderr


def test_a_second_server_on_the_same_data_directory_exits_2_naming_the_first(
    server: ServerProcess,
) -> None:
    """Two writers on one directory lose each other's rows: the second refuses, before
    it touches anything, in one line naming the holder's pid; the first keeps serving."""
    assert server.proc is not None
    out = serve_once(server.data_dir)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert f"in use by tracelake pid {server.proc.pid}" in lines[0] and "--data-dir" in lines[0]
    r = httpx.post(f"{server.url}/api/v1/logs", content=_batch(0, 10))
    assert r.status_code == 200 and r.json()["accepted"] == 10
    assert sorted(_seqs(server.url)) == list(range(10))


def test_a_server_killed_with_sigkill_leaves_no_stale_lock(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    """The kernel drops the lock with its holder: the next server starts at once (the
    stale pid in .lock is only a hint), finds the acknowledged rows, and holds the lock
    in turn."""
    first = server_factory(tmp_path / "data").start()
    assert httpx.post(f"{first.url}/api/v1/logs", content=_batch(0, 10)).status_code == 200
    first.kill()
    second = server_factory(tmp_path / "data").start()
    assert sorted(_seqs(second.url)) == list(range(10))
    assert second.proc is not None
    out = serve_once(tmp_path / "data")
    assert out.returncode == 2 and f"pid {second.proc.pid}" in out.stderr, out.stderr


def test_serve_names_each_unknown_tracelake_variable_in_one_line(tmp_path: Path) -> None:
    """A misspelt variable is not a setting and cannot be refused (clients share the
    environment), but it is not ignored without a word either."""
    env = {"TRACELAKE_SCRAPE_INTERVAL": "5", "TRACELAKE_TOKEN": "read-by-the-cli"}
    server = ServerProcess(tmp_path / "data", env=env).start()
    try:
        lines = [line for line in server.output().splitlines() if "is not a setting" in line]
    finally:
        server.stop()
    assert len(lines) == 1
    assert lines[0].endswith(
        "TRACELAKE_SCRAPE_INTERVAL is not a setting: did you mean TRACELAKE_SCRAPE_INTERVAL_S?"
    )
