"""Zipkin's ``Trace.merge`` at read time: retries answered once, pieces joined, shared
flags backfilled, one trace id per trace (the cases of Zipkin's own ``TraceTest``)."""

from __future__ import annotations

from typing import Any

from tracelake.tracing.trace_merge import merge_trace

LOW = "48485a3953bb6124"
HIGH = "463ac35c9f6413ad" + LOW


def zspan(span_id: str, **fields: Any) -> dict[str, Any]:
    return {"traceId": LOW, "id": span_id, **fields}


def test_a_span_reported_twice_is_answered_once() -> None:
    server = zspan("2", parentId="1", kind="SERVER", localEndpoint={"serviceName": "api"},
                   timestamp=10, duration=5, tags={"b": "2", "a": "1"})  # fmt: skip
    merged = merge_trace([zspan("1", kind="CLIENT"), server, dict(server)])
    assert [s["id"] for s in merged] == ["1", "2"]
    assert merged[1]["tags"] == {"b": "2", "a": "1"}


def test_pieces_of_one_span_are_combined() -> None:
    start = zspan("3", kind="CLIENT", localEndpoint={"serviceName": "web"}, timestamp=10,
                  annotations=[{"timestamp": 10, "value": "ws"}], tags={"b": "x"})  # fmt: skip
    end = zspan("3", localEndpoint={"serviceName": "web", "ipv4": "10.0.0.1"}, duration=7,
                annotations=[{"timestamp": 12, "value": "wr"}, {"timestamp": 10, "value": "ws"}],
                tags={"a": "y"})  # fmt: skip
    (merged,) = merge_trace([start, end])
    assert merged == {
        "traceId": LOW, "id": "3", "kind": "CLIENT", "timestamp": 10, "duration": 7,
        "localEndpoint": {"serviceName": "web", "ipv4": "10.0.0.1"},
        "annotations": [{"timestamp": 10, "value": "ws"}, {"timestamp": 12, "value": "wr"}],
        "tags": {"a": "y", "b": "x"},
    }  # fmt: skip
    assert list(merged) == ["traceId", "id", "kind", "timestamp", "duration", "localEndpoint",
                            "annotations", "tags"]  # fmt: skip


def test_a_server_with_its_clients_id_is_marked_shared_and_takes_its_parent() -> None:
    client = zspan("4", parentId="0a", kind="CLIENT", localEndpoint={"serviceName": "web"})
    server = zspan("4", kind="SERVER", localEndpoint={"serviceName": "api"})
    merged = merge_trace([server, client])
    assert [s.get("kind") for s in merged] == ["SERVER", "CLIENT"]  # input order kept
    assert merged[0]["shared"] is True and merged[0]["parentId"] == "0a"
    assert list(merged[0])[-1] == "shared"


def test_the_longest_trace_id_wins_so_64_and_128_bit_fragments_are_one_trace() -> None:
    merged = merge_trace([zspan("5", kind="CLIENT"), {**zspan("6", parentId="5"), "traceId": HIGH}])
    assert {s["traceId"] for s in merged} == {HIGH}


def test_spans_of_different_services_with_one_id_and_flag_stay_apart() -> None:
    spans = [
        zspan("7", localEndpoint={"serviceName": "a"}),
        zspan("7", localEndpoint={"serviceName": "b"}),
    ]
    assert len(merge_trace(spans)) == 2
