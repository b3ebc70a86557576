"""The Zipkin v2 API against the real server: real Zipkin clients in, Zipkin's answers out."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def zipkin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(Path(tmp_path_factory.mktemp("zipkin")) / "data").start()
    yield server
    server.stop()


def now_us() -> int:
    return int(time.time() * 1_000_000)


def post(server: ServerProcess, spans: list[dict[str, Any]], **headers: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/v2/spans",
        content=orjson.dumps(spans),
        headers={"content-type": "application/json", **headers},
    )


def wait_for_trace(server: ServerProcess, trace_id: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    spans: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        r = httpx.get(f"{server.url}/api/v2/trace/{trace_id}")
        if r.status_code == 200:
            spans = r.json()
            if len(spans) >= count:
                return spans
        time.sleep(0.1)
    raise AssertionError(f"trace {trace_id} has {len(spans)} of {count} spans")


class _Transport:
    """py_zipkin's transport contract: POST the encoded list where Zipkin takes it."""

    def __init__(self, url: str, content_type: str) -> None:
        self.url, self.content_type = url, content_type

    def get_max_payload_bytes(self) -> int | None:
        return None

    def __call__(self, payload: bytes | str) -> None:
        body = payload.encode() if isinstance(payload, str) else payload
        response = httpx.post(self.url, content=body, headers={"content-type": self.content_type})
        assert response.status_code == 202, response.text


@pytest.mark.parametrize("encoding", ["V2_JSON", "V2_PROTO3"])
def test_py_zipkin_spans_read_back_with_the_fields_it_set(
    zipkin: ServerProcess, encoding: str
) -> None:
    pytest.importorskip("py_zipkin")
    from py_zipkin.encoding import Encoding
    from py_zipkin.transport import BaseTransportHandler
    from py_zipkin.zipkin import Kind, zipkin_span

    content_type = "application/json" if encoding == "V2_JSON" else "application/x-protobuf"
    transport = type("T", (_Transport, BaseTransportHandler), {})(
        f"{zipkin.url}/api/v2/spans", content_type
    )
    with zipkin_span(
        service_name=f"PyZ-{encoding}",
        span_name="Checkout",
        transport_handler=transport,
        sample_rate=100.0,
        encoding=getattr(Encoding, encoding),
        kind=Kind.SERVER,
        binary_annotations={"order": "42"},
        host="10.0.0.7",
        port=8080,
    ) as root:
        with zipkin_span(
            service_name=f"PyZ-{encoding}", span_name="load cart", kind=Kind.CLIENT
        ) as child:
            child.add_sa_binary_annotation(port=5432, service_name="Postgres", host="10.0.0.9")
            child.add_annotation("cache miss")
            child.update_binary_annotations({"db.statement": "select 1"})
        trace_id = root.zipkin_attrs.trace_id
        root_id = root.zipkin_attrs.span_id
    spans = {s["name"]: s for s in wait_for_trace(zipkin, trace_id, 2)}
    service = f"pyz-{encoding.lower()}"
    top, cart = spans["checkout"], spans["load cart"]
    assert top["traceId"] == trace_id and top["id"] == root_id and "parentId" not in top
    assert top["kind"] == "SERVER" and top["tags"]["order"] == "42"
    assert top["localEndpoint"] == {
        "serviceName": service.lower(),
        "ipv4": "10.0.0.7",
        "port": 8080,
    }
    assert cart["parentId"] == root_id and cart["kind"] == "CLIENT"
    assert cart["remoteEndpoint"] == {"serviceName": "postgres", "ipv4": "10.0.0.9", "port": 5432}
    assert cart["tags"]["db.statement"] == "select 1"
    assert [a["value"] for a in cart["annotations"]] == ["cache miss"]
    assert cart["duration"] >= 0 and top["timestamp"] <= cart["timestamp"]


def test_opentelemetry_zipkin_json_exporter_spans_read_back(zipkin: ServerProcess) -> None:
    pytest.importorskip("opentelemetry.exporter.zipkin.json")
    from opentelemetry.exporter.zipkin.json import ZipkinExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import SpanKind, Status, StatusCode

    provider = TracerProvider(resource=Resource.create({"service.name": "OtelZipkin"}))
    provider.add_span_processor(
        SimpleSpanProcessor(ZipkinExporter(endpoint=f"{zipkin.url}/api/v2/spans"))
    )
    tracer = provider.get_tracer("zk")
    with tracer.start_as_current_span(
        "Publish", kind=SpanKind.PRODUCER, attributes={"messaging.system": "kafka", "n": 3}
    ) as span:
        span.add_event("sent")
        span.set_status(Status(StatusCode.ERROR, "broker down"))
        trace_id = f"{span.get_span_context().trace_id:032x}"
    provider.shutdown()
    (got,) = wait_for_trace(zipkin, trace_id, 1)
    assert got["kind"] == "PRODUCER" and got["name"] == "publish"
    assert got["localEndpoint"]["serviceName"] == "otelzipkin"
    assert got["tags"]["messaging.system"] == "kafka" and got["tags"]["n"] == "3"
    assert got["tags"]["otel.status_code"] == "ERROR" and got["tags"]["error"] == "broker down"
    assert got["annotations"][0]["value"] == '{"sent": {}}'


def span(trace_id: str, span_id: str, service: str, name: str, **more: Any) -> dict[str, Any]:
    return {
        "traceId": trace_id,
        "id": span_id,
        "name": name,
        "timestamp": now_us(),
        "duration": 100,
        "localEndpoint": {"serviceName": service},
        **more,
    }


def test_query_api_answers_names_traces_and_filters_as_zipkin_does(zipkin: ServerProcess) -> None:
    t1, t2 = "a1" * 8, "b2" * 16
    spans = [
        span(
            t1,
            "1" * 16,
            "Query-Web",
            "GET /Home",
            kind="SERVER",
            duration=5000,
            tags={"http.status_code": "200"},
        ),
        span(
            t1,
            "2" * 16,
            "Query-Web",
            "select",
            kind="CLIENT",
            parentId="1" * 16,
            remoteEndpoint={"serviceName": "Query-DB"},
            annotations=[{"timestamp": now_us(), "value": "cs"}],
        ),
        span(
            t2,
            "3" * 16,
            "Query-Web",
            "GET /cart",
            kind="SERVER",
            duration=90,
            tags={"http.status_code": "500", "error": "boom"},
        ),
    ]
    assert post(zipkin, spans).status_code == 202
    wait_for_trace(zipkin, t1, 2)
    url = f"{zipkin.url}/api/v2"
    assert "query-web" in httpx.get(f"{url}/services").json()
    assert httpx.get(f"{url}/spans", params={"serviceName": "QUERY-WEB"}).json() == [
        "get /cart",
        "get /home",
        "select",
    ]
    assert httpx.get(f"{url}/remoteServices", params={"serviceName": "query-web"}).json() == [
        "query-db"
    ]

    def trace_ids(**params: Any) -> list[str]:
        traces = httpx.get(f"{url}/traces", params={"serviceName": "query-web", **params}).json()
        return sorted(t[0]["traceId"] for t in traces)

    assert trace_ids() == sorted([t1, t2])
    assert trace_ids(spanName="get /home") == [t1]
    assert trace_ids(spanName="all") == sorted([t1, t2])
    assert trace_ids(remoteServiceName="query-db") == [t1]
    assert trace_ids(minDuration=1000) == [t1]
    assert trace_ids(minDuration=80, maxDuration=95) == [t2]
    assert trace_ids(annotationQuery="http.status_code=500") == [t2]
    assert trace_ids(annotationQuery="error") == [t2]
    assert trace_ids(annotationQuery="cs and http.status_code=200") == []  # not within one span
    assert trace_ids(annotationQuery="cs") == [t1]
    assert trace_ids(limit=1) in ([t1], [t2])
    assert trace_ids(endTs=int(time.time() * 1000) - 3_600_000, lookback=60_000) == []
    (whole,) = httpx.get(
        f"{url}/traces", params={"serviceName": "query-web", "spanName": "select"}
    ).json()
    assert len(whole) == 2  # the whole trace, not only the matching span
    many = httpx.get(f"{url}/traceMany", params={"traceIds": f"{t1},{t2}"}).json()
    assert sorted(len(t) for t in many) == [1, 2]
    assert httpx.get(f"{zipkin.url}/zipkin/api/v2/trace/{t1}").status_code == 200


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/trace/" + "c" * 16, 404, "c" * 16 + " not found"),
        ("/trace/not-hex", 400, "hex"),
        ("/traceMany?traceIds=" + "c" * 16, 400, "at least two"),
        ("/traceMany?traceIds=" + ",".join(["c" * 16] * 2), 400, "duplicates"),
        ("/spans", 400, "serviceName is required"),
        ("/traces?maxDuration=5", 400, "minDuration is required"),
        ("/traces?limit=0", 400, "limit should be positive"),
        ("/traces?lookback=abc", 400, "lookback should be a positive number"),
        ("/dependencies", 400, "endTs is required"),
        ("/autocompleteValues", 400, "key is required"),
    ],
)
def test_bad_queries_and_unknown_traces_answer_zipkins_status_in_plain_text(
    zipkin: ServerProcess, path: str, status: int, text: str
) -> None:
    r = httpx.get(f"{zipkin.url}/api/v2{path}")
    assert r.status_code == status and text in r.text
    assert r.headers["content-type"].startswith("text/plain")


def test_a_bad_span_is_named_in_a_400_while_the_good_ones_are_stored(zipkin: ServerProcess) -> None:
    trace_id = "d4" * 8
    r = post(
        zipkin,
        [
            span(trace_id, "5" * 16, "Mixed", "ok"),
            span(trace_id, "6" * 17, "Mixed", "long id"),
            span(trace_id, "7" * 16, "Mixed", "negative", duration=-1),
        ],
    )
    assert r.status_code == 400
    assert "2 span(s) rejected" in r.text and "spans[1]: id" in r.text
    assert "spans[2]: negative duration" in r.text and "1 other span(s) stored" in r.text
    assert [s["name"] for s in wait_for_trace(zipkin, trace_id, 1)] == ["ok"]


def test_gzip_json_and_the_reporter_health_check_are_accepted(zipkin: ServerProcess) -> None:
    headers = {"content-type": "application/json", "content-encoding": "gzip", "b3": "0"}
    assert (
        httpx.post(
            f"{zipkin.url}/api/v2/spans", content=gzip.compress(b"[]"), headers=headers
        ).status_code
        == 202
    )
    trace_id = "e5" * 8
    body = gzip.compress(orjson.dumps([span(trace_id, "8" * 16, "gz", "zipped")]))
    assert (
        httpx.post(f"{zipkin.url}/api/v2/spans", content=body, headers=headers).status_code == 202
    )
    wait_for_trace(zipkin, trace_id, 1)


def test_garbage_bodies_are_a_400_that_says_why(zipkin: ServerProcess) -> None:
    r = httpx.post(
        f"{zipkin.url}/api/v2/spans",
        content=b"\xff\x00garbage",
        headers={"content-type": "application/x-protobuf"},
    )
    assert r.status_code == 400 and "ListOfSpans" in r.text
    r = post(zipkin, [{"traceId": "1", "id": "1", "binaryAnnotations": []}])  # type: ignore[list-item]
    assert r.status_code == 400 and "JSON_V1" in r.text


def test_dependencies_link_client_and_server_spans_of_different_services(
    zipkin: ServerProcess,
) -> None:
    trace_id = "f6" * 16
    post(
        zipkin,
        [
            span(trace_id, "a" * 16, "Dep-Gateway", "route", kind="CLIENT"),
            span(
                trace_id,
                "b" * 16,
                "Dep-Orders",
                "handle",
                kind="SERVER",
                parentId="a" * 16,
                tags={"error": "oops"},
            ),
            span(
                trace_id,
                "c" * 16,
                "Dep-Orders",
                "query",
                kind="CLIENT",
                parentId="b" * 16,
                remoteEndpoint={"serviceName": "dep-mysql"},
            ),
        ],
    )
    deadline = time.monotonic() + 15
    links: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        links = httpx.get(
            f"{zipkin.url}/api/v2/dependencies", params={"endTs": int(time.time() * 1000) + 60_000}
        ).json()
        if any(link["parent"] == "dep-gateway" for link in links):
            break
        time.sleep(0.2)
    assert {
        "parent": "dep-gateway",
        "child": "dep-orders",
        "callCount": 1,
        "errorCount": 1,
    } in links


def test_autocomplete_and_lens_config(zipkin: ServerProcess) -> None:
    post(zipkin, [span("a7" * 8, "9" * 16, "auto", "x", tags={"environment": "prod"})])
    wait_for_trace(zipkin, "a7" * 8, 1)
    assert "environment" in httpx.get(f"{zipkin.url}/api/v2/autocompleteKeys").json()
    values = httpx.get(
        f"{zipkin.url}/api/v2/autocompleteValues", params={"key": "environment"}
    ).json()
    assert values == ["prod"]
    config = httpx.get(f"{zipkin.url}/zipkin/config.json").json()
    assert config["dependency"]["enabled"] is True and config["queryLimit"] == 10


def test_spans_resent_after_a_kill_9_are_answered_and_linked_once(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    """The answer was lost with the process: the reporter re-sends to the restarted server."""
    trace_id = "9e" * 8
    spans = [
        span(trace_id, "1a" * 8, "Crash-Web", "call", kind="CLIENT"),
        span(trace_id, "2b" * 8, "Crash-Api", "serve", kind="SERVER", parentId="1a" * 8),
    ]
    first = server_factory(tmp_path / "data").start()
    assert post(first, spans).status_code == 202
    first.kill()
    second = server_factory(tmp_path / "data").start()
    try:
        assert post(second, spans).status_code == 202
        assert post(second, spans).status_code == 202
        time.sleep(2.5)  # past the linker's flushes
        assert len(wait_for_trace(second, trace_id, 2)) == 2
        links = httpx.get(
            f"{second.url}/api/v2/dependencies", params={"endTs": int(time.time() * 1000) + 60_000}
        ).json()
        assert [link for link in links if link["parent"] == "crash-web"] == [
            {"parent": "crash-web", "child": "crash-api", "callCount": 1}
        ]
    finally:
        second.stop()
