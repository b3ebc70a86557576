"""``tracelake ship`` as a process against the real server: rotation, outages, kill -9.

Every line written carries a unique ``seq``; the server is asked (SQL, grouped by ``seq``)
how often each arrived.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests import conftest
from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e

SERVER_ENV = {"TRACELAKE_QUERY_MAX_ROWS": "1000000"}
FAST = [
    "--flush-interval",
    "0.2",
    "--scan-interval",
    "0.2",
    "--max-backoff",
    "0.5",
    "--status-interval",
    "1",
    "--close-inactive",
    "1",
]


class Agent:
    """A ``tracelake ship`` child process writing its output to a file."""

    def __init__(self, url: str, state: Path, *args: str, stdin: bytes | None = None) -> None:
        self.output_path = state.parent / f"agent-{time.monotonic_ns()}.log"
        self._out = self.output_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tracelake",
                "ship",
                "--url",
                url,
                "--state-dir",
                str(state),
                *FAST,
                *args,
            ],
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )
        if stdin is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.write(stdin)
            self.proc.stdin.close()

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._out.close()

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(30)
        self._out.close()
        return code


@pytest.fixture
def agents() -> Iterator[list[Agent]]:
    started: list[Agent] = []
    yield started
    for agent in started:
        if agent.proc.poll() is None:
            agent.kill()


class Writer(threading.Thread):
    """Appends JSON lines with a unique ``seq`` to a file, like an application would."""

    def __init__(self, path: Path, pause: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.pause = pause
        self.seq = 0
        self.halt = threading.Event()
        self.lock = threading.Lock()

    def write(self, n: int) -> None:
        with self.lock, self.path.open("ab") as f:
            for _ in range(n):
                f.write(orjson.dumps({"seq": self.seq, "message": f"line {self.seq}"}) + b"\n")
                self.seq += 1

    def run(self) -> None:
        while not self.halt.is_set():
            self.write(5)
            time.sleep(self.pause)

    def finish(self) -> int:
        self.halt.set()
        self.join(10)
        return self.seq


def seq_counts(url: str) -> Counter[int]:
    sql = (
        "SELECT CAST(json_extract_string(attributes, '$.seq') AS BIGINT) AS seq, count(*) "
        "FROM logs WHERE json_extract_string(attributes, '$.seq') IS NOT NULL GROUP BY 1"
    )
    response = httpx.post(f"{url}/api/v1/sql", json={"sql": sql}, timeout=30)
    assert response.status_code == 200, response.text
    return Counter({row[0]: row[1] for row in response.json()["rows"]})


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def all_arrived(url: str, total: int) -> Callable[[], bool]:
    return lambda: set(seq_counts(url)) >= set(range(total))


def test_rotation_by_rename_and_by_truncation_loses_no_line_and_repeats_none(
    server_factory: type[ServerProcess], tmp_path: Path, agents: list[Agent]
) -> None:
    server = server_factory(tmp_path / "data", env=SERVER_ENV).start()
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "app.log"
    writer = Writer(log)
    writer.write(200)
    agents.append(agent := Agent(server.url, tmp_path / "state", str(logs / "*.log")))
    wait_until(lambda: len(seq_counts(server.url)) > 0, 60, "the agent to open app.log")

    with log.open("ab") as still_open:  # logrotate's rename; the app writes on a moment
        writer.write(300)
        log.rename(logs / "app.log.1")
        still_open.write(b'{"seq": 500, "message": "after the rename"}\n')
    writer.seq = 501
    writer.write(300)  # a new app.log
    wait_until(all_arrived(server.url, writer.seq), 60, "the renamed and the new file")

    os.truncate(log, 0)  # copytruncate's truncation, and the app goes on writing
    writer.write(300)
    total = writer.seq
    wait_until(all_arrived(server.url, total), 60, "the lines after the truncation")
    time.sleep(0.5)

    counts = seq_counts(server.url)
    assert set(counts) == set(range(total)), agent.output()
    assert max(counts.values()) == 1, "a line arrived twice"
    assert agent.stop() == 0


def test_a_server_outage_is_spooled_and_every_line_arrives_exactly_once(
    server_factory: type[ServerProcess], tmp_path: Path, agents: list[Agent]
) -> None:
    data = tmp_path / "data"
    server = server_factory(data, env=SERVER_ENV).start()
    port = server.port
    writer = Writer(tmp_path / "app.log")
    writer.start()
    state = tmp_path / "state"
    agents.append(agent := Agent(server.url, state, str(tmp_path / "app.log")))
    wait_until(lambda: len(seq_counts(server.url)) > 0, 60, "shipping to start")

    assert server.stop() == 0
    spooled = 0
    outage_end = time.monotonic() + 30  # the 30 s without a server; the app writes on
    while time.monotonic() < outage_end:
        time.sleep(0.2)
        spooled = max(spooled, len(list((state / "spool").glob("*.batch"))))
    assert spooled > 0, f"nothing was spooled during the outage: {agent.output()}"

    class SamePort(server_factory):  # type: ignore[valid-type,misc]
        def start(self, timeout: float = 30.0) -> ServerProcess:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(conftest, "free_port", lambda: port)
                return super().start(timeout)

    restarted = SamePort(data, env=SERVER_ENV).start()
    time.sleep(1)
    total = writer.finish()
    wait_until(all_arrived(restarted.url, total), 60, "the spool and the backlog")
    time.sleep(0.5)

    counts = seq_counts(restarted.url)
    assert set(counts) == set(range(total))
    assert max(counts.values()) == 1, "a line arrived twice"
    assert "server is back" in agent.output()
    assert agent.stop() == 0


def test_kill_9_of_the_agent_repeats_at_most_the_last_unacknowledged_batch(
    server: ServerProcess, tmp_path: Path, agents: list[Agent]
) -> None:
    batch = ["--batch-lines", "100"]
    writer = Writer(tmp_path / "app.log")
    writer.start()
    state = tmp_path / "state"
    agents.append(first := Agent(server.url, state, str(tmp_path / "app.log"), *batch))
    wait_until(lambda: len(seq_counts(server.url)) > 500, 60, "shipping to get going")
    first.kill()
    time.sleep(0.5)
    agents.append(second := Agent(server.url, state, str(tmp_path / "app.log"), *batch))
    time.sleep(1)
    total = writer.finish()
    wait_until(all_arrived(server.url, total), 60, "every line after the restart")
    time.sleep(0.5)

    counts = seq_counts(server.url)
    assert set(counts) == set(range(total)), second.output()
    duplicates = sum(n - 1 for n in counts.values())
    assert duplicates <= 100, f"{duplicates} lines repeated: more than one batch"
    assert second.stop() == 0


def test_stdin_is_shipped_with_host_and_the_agent_exits_at_its_end(
    server: ServerProcess, tmp_path: Path, agents: list[Agent]
) -> None:
    lines = b"".join(orjson.dumps({"seq": i, "message": f"piped {i}"}) + b"\n" for i in range(50))
    agents.append(
        agent := Agent(server.url, tmp_path / "state", "-", stdin=lines + b"plain from the pipe\n")
    )
    assert agent.proc.wait(30) == 0, agent.output()
    assert set(seq_counts(server.url)) == set(range(50))
    response = httpx.post(
        f"{server.url}/api/v1/sql",
        json={"sql": "SELECT host, message FROM logs WHERE message = 'plain from the pipe'"},
    )
    ((host, _),) = response.json()["rows"]
    assert host  # this machine's name


def test_a_traceback_arrives_as_one_record_and_a_restart_resumes_where_it_stopped(
    server: ServerProcess, tmp_path: Path, agents: list[Agent]
) -> None:
    log = tmp_path / "service.log"
    log.write_text(
        "2024-05-01 12:00:00,001 INFO starting\n"
        "2024-05-01 12:00:00,002 ERROR request failed\n"
        "Traceback (most recent call last):\n"
        '  File "app.py", line 10, in handle\n'
        "    charge(order)\n"
        "ValueError: card declined\n"
        "2024-05-01 12:00:00,003 INFO still here\n"
    )
    args = [str(log), "--multiline-start", r"^\d{4}-\d\d-\d\d ", "--multiline-timeout", "0.3"]
    agents.append(agent := Agent(server.url, tmp_path / "state", *args))

    def messages() -> list[str]:
        r = httpx.post(f"{server.url}/api/v1/sql", json={"sql": "SELECT message FROM logs"})
        return sorted(row[0] for row in r.json()["rows"])

    wait_until(lambda: len(messages()) == 3, 60, "three records")
    (failed,) = [m for m in messages() if "ERROR" in m]
    assert failed.splitlines()[-1] == "ValueError: card declined"
    assert "Traceback (most recent call last):" in failed
    assert agent.stop() == 0

    with log.open("a") as f:
        f.write("2024-05-01 12:00:01,000 INFO after the restart\n")
    agents.append(again := Agent(server.url, tmp_path / "state", *args))
    wait_until(lambda: len(messages()) >= 4, 60, "the new line")
    time.sleep(1)
    assert len(messages()) == 4, "the restart shipped a line again"
    assert again.stop() == 0


def test_a_second_agent_on_the_same_state_dir_is_refused_in_one_line(
    tmp_path: Path, agents: list[Agent]
) -> None:
    (tmp_path / "a.log").write_text("x\n")
    agents.append(first := Agent("http://127.0.0.1:9", tmp_path / "state", str(tmp_path / "a.log")))
    wait_until(lambda: (tmp_path / "state" / "lock").exists(), 10, "the first agent")
    time.sleep(0.5)
    second = subprocess.run(
        [
            sys.executable,
            "-m",
            "tracelake",
            "ship",
            "--state-dir",
            str(tmp_path / "state"),
            str(tmp_path / "a.log"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 1 and second.stderr.count("\n") == 1
    assert "another `tracelake ship`" in second.stderr
    assert first.stop() == 0


def test_bad_arguments_are_usage_errors() -> None:
    def ship(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tracelake", "ship", *args],
            capture_output=True,
            text=True,
            timeout=30,
        )

    bad_regex = ship("--multiline-start", "(", "a.log")
    assert bad_regex.returncode == 2 and "not a regular expression" in bad_regex.stderr
    mixed = ship("-", "a.log")
    assert mixed.returncode == 2 and "not both" in mixed.stderr
