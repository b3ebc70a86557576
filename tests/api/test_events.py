"""``POST /api/v1/events`` against the real server: stored, partitioned, queryable, refused."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import httpx
import orjson

from tests.conftest import ServerProcess


def post(server: ServerProcess, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(f"{server.url}/api/v1/events", content=body, headers=headers, timeout=60)


def sql(server: ServerProcess, statement: str) -> list[list[object]]:
    r = httpx.post(f"{server.url}/api/v1/sql", json={"sql": statement}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["rows"]


def test_good_events_are_stored_and_bad_ones_reported_by_index(server: ServerProcess) -> None:
    items = [
        {"type": "order_placed", "payload": {"amount": 150, "currency": "EUR"}, "key": "o-1"},
        "not an object",
        {"payload": {"amount": 1}},
        {"type": "../../etc/passwd", "payload": {}},
        {"type": "order_placed", "payload": {"blob": "x" * 70_000}},
        {"type": "refund", "payload": {"amount": 20}, "service": "billing"},
    ]
    r = post(server, orjson.dumps(items))
    assert r.status_code == 200
    result = r.json()
    assert result["accepted"] == 2 and result["rejected"] == 4
    reasons = {e["index"]: e["reason"] for e in result["errors"]}
    assert set(reasons) == {1, 2, 3, 4}
    assert "expected an event object" in reasons[1]
    assert 'missing "type"' in reasons[2]
    assert "not a valid event type" in reasons[3]
    assert "over the limit" in reasons[4]
    assert sql(server, "SELECT type, key, service FROM events ORDER BY type") == [
        ["order_placed", "o-1", None],
        ["refund", None, "billing"],
    ]


def test_ndjson_with_a_line_that_is_not_json_keeps_the_others(server: ServerProcess) -> None:
    body = b'{"type":"a","payload":{}}\n{oops\n{"type":"b","payload":{}}\n'
    result = post(server, gzip.compress(body), **{"Content-Encoding": "gzip"}).json()
    assert result["accepted"] == 2 and result["errors"][0]["index"] == 1
    assert "not JSON" in result["errors"][0]["reason"]


def test_a_body_where_every_event_is_bad_is_a_400(server: ServerProcess) -> None:
    r = post(server, b'{"type":"a b","payload":{}}\n')
    assert r.status_code == 400 and r.json()["rejected"] == 1


def test_payload_fields_are_queryable_over_sql_with_json_functions(server: ServerProcess) -> None:
    amounts = [50, 150, 250.5]
    body = b"\n".join(
        orjson.dumps({"type": "order_placed", "payload": {"amount": a}}) for a in amounts
    )
    assert post(server, body).json()["accepted"] == 3
    rows = sql(
        server,
        "SELECT sum(CAST(payload->>'$.amount' AS DOUBLE)) FROM events "
        "WHERE CAST(payload->>'$.amount' AS DOUBLE) > 100",
    )
    assert rows == [[400.5]]


def test_events_land_in_type_and_date_partitions_inside_the_lake_only(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    srv = server_factory(data, env={"TRACELAKE_FLUSH_INTERVAL_S": "0.2"}).start()
    before = {p for p in tmp_path.rglob("*")}
    hostile = [{"type": t, "payload": {}} for t in ("../x", "a/../../b", "/abs", "..")]
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 2 * 86_400))
    good = [
        {"type": "order_placed", "payload": {"n": 1}, "timestamp": f"{day}T03:04:05Z"},
        {"type": "refund", "payload": {"n": 2}, "timestamp": f"{day}T03:04:05Z"},
    ]
    result = post(srv, orjson.dumps(hostile + good)).json()
    assert result["accepted"] == 2 and result["rejected"] == 4
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        files = sorted(p.relative_to(data).as_posix() for p in data.rglob("*.parquet"))
        if len(files) == 2:
            break
        time.sleep(0.1)
    assert [f.rsplit("/", 1)[0] for f in files] == [
        f"lake/events/type=order_placed/date={day}/hour=03",
        f"lake/events/type=refund/date={day}/hour=03",
    ]
    srv.stop()
    created = {p for p in tmp_path.rglob("*")} - before
    outside = [
        p for p in created if not p.is_relative_to(data) and not p.name.startswith("server-")
    ]
    assert outside == []


def test_search_over_events_filters_on_type_and_payload_fields(server: ServerProcess) -> None:
    items = [
        {"type": "order_placed", "payload": {"amount": 150, "customer": {"tier": "gold"}}},
        {"type": "order_placed", "payload": {"amount": 80}},
        {"type": "refund", "payload": {"amount": 500}},
    ]
    assert post(server, orjson.dumps(items)).json()["accepted"] == 3
    q = "type:order_placed payload.amount:>100"
    r = httpx.get(f"{server.url}/api/v1/search", params={"table": "events", "q": q})
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    assert [(row["type"], row["payload"]["amount"]) for row in rows] == [("order_placed", 150)]
    stats = httpx.get(
        f"{server.url}/api/v1/search",
        params={"table": "events", "q": "* | stats sum(payload.amount) as total by type"},
    ).json()
    assert sorted(map(tuple, ([r["type"], r["total"]] for r in stats["rows"]))) == [
        ("order_placed", 230.0),
        ("refund", 500.0),
    ]


def test_search_names_the_fields_of_events_when_one_is_unknown(server: ServerProcess) -> None:
    r = httpx.get(f"{server.url}/api/v1/search", params={"table": "events", "q": "amount:>1"})
    assert r.status_code == 400
    assert "payload.<name>" in r.json()["error"]
    r = httpx.get(f"{server.url}/api/v1/search", params={"table": "nope", "q": "x"})
    assert r.status_code == 400 and "searchable tables" in r.json()["error"]
