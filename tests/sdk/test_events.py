"""``publish_event`` against the real server: durable after flush, carrying the trace."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider

from tests.conftest import ServerProcess
from tracelake.sdk import events as sdk_events
from tracelake.sdk.events import configure_events, flush_events, publish_event


@pytest.fixture
def publisher(server: ServerProcess) -> Iterator[ServerProcess]:
    exporter = configure_events(service="orders", endpoint=server.url, flush_interval=0.05)
    yield server
    exporter.close()
    sdk_events._exporter = None


def rows(server: ServerProcess, sql: str) -> list[list[object]]:
    r = httpx.post(f"{server.url}/api/v1/sql", json={"sql": sql})
    assert r.status_code == 200, r.text
    return r.json()["rows"]


def test_published_events_are_stored_once_flushed_with_the_current_trace(
    publisher: ServerProcess,
) -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("checkout") as span:
        publish_event("order_placed", {"amount": 120.5, "items": ["a", "b"]}, key="o-17")
        context = span.get_span_context()
    publish_event("order_shipped", {"carrier": "dhl"})
    assert flush_events(10)
    got = rows(
        publisher,
        "SELECT type, key, service, trace_id, span_id, payload->>'$.amount' FROM events "
        "ORDER BY type",
    )
    assert got == [
        [
            "order_placed",
            "o-17",
            "orders",
            format(context.trace_id, "032x"),
            format(context.span_id, "016x"),
            "120.5",
        ],
        ["order_shipped", None, "orders", None, None, None],
    ]


def test_events_the_server_refuses_are_counted_as_rejected(publisher: ServerProcess) -> None:
    publish_event("../not-a-type", {"x": 1})
    publish_event("fine", {"x": 1})
    assert flush_events(10)
    assert sdk_events._exporter is not None and sdk_events._exporter.rejected == 1
    assert rows(publisher, "SELECT type FROM events") == [["fine"]]


def test_a_payload_that_is_not_a_mapping_is_a_type_error_at_the_call_site() -> None:
    with pytest.raises(TypeError, match="payload must be a mapping"):
        publish_event("x", [1, 2])  # type: ignore[arg-type]


def test_payload_values_json_lacks_are_sent_as_text_and_none_raises(
    publisher: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    publish_event("priced", {"amount": Decimal("12.50"), "tags": {"a"}})
    cycle: dict[str, object] = {}
    cycle["self"] = cycle
    publish_event("looped", cycle)  # cannot be encoded: dropped with a note, not raised
    assert flush_events(10)
    assert rows(publisher, "SELECT type, payload FROM events") == [
        ["priced", '{"amount":"12.50","tags":"{\'a\'}"}']
    ]
    assert "'looped' not sent" in capsys.readouterr().err


def test_threads_publishing_first_share_one_publisher(
    server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACELAKE_ENDPOINT", server.url)
    monkeypatch.setattr(sdk_events, "_exporter", None)
    start = threading.Barrier(8)

    def publish(n: int) -> None:
        start.wait()
        publish_event("started", {"n": n})

    threads = [threading.Thread(target=publish, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    exporter = sdk_events._exporter
    try:
        assert exporter is not None and flush_events(10)
        assert exporter.sent == 8 and exporter.dropped == 0
        assert rows(server, "SELECT count(*) FROM events") == [[8]]
    finally:
        assert exporter is not None
        exporter.close()


def test_the_events_sdk_imports_none_of_the_server() -> None:
    code = (
        "import sys, tracelake.sdk.events; "
        "bad = {'duckdb', 'pyarrow', 'starlette'} & set(sys.modules); "
        "print(sorted(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
