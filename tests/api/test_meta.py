"""The server's own metrics count ingest, queries and the store."""

from __future__ import annotations

import httpx

from tests.conftest import ServerProcess


def test_metrics_count_accepted_and_rejected_records_and_store_sizes(server: ServerProcess) -> None:
    httpx.post(f"{server.url}/api/v1/logs", content=b'{"message":"a"}\nbad\n')
    httpx.get(f"{server.url}/api/v1/search", params={"q": "a"})
    text = httpx.get(f"{server.url}/metrics").text
    assert 'tracelake_ingest_records_total{input="http",outcome="accepted"} 1.0' in text
    assert 'tracelake_ingest_records_total{input="http",outcome="rejected"} 1.0' in text
    assert 'tracelake_queries_total{kind="search",outcome="ok"} 1.0' in text
    for name in (
        "tracelake_memtable_rows",
        "tracelake_wal_bytes_written_total",
        "tracelake_segment_bytes",
    ):
        assert f"\n{name} " in text
