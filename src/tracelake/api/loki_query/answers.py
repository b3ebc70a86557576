"""Loki's JSON answers: the success envelope, streams, vectors, matrices and ``stats``.

Grafana's Loki data source reads these shapes field by field; the query endpoints, the
volume endpoints and the tail all build them here, so each shape is written once.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response

from tracelake.api.context import AppContext
from tracelake.api.responses import JSON, dumps
from tracelake.errors import PayloadTooLarge
from tracelake.query.logql.engine import Answer, Stats
from tracelake.query.logql.labels import Entry
from tracelake.query.logql.vectors import Labels, labels_of
from tracelake.query.promql.format import format_time, format_value

#: The response encoding flag of Loki 3: stream labels apart from each entry's metadata.
CATEGORIZE = "categorize-labels"


def categorized(request: Request) -> bool:
    """Whether the client asks for categorized labels (Grafana does, for Loki 3)."""
    flags = request.headers.get("x-loki-response-encoding-flags", "")
    return CATEGORIZE in (f.strip() for f in flags.split(","))


def _envelope(data: Any) -> dict[str, Any]:
    return {"status": "success", "data": data}


def success(data: Any) -> Response:
    """``data`` in Loki's success envelope."""
    return JSON(_envelope(data))


async def query_answer(ctx: AppContext, answer: Answer, categorize: bool) -> Response:
    """The answer of a query, encoded off the event loop and held to the answer budget."""
    encoded = await asyncio.to_thread(dumps, _envelope(answer_data(answer, categorize)))
    budget = ctx.settings.query_max_answer_bytes
    if len(encoded) > budget:
        raise PayloadTooLarge(
            f"the answer passed query_max_answer_bytes ({budget} bytes): lower the limit, "
            "narrow the selector or aggregate"
        )
    return Response(encoded, media_type="application/json")


def stats_json(stats: Stats) -> dict[str, Any]:
    """Loki's ``stats`` object: the summary Grafana shows, the rest present and zero."""
    elapsed = max(stats.elapsed(), 1e-9)
    return {
        "summary": {
            "bytesProcessedPerSecond": int(stats.bytes / elapsed),
            "linesProcessedPerSecond": int(stats.lines / elapsed),
            "totalBytesProcessed": stats.bytes,
            "totalLinesProcessed": stats.lines,
            "execTime": elapsed,
            "queueTime": 0,
            "subqueries": 0,
            "totalEntriesReturned": stats.returned,
            "splits": 0,
            "shards": 0,
            "totalPostFilterLines": stats.returned,
            "totalStructuredMetadataBytesProcessed": 0,
        },
        "querier": {"store": {"totalChunksRef": 0, "totalChunksDownloaded": 0}},
        "ingester": {
            "totalReached": 0,
            "totalChunksMatched": 0,
            "totalBatches": 0,
            "totalLinesSent": 0,
        },
        "cache": {},
    }


def streams_json(entries: list[Entry], categorize: bool) -> list[dict[str, Any]]:
    """Entries grouped into streams; with ``categorize`` the stream is the stream labels
    and each entry carries its structured metadata and parsed labels, as Loki 3 does."""
    groups: dict[Labels, list[list[Any]]] = {}
    for e in entries:
        if categorize:
            extra: dict[str, dict[str, str]] = {}
            if e.meta:
                extra["structuredMetadata"] = e.meta
            if e.parsed:
                extra["parsed"] = e.parsed
            value: list[Any] = [str(e.ts), e.line, extra] if extra else [str(e.ts), e.line]
            groups.setdefault(labels_of(e.stream), []).append(value)
        else:
            groups.setdefault(labels_of(e.labels()), []).append([str(e.ts), e.line])
    return [{"stream": dict(k), "values": v} for k, v in sorted(groups.items())]


def _points(steps: np.ndarray, values: np.ndarray) -> list[list[Any]]:
    return [
        [format_time(int(t) // 10**6), format_value(float(v))]
        for t, v in zip(steps, values, strict=True)
        if not math.isnan(v)
    ]


def answer_data(answer: Answer, categorize: bool) -> dict[str, Any]:
    """The envelope's ``data``: ``resultType``, ``result`` in its shape, and ``stats``."""
    data: dict[str, Any] = {"resultType": answer.kind}
    if answer.kind == "streams":
        data["result"] = streams_json(answer.entries, categorize)
        if categorize:
            data["encodingFlags"] = [CATEGORIZE]
    elif answer.kind == "scalar":
        assert answer.scalar is not None
        t = format_time(int(answer.steps[-1]) // 10**6)
        data["result"] = [t, format_value(float(answer.scalar[-1]))]
    elif answer.kind == "vector":
        t = format_time(int(answer.steps[-1]) // 10**6)
        data["result"] = [
            {"metric": dict(k), "value": [t, format_value(float(v[-1]))]}
            for k, v in sorted(answer.series.items())
        ]
    else:
        data["result"] = [
            {"metric": dict(k), "values": _points(answer.steps, v)}
            for k, v in sorted(answer.series.items())
        ]
    data["stats"] = stats_json(answer.stats)
    return data
