"""One trace's Zipkin spans merged as Zipkin's ``Trace.merge`` merges them, at read time.

Why at read time: reporters retry (a lost answer, a timeout, a restart of either side),
and a span may also arrive in pieces. The lake keeps every copy it acknowledged; the
answer of ``/api/v2/trace/{id}``, ``traceMany`` and ``traces`` is computed from what is
stored, so it is the same before and after a ``kill -9`` or a restart, with no index of
seen ids to lose. The rules are Zipkin's (``zipkin2.internal.Trace``):

* spans with the same id, the same ``shared`` flag and compatible local endpoints are
  one span: a retried copy disappears, pieces are combined (missing fields filled,
  annotations united and deduplicated, tags united);
* a SERVER span with its CLIENT's id but no ``shared: true`` is marked shared (some
  instrumentation forgets the flag), and a shared span without a parent takes its
  client's;
* the trace's spans take its longest trace id, so a 128-bit client and a server that
  propagated only the low 64 bits read back as one trace.

Spans keep the order of their first piece in the input (the query's time order).
"""

from __future__ import annotations

from typing import Any

Span = dict[str, Any]

#: Zipkin's writer order of a v2 span's fields.
FIELDS = (
    "traceId", "parentId", "id", "kind", "name", "timestamp", "duration", "localEndpoint",
    "remoteEndpoint", "annotations", "tags", "debug", "shared",
)  # fmt: skip
_SCALARS = ("traceId", "id", "parentId", "kind", "name", "timestamp", "duration")
_ENDPOINT_FIELDS = ("serviceName", "ipv4", "ipv6", "port")


def merge_trace(spans: list[Span]) -> list[Span]:
    """The spans of one trace (any mix of 64- and 128-bit ids of it), merged."""
    if len(spans) <= 1:
        return spans
    order = sorted(range(len(spans)), key=lambda i: _cleanup_key(spans[i]))
    trace_id = spans[order[0]]["traceId"]
    for i in order[1:]:
        if len(trace_id) != 32:
            trace_id = spans[i]["traceId"]
    merged: list[tuple[int, Span]] = []
    last: Span | None = None
    i = 0
    while i < len(order):
        first = order[i]
        span = dict(spans[first])
        span["traceId"] = trace_id
        shared = span.get("shared") is True
        local = _EndpointTracker(span.get("localEndpoint"))
        i += 1
        while i < len(order) and spans[order[i]]["id"] == span["id"]:
            following = spans[order[i]]
            if (following.get("shared") is True) != shared or not local.try_merge(
                following.get("localEndpoint")
            ):
                break
            span = _merge(span, following)
            first = min(first, order[i])
            i += 1
        if last is not None and last["id"] == span["id"]:
            if last.get("kind") == "CLIENT" and span.get("kind") == "SERVER" and not shared:
                shared = True
                span["shared"] = True
            if shared and "parentId" not in span and "parentId" in last:
                span["parentId"] = last["parentId"]
        merged.append((first, {k: span[k] for k in FIELDS if k in span}))
        last = span
    merged.sort(key=lambda pair: pair[0])
    return [span for _, span in merged]


def _cleanup_key(span: Span) -> tuple[Any, ...]:
    """Zipkin's ``CLEANUP_COMPARATOR``: by id, unshared client first, shared last, then
    spans without a local endpoint before those with one (service, ipv4, ipv6)."""
    rank = 2 if span.get("shared") is True else (0 if span.get("kind") == "CLIENT" else 1)
    local = span.get("localEndpoint")
    if not local:
        endpoint: tuple[Any, ...] = (0,)
    else:
        endpoint = (1, *(_nulls_last(local.get(k)) for k in ("serviceName", "ipv4", "ipv6")))
    return (span["id"], rank, endpoint)


def _nulls_last(value: str | None) -> tuple[int, str]:
    return (1, "") if value is None else (0, value)


class _EndpointTracker:
    """Whether pieces of a span come from the same endpoint (Zipkin's ``EndpointTracker``):
    fields known on both sides must agree; unknown ones are learned as pieces merge."""

    def __init__(self, endpoint: dict[str, Any] | None) -> None:
        self.known: dict[str, Any] = {}
        self.try_merge(endpoint)

    def try_merge(self, endpoint: dict[str, Any] | None) -> bool:
        if not endpoint:
            return True
        for key in _ENDPOINT_FIELDS:
            mine, theirs = self.known.get(key), endpoint.get(key)
            if mine and theirs and mine != theirs:
                return False
        for key in _ENDPOINT_FIELDS:
            if not self.known.get(key) and endpoint.get(key):
                self.known[key] = endpoint[key]
        return True


def _merge(span: Span, source: Span) -> Span:
    """Zipkin's ``Span.Builder.merge``: ``span``'s fields win, ``source`` fills the gaps."""
    out = dict(span)
    for key in _SCALARS:
        if key not in out and key in source:
            out[key] = source[key]
    for key in ("localEndpoint", "remoteEndpoint"):
        if key in source:
            out[key] = {**source[key], **out[key]} if key in out else source[key]
    if "annotations" in source:
        united = {
            (a["timestamp"], a["value"])
            for a in [*out.get("annotations", ()), *source["annotations"]]
        }
        out["annotations"] = [{"timestamp": t, "value": v} for t, v in sorted(united)]
    if "tags" in source:
        out["tags"] = dict(sorted({**out.get("tags", {}), **source["tags"]}.items()))
    for flag in ("debug", "shared"):
        if source.get(flag) is True:
            out[flag] = True
    return out
