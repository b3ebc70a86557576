"""What the server's answers mean to the agent, and how long it waits between tries."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from email.utils import formatdate

import httpx
import orjson
import pytest

from tests.sdk.receiver import Answer, Receiver
from tracelake.ship.batcher import compress
from tracelake.ship.sender import Refused, RetryLater, Sender


def sender_answering(handler: httpx.MockTransport) -> Sender:
    return Sender("http://tl", http=httpx.Client(transport=handler))


def ok(request: httpx.Request) -> httpx.Response:
    n = len(gzip.decompress(request.content).splitlines())
    return httpx.Response(200, json={"accepted": n, "rejected": 0, "errors": []})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP intake on a free port that answers as scripted."""
    r = Receiver()
    yield r
    r.stop()


def test_a_retry_after_date_is_read_as_the_seconds_until_then(receiver: Receiver) -> None:
    when = formatdate(time.time() + 40, usegmt=True)
    receiver.script.append(Answer(503, {"Retry-After": when}, {"error": "busy"}))
    sender = Sender(receiver.url)
    with pytest.raises(RetryLater) as e:
        sender.send(compress(b'{"a":1}\n'))
    sender.close()
    assert e.value.retry_after is not None and 37 <= e.value.retry_after <= 40


def test_a_200_is_the_acknowledgement_sent_gzipped() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok(request)

    result = sender_answering(httpx.MockTransport(handler)).send(compress(b'{"a":1}\n{"a":2}\n'))
    assert result.accepted == 2
    assert seen[0].url.path == "/api/v1/logs" and seen[0].headers["content-encoding"] == "gzip"


def test_a_503_is_retried_after_what_retry_after_says() -> None:
    sender = sender_answering(
        httpx.MockTransport(lambda r: httpx.Response(503, headers={"Retry-After": "2"}))
    )
    with pytest.raises(RetryLater) as e:
        sender.send(compress(b"{}\n"))
    assert e.value.retry_after == 2.0


def test_no_connection_and_5xx_are_retried() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(RetryLater, match="cannot reach"):
        sender_answering(httpx.MockTransport(refuse)).send(compress(b"{}\n"))
    with pytest.raises(RetryLater, match="500"):
        sender_answering(httpx.MockTransport(lambda r: httpx.Response(500))).send(b"")


def test_a_400_with_every_line_rejected_is_an_answer_not_an_outage() -> None:
    body = {"accepted": 0, "rejected": 1, "errors": [{"line": 1, "error": "bad"}]}
    sender = sender_answering(httpx.MockTransport(lambda r: httpx.Response(400, json=body)))
    result = sender.send(compress(b"x\n"))
    assert (result.accepted, result.rejected) == (0, 1)


def test_a_body_over_the_server_limit_is_sent_in_halves() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if len(gzip.decompress(request.content).splitlines()) > 2:
            return httpx.Response(413, json={"error": "too large"})
        return ok(request)

    body = b"".join(orjson.dumps({"n": i}) + b"\n" for i in range(7))
    assert sender_answering(httpx.MockTransport(handler)).send(compress(body)).accepted == 7


def test_other_4xx_are_refused_for_good() -> None:
    sender = sender_answering(httpx.MockTransport(lambda r: httpx.Response(401, text="no")))
    with pytest.raises(Refused, match="401"):
        sender.send(compress(b"{}\n"))
