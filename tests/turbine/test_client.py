"""The instance-stream side: SSE parsing, backoff, cluster entries, and the hub's
fan-out over fake instance streams (httpx mock transport, no sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from tracelake.errors import ConfigError
from tracelake.turbine.client import Backoff, SSEParser
from tracelake.turbine.hub import TurbineHub
from tracelake.turbine.sources import FirstMatch, Instance, StaticClusterSource


def test_sse_parser_yields_data_events_across_chunk_boundaries_and_skips_pings() -> None:
    parser = SSEParser()
    assert parser.feed(b'data: {"type":"HystrixCommand",') == []
    assert parser.feed(b'"name":"a"}\n\nping: \n\n: comment\n\n') == [
        {"type": "HystrixCommand", "name": "a"}
    ]
    assert parser.feed(b'data: {"name":"b"}\r\n\r\ndata: not json\n\n') == [{"name": "b"}]


def test_backoff_doubles_up_to_its_cap_and_resets_on_success() -> None:
    b = Backoff(initial_s=0.5, max_s=2.0)
    assert [b.next() for _ in range(4)] == [0.5, 1.0, 2.0, 2.0]
    b.reset()
    assert b.next() == 0.5


def test_cluster_entries_are_host_port_or_stream_urls() -> None:
    source = StaticClusterSource(
        {"orders": ["127.0.0.1:8001", "https://orders-2.internal/actuator/hystrix.stream"]}
    )
    found = asyncio.run(source.instances("orders"))
    assert found == [
        Instance("127.0.0.1:8001", "http://127.0.0.1:8001/hystrix.stream", "orders"),
        Instance(
            "orders-2.internal:443", "https://orders-2.internal/actuator/hystrix.stream", "orders"
        ),
    ]
    assert asyncio.run(source.instances("nope")) is None


def test_a_bad_cluster_entry_stops_the_start_with_its_name() -> None:
    with pytest.raises(ConfigError, match=r"turbine_clusters\.orders"):
        StaticClusterSource({"orders": ["ftp://x"]})


def test_first_match_asks_sources_in_order() -> None:
    a = StaticClusterSource({"orders": ["a:1"]})
    b = StaticClusterSource({"orders": ["b:1"], "users": ["c:1"]})
    both = FirstMatch(a, b)
    assert [i.host for i in asyncio.run(both.instances("orders")) or []] == ["a:1"]
    assert [i.host for i in asyncio.run(both.instances("users")) or []] == ["c:1"]


class _Stream(httpx.AsyncByteStream):
    def __init__(self, events: list[dict[str, object]], ticks: int) -> None:
        self.events = events
        self.ticks = ticks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.ticks):
            yield b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in self.events)
            yield b"ping: \n\n"
            await asyncio.sleep(0.02)


def _command(success: int, is_open: bool = False) -> dict[str, object]:
    return {
        "type": "HystrixCommand",
        "name": "payments",
        "isCircuitBreakerOpen": is_open,
        "rollingCountSuccess": success,
        "reportingHosts": 1,
    }


def test_hub_sums_instances_records_flips_and_drops_a_host_whose_stream_ends() -> None:
    connections: dict[str, int] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        connections[host] = connections.get(host, 0) + 1
        if host == "b":  # opens on its second connection, then ends for good
            if connections[host] > 2:
                return httpx.Response(503)
            return httpx.Response(
                200, stream=_Stream([_command(7, connections[host] == 2)], ticks=10)
            )
        return httpx.Response(200, stream=_Stream([_command(5)], ticks=10_000))

    records: list[dict[str, object]] = []

    async def record(batch: list[dict[str, object]]) -> None:
        records.extend(batch)

    async def scenario() -> list[list[dict[str, object]]]:
        hub = TurbineHub(
            StaticClusterSource({"orders": ["a:80", "b:80"]}),
            record,
            interval_s=0.05,
            client_factory=lambda: httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        )
        assert await hub.subscribe("unknown") is None
        sub = await hub.subscribe("orders")
        assert sub is not None
        seen = []
        async for tick in sub:
            seen.append([orjson.loads(data[6:]) for _, data in tick])
            if len(seen) > 40:
                break
        sub.close()
        assert "orders" not in hub.feeds  # last subscriber gone: feed stopped
        await hub.aclose()
        return seen

    seen = asyncio.run(scenario())
    sums = {(t[0]["rollingCountSuccess"], t[0]["reportingHosts"]) for t in seen if t}
    assert (12, 2) in sums  # both hosts
    assert seen[-1][0]["rollingCountSuccess"] == 5  # b gone: its share removed
    assert seen[-1][0]["reportingHosts"] == 1
    assert [r["event"] for r in records] == ["circuit_open"]
    assert records[0]["breaker"] == "payments" and records[0]["host"] == "b:80"
