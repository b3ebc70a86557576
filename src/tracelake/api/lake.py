"""``POST /api/v1/lake/compact``: flush the memtable and compact every partition now.

The running server flushes its own memtable (only it knows its WAL), so ``tracelake
lake compact`` asks it; the compaction itself is a Delta commit, safe beside other
writers of the lake (they take turns on the lake's maintenance lock). Normal
compaction waits for a partition to gather ``compaction_min_segments`` segments or for
its hour to close; this rewrites every flushed segment at once, e.g. before copying
the lake elsewhere or reading it from Spark.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from tracelake.api.context import context
from tracelake.api.endpoints import ADMIN, Endpoint
from tracelake.api.openapi import answer, error_answers
from tracelake.api.responses import JSON


async def post_compact(request: Request) -> Response:
    store = context(request).store

    def run() -> dict[str, int]:
        flushed = store.flush()
        groups = store.compact(min_segments=1)
        return {
            "flushed_rows": flushed,
            "compacted_groups": groups,
            "segments": store.segment_count(),
        }

    return JSON(await asyncio.to_thread(run))


endpoints = [
    Endpoint(
        "/api/v1/lake/compact",
        post_compact,
        ("POST",),
        ADMIN,
        doc={
            "operationId": "compact",
            "summary": "Flush the memtable and compact every partition now",
            "tags": ["lake"],
            "responses": {
                "200": answer(
                    {
                        "type": "object",
                        "required": ["flushed_rows", "compacted_groups", "segments"],
                        "properties": {
                            "flushed_rows": {"type": "integer"},
                            "compacted_groups": {"type": "integer"},
                            "segments": {"type": "integer"},
                        },
                    }
                ),
                **error_answers("Overloaded"),
            },
        },
    )
]
