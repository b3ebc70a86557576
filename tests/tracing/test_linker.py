"""The dependency linker: links from exit to entry spans, whichever half arrives first."""

from __future__ import annotations

from tracelake.tracing.linker import MINUTE_US, DependencyLinker, LinkSpan

T = "0" * 31 + "1"
TS = 1_700_000_000_000_000


def span(
    span_id: str,
    parent: str | None,
    service: str,
    kind: str,
    *,
    error: bool = False,
    remote: str | None = None,
    shared: bool = False,
    trace: str = T,
) -> LinkSpan:
    return (trace, span_id, parent, service, kind, error, TS, remote, shared)


MINUTE = TS - TS % MINUTE_US


def test_client_to_server_links_the_two_services_whichever_arrives_first() -> None:
    for order in (1, -1):
        linker = DependencyLinker()
        spans = [span("a1", None, "web", "CLIENT"), span("b1", "a1", "api", "SERVER", error=True)]
        linker.add(spans[::order])
        assert linker.take() == {(TS - TS % MINUTE_US, "web", "api"): [1, 1]}


def test_b3_shared_server_span_links_to_the_client_with_the_same_id() -> None:
    linker = DependencyLinker()
    linker.add([span("c1", "p0", "api", "SERVER", shared=True), span("c1", "p0", "web", "CLIENT")])
    assert list(linker.take()) == [(TS - TS % MINUTE_US, "web", "api")]


def test_client_with_a_remote_service_and_no_server_links_to_it_when_the_window_ends() -> None:
    now = [0.0]
    linker = DependencyLinker(window_s=10, clock=lambda: now[0])
    linker.add([span("d1", None, "api", "CLIENT", remote="postgres")])
    linker.tick()
    assert linker.take() == {}
    now[0] = 11
    linker.tick()
    now[0] = 22
    linker.tick()
    assert linker.take() == {(TS - TS % MINUTE_US, "api", "postgres"): [1, 0]}
    assert linker.held == 0


def test_calls_within_one_service_are_not_links() -> None:
    linker = DependencyLinker()
    linker.add([span("e1", None, "api", "CLIENT"), span("e2", "e1", "api", "SERVER")])
    assert linker.take() == {}


def test_a_retried_span_counts_once() -> None:
    linker = DependencyLinker()
    client, server = span("f1", None, "web", "CLIENT"), span("f2", "f1", "api", "SERVER")
    linker.add([client, server, server, client])
    linker.add([server])
    assert linker.take() == {(MINUTE, "web", "api"): [1, 0]}


def test_a_server_with_its_clients_id_but_no_shared_flag_links_at_once_with_its_error() -> None:
    for order in (1, -1):
        linker = DependencyLinker()
        spans = [
            span("g1", "g0", "web", "CLIENT", remote="api"),
            span("g1", "g0", "api", "SERVER", error=True),
        ]
        linker.add(spans[::order])
        assert linker.take() == {(MINUTE, "web", "api"): [1, 1]}
        linker.tick(force=True)
        linker.tick(force=True)
        assert linker.take() == {}  # no late leaf link to the client's remote service


def test_a_128_bit_client_and_a_64_bit_server_of_one_trace_link() -> None:
    high, low = "463ac35c9f6413ad", "48485a3953bb6124"
    linker = DependencyLinker()
    linker.add(
        [
            span("h1", None, "web", "CLIENT", trace=high + low),
            span("h2", "h1", "api", "SERVER", trace="0" * 16 + low),
        ]
    )
    assert linker.take() == {(MINUTE, "web", "api"): [1, 0]}


def test_messaging_links_through_the_broker_not_from_producer_to_consumer() -> None:
    linker = DependencyLinker()
    linker.add(
        [
            span("k1", None, "frontend", "PRODUCER", remote="kafka"),
            span("k2", "k1", "backend", "CONSUMER", remote="kafka", error=True),
        ]
    )
    assert linker.take() == {
        (MINUTE, "frontend", "kafka"): [1, 0],
        (MINUTE, "kafka", "backend"): [1, 1],
    }
