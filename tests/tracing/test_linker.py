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
) -> LinkSpan:
    return (T, span_id, parent, service, kind, error, TS, remote, shared)


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
