"""BatchExporter against a real local HTTP receiver speaking the server's contract.

The receiver answers like ``POST /api/v1/logs``: 200 ``{"accepted", "rejected",
"errors"}``, 413 when a body is too large, 503 with ``Retry-After`` when overloaded,
401/403 for a bad token. Each test scripts the answers it needs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.sdk.receiver import Answer, Receiver
from tracelake.sdk._export import BatchExporter

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture
def make_exporter(receiver: Receiver) -> Iterator[Any]:
    made: list[BatchExporter] = []

    def make(**kwargs: Any) -> BatchExporter:
        kwargs.setdefault("warn", False)
        kwargs.setdefault("close_timeout", 2.0)
        exporter = BatchExporter(kwargs.pop("endpoint", receiver.url), "/api/v1/logs", **kwargs)
        made.append(exporter)
        return exporter

    yield make
    receiver.release.set()
    for exporter in made:
        exporter.close(timeout=1.0)


def records(n: int, start: int = 0) -> list[bytes]:
    return [json.dumps({"message": f"m{i}", "i": i}).encode() for i in range(start, start + n)]


def dropped(reason: str, signal: str = "logs") -> float:
    value = REGISTRY.get_sample_value(
        "tracelake_sdk_dropped_records_total", {"signal": signal, "reason": reason}
    )
    return value or 0.0


def test_batches_by_count(receiver: Receiver, make_exporter: Any) -> None:
    exporter = make_exporter(batch_size=10, flush_interval=30)
    for line in records(25):
        assert exporter.submit(line)
    assert receiver.wait_lines(20)  # two full batches go without a flush
    assert [len(r.lines) for r in receiver.requests] == [10, 10]
    assert exporter.flush(5)
    assert [len(r.lines) for r in receiver.requests] == [10, 10, 5]
    assert exporter.sent == 25
    assert exporter.batches == 3


def test_batches_by_time(receiver: Receiver, make_exporter: Any) -> None:
    exporter = make_exporter(batch_size=1000, flush_interval=0.2)
    start = time.monotonic()
    for line in records(3):
        exporter.submit(line)
    assert receiver.wait_lines(3, timeout=3)
    assert time.monotonic() - start < 1.5
    assert len(receiver.requests) == 1


def test_batches_by_bytes(receiver: Receiver, make_exporter: Any) -> None:
    exporter = make_exporter(batch_size=1000, flush_interval=30, max_batch_bytes=1000)
    big = [json.dumps({"message": "x" * 300, "i": i}).encode() for i in range(6)]
    for line in big:
        exporter.submit(line)
    assert exporter.flush(5)
    assert [len(r.lines) for r in receiver.requests] == [3, 3]


def test_body_is_gzip_ndjson_of_the_exact_records(receiver: Receiver, make_exporter: Any) -> None:
    exporter = make_exporter(endpoint=receiver.url + "/behind/proxy/", batch_size=100)
    sent = [*records(5), json.dumps({"message": "ünïcødé ✓", "nested": {"a": [1, 2]}}).encode()]
    for line in sent:
        exporter.submit(line)
    assert exporter.flush(5)
    (request,) = receiver.requests
    assert request.path == "/behind/proxy/api/v1/logs"
    assert request.headers["content-encoding"] == "gzip"
    assert request.headers["content-type"] == "application/x-ndjson"
    assert "authorization" not in request.headers
    assert request.lines == sent
    assert [json.loads(line) for line in request.lines] == [json.loads(x) for x in sent]


def test_bearer_token_header(receiver: Receiver, make_exporter: Any) -> None:
    exporter = make_exporter(token="s3cret")
    exporter.submit(b'{"message":"x"}')
    assert exporter.flush(5)
    assert receiver.requests[0].headers["authorization"] == "Bearer s3cret"


def test_retry_after_503_then_success(receiver: Receiver, make_exporter: Any) -> None:
    receiver.script.append(
        Answer(503, {"Retry-After": "1"}, {"error": "ingest queue full, retry later"})
    )
    exporter = make_exporter(backoff_base=0.01, close_timeout=10)
    for line in records(5):
        exporter.submit(line)
    assert exporter.flush(10)
    first, second = receiver.requests
    assert first.lines == second.lines == records(5)
    assert second.at - first.at >= 0.95  # Retry-After wins over the 10 ms backoff
    assert exporter.retries == 1
    assert exporter.sent == 5
    assert exporter.failed == 0


@pytest.mark.parametrize("status", [500, 502, 429, 408])
def test_retries_server_errors_with_backoff(
    receiver: Receiver, make_exporter: Any, status: int
) -> None:
    receiver.script.extend([Answer(status, body={}), Answer(status, body={})])
    exporter = make_exporter(backoff_base=0.05)
    for line in records(3):
        exporter.submit(line)
    assert exporter.flush(5)
    assert len(receiver.requests) == 3
    gaps = [b.at - a.at for a, b in zip(receiver.requests, receiver.requests[1:], strict=False)]
    assert gaps[0] >= 0.02  # equal jitter: at least half of 50 ms
    assert gaps[1] >= 0.045  # ... and of 100 ms
    assert exporter.sent == 3
    assert exporter.retries == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_other_4xx_are_not_retried_and_counted(
    receiver: Receiver, make_exporter: Any, status: int
) -> None:
    receiver.script.append(Answer(status, body={"error": "no"}))
    before = dropped("client_error")
    exporter = make_exporter(backoff_base=0.01)
    for line in records(4):
        exporter.submit(line)
    assert exporter.flush(5)
    assert len(receiver.requests) == 1
    assert exporter.failed == 4
    assert exporter.sent == 0
    assert dropped("client_error") - before == 4
    assert exporter.last_error is not None
    assert f"HTTP {status}" in exporter.last_error


def test_413_splits_the_batch_until_it_fits(receiver: Receiver, make_exporter: Any) -> None:
    receiver.max_lines = 4
    exporter = make_exporter(batch_size=100)
    for line in records(10):
        exporter.submit(line)
    assert exporter.flush(5)
    delivered = [r for r in receiver.requests if len(r.lines) <= 4]
    assert sorted(line for r in delivered for line in r.lines) == sorted(records(10))
    assert exporter.sent == 10
    assert exporter.failed == 0


def test_413_for_a_single_record_drops_it(receiver: Receiver, make_exporter: Any) -> None:
    receiver.max_lines = 0
    before = dropped("too_large")
    exporter = make_exporter(batch_size=100)
    for line in records(2):
        exporter.submit(line)
    assert exporter.flush(5)
    assert exporter.failed == 2
    assert dropped("too_large") - before == 2


def test_server_side_rejections_are_counted(receiver: Receiver, make_exporter: Any) -> None:
    receiver.script.append(
        Answer(body={"accepted": 3, "rejected": 2, "errors": [{"line": 2, "error": "bad"}]})
    )
    before = dropped("rejected")
    exporter = make_exporter()
    for line in records(5):
        exporter.submit(line)
    assert exporter.flush(5)
    assert (exporter.sent, exporter.rejected) == (3, 2)
    assert dropped("rejected") - before == 2
    assert exporter.last_error is not None
    assert "bad" in exporter.last_error


def test_400_with_every_record_rejected_counts_rejections(
    receiver: Receiver, make_exporter: Any
) -> None:
    receiver.script.append(
        Answer(400, body={"accepted": 0, "rejected": 2, "errors": [{"line": 1, "error": "bad"}]})
    )
    before = dropped("rejected")
    exporter = make_exporter()
    for line in records(2):
        exporter.submit(line)
    assert exporter.flush(5)
    assert len(receiver.requests) == 1
    assert (exporter.rejected, exporter.failed, exporter.sent) == (2, 0, 0)
    assert dropped("rejected") - before == 2


def test_connection_refused_is_retried_then_given_up(make_exporter: Any) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    before = dropped("retries_exhausted")
    exporter = make_exporter(endpoint=f"http://127.0.0.1:{port}", max_retries=2, backoff_base=0.01)
    for line in records(3):
        exporter.submit(line)
    assert exporter.flush(5)
    assert exporter.retries == 2
    assert exporter.failed == 3
    assert dropped("retries_exhausted") - before == 3
    assert exporter.last_error is not None
    assert "Connection" in exporter.last_error or "refused" in exporter.last_error


def test_connection_is_kept_alive(receiver: Receiver, make_exporter: Any) -> None:
    exporter = make_exporter(batch_size=2)
    for line in records(6):
        exporter.submit(line)
    assert exporter.flush(5)
    assert len(receiver.requests) == 3
    assert len({r.client for r in receiver.requests}) == 1


def test_full_queue_drops_and_counts(receiver: Receiver, make_exporter: Any) -> None:
    receiver.stalled.set()
    before = dropped("queue_full")
    exporter = make_exporter(queue_size=10, batch_size=5, flush_interval=0.05)
    outcomes = [exporter.submit(line) for line in records(100)]
    assert exporter.dropped == outcomes.count(False)
    assert 80 <= exporter.dropped <= 90  # 10 queued, at most one batch of 5 in flight
    assert dropped("queue_full") - before == exporter.dropped
    receiver.release.set()
    assert exporter.flush(5)
    assert exporter.sent == outcomes.count(True)


def test_submit_never_blocks_on_a_hung_receiver(receiver: Receiver, make_exporter: Any) -> None:
    receiver.stalled.set()
    exporter = make_exporter(queue_size=1000, batch_size=10, flush_interval=0.01)
    worst = 0.0
    start = time.perf_counter()
    for line in records(20_000):
        t0 = time.perf_counter()
        exporter.submit(line)
        worst = max(worst, time.perf_counter() - t0)
    # A submit that waited on the hung receiver would take the HTTP timeout (10 s);
    # the bounds leave room for a loaded machine's scheduling.
    assert time.perf_counter() - start < 10.0
    assert worst < 1.0
    assert exporter.dropped >= 18_000


def test_flush_is_bounded_on_a_hung_receiver(receiver: Receiver, make_exporter: Any) -> None:
    receiver.stalled.set()
    exporter = make_exporter()
    exporter.submit(b'{"message":"x"}')
    start = time.monotonic()
    assert exporter.flush(0.3) is False
    assert time.monotonic() - start < 1.0


def test_close_flushes_then_refuses(receiver: Receiver, make_exporter: Any) -> None:
    exporter = make_exporter(batch_size=1000, flush_interval=60)
    for line in records(7):
        exporter.submit(line)
    before = dropped("closed")
    assert exporter.close() is True
    assert receiver.lines == records(7)
    assert exporter.submit(b'{"message":"late"}') is False
    assert exporter.dropped == 1
    assert dropped("closed") - before == 1
    assert exporter.close() is True  # idempotent
    assert exporter.flush(0.1) is True


def test_close_is_bounded_while_a_post_hangs(receiver: Receiver, make_exporter: Any) -> None:
    receiver.stalled.set()
    exporter = make_exporter(flush_interval=0.01)
    exporter.submit(b'{"message":"x"}')
    assert receiver.wait_lines(0)
    time.sleep(0.1)  # the POST is in flight, with the normal 10 s socket timeout
    start = time.monotonic()
    assert exporter.close(timeout=0.5) is False
    assert time.monotonic() - start < 1.0


def test_close_gives_up_at_its_deadline_on_a_hung_receiver(
    receiver: Receiver, make_exporter: Any
) -> None:
    receiver.stalled.set()
    before = dropped("shutdown")
    exporter = make_exporter(flush_interval=60)
    exporter.submit(b'{"message":"x"}')
    start = time.monotonic()
    assert exporter.close(timeout=0.5) is True  # the POST's timeout shrinks to the deadline
    assert time.monotonic() - start < 1.0
    assert exporter.failed == 1
    assert dropped("shutdown") - before == 1


def test_close_stops_retrying_at_its_deadline(receiver: Receiver, make_exporter: Any) -> None:
    receiver.script.extend(Answer(503, {"Retry-After": "30"}, {}) for _ in range(3))
    before = dropped("shutdown")
    exporter = make_exporter()
    exporter.submit(b'{"message":"x"}')
    assert receiver.wait_lines(1, timeout=3)
    start = time.monotonic()
    assert exporter.close(timeout=1.0) is True
    assert time.monotonic() - start < 1.5
    assert exporter.failed == 1
    assert dropped("shutdown") - before == 1


def test_stats(receiver: Receiver, make_exporter: Any) -> None:
    exporter = make_exporter()
    exporter.submit(b'{"message":"x"}')
    assert exporter.flush(5)
    assert exporter.stats() == {
        "queued": 0,
        "sent": 1,
        "batches": 1,
        "dropped": 0,
        "failed": 0,
        "rejected": 0,
        "retries": 0,
    }


def test_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="http"):
        BatchExporter("ftp://example.com", "/x")
    with pytest.raises(ValueError, match="batch_size"):
        BatchExporter("http://127.0.0.1:1", "/x", batch_size=0)


def _run(script: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_pending_records_are_flushed_at_exit(receiver: Receiver) -> None:
    result = _run(
        f"""
        from tracelake.sdk._export import BatchExporter
        exporter = BatchExporter({receiver.url!r}, "/api/v1/logs", flush_interval=60)
        for i in range(3):
            exporter.submit(b'{{"message": "bye %d"}}' % i)
        """
    )
    assert result.returncode == 0, result.stderr
    assert receiver.lines == [
        b'{"message": "bye 0"}',
        b'{"message": "bye 1"}',
        b'{"message": "bye 2"}',
    ]


def test_exit_flush_is_bounded_on_a_hung_receiver(receiver: Receiver) -> None:
    receiver.stalled.set()
    start = time.monotonic()
    result = _run(
        f"""
        from tracelake.sdk._export import BatchExporter
        exporter = BatchExporter({receiver.url!r}, "/api/v1/logs", close_timeout=0.5, warn=False)
        exporter.submit(b'{{"message": "stuck"}}')
        """
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - start < 10  # interpreter start-up included


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_gets_its_own_worker(receiver: Receiver, make_exporter: Any) -> None:
    exporter = make_exporter(flush_interval=60)
    exporter.submit(b'{"message":"parent"}')
    pid = os.fork()
    if pid == 0:  # child: only its own record, nothing inherited from the parent
        code = 1
        try:
            exporter.submit(b'{"message":"child"}')
            code = 0 if exporter.flush(5) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert exporter.flush(5)
    assert sorted(receiver.lines) == [b'{"message":"child"}', b'{"message":"parent"}']
