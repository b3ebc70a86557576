"""zipkin-js (``zipkin`` + ``zipkin-transport-http``) against the real server: Zipkin's
rules for retries, shared spans, mixed trace-id widths, messaging and untimed spans."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.clients.node import run_node
from tests.conftest import ServerProcess

pytestmark = pytest.mark.e2e

#: Logs each span of SPANS (JSON) through HttpLogger, one POST per batch, twice: the
#: second round is a reporter's retry of the same spans.
SCRIPT = r"""
const { model, jsonEncoder, TraceId, option } = require('zipkin');
const { HttpLogger } = require('zipkin-transport-http');
const logger = new HttpLogger({ endpoint: process.env.ZIPKIN_URL, jsonEncoder: jsonEncoder.JSON_V2 });
function build(s) {
  const id = new TraceId({ traceId: s.traceId, spanId: s.id, sampled: new option.Some(true),
    parentId: s.parentId ? new option.Some(s.parentId) : option.None });
  const span = new model.Span(id);
  span.setName(s.name); span.setKind(s.kind);
  if (s.timestamp) { span.setTimestamp(s.timestamp); span.setDuration(s.duration); }
  span.setLocalEndpoint(new model.Endpoint({ serviceName: s.service }));
  if (s.remote) span.setRemoteEndpoint(new model.Endpoint({ serviceName: s.remote }));
  for (const [k, v] of Object.entries(s.tags || {})) span.putTag(k, v);
  return span;
}
function send(spans) {
  return new Promise((resolve, reject) => {
    logger.once('success', resolve); logger.once('error', reject);
    spans.forEach((s) => logger.logSpan(build(s)));
    logger.processQueue(logger.fetchImplementation);
  });
}
(async () => {
  const spans = JSON.parse(process.env.SPANS);
  await send(spans);
  await send(spans);
  console.log('sent');
})().catch((e) => { console.error(e); process.exit(1); });
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    server = ServerProcess(Path(tmp_path_factory.mktemp("zipkin-js")) / "data").start()
    yield server
    server.stop()


def links(server: ServerProcess, want: set[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    deadline = time.monotonic() + 15
    found: dict[tuple[str, str], Any] = {}
    while time.monotonic() < deadline:
        answer = httpx.get(
            f"{server.url}/api/v2/dependencies", params={"endTs": int(time.time() * 1000) + 60_000}
        ).json()
        found = {(link["parent"], link["child"]): link for link in answer}
        if want <= set(found):
            return found
        time.sleep(0.2)
    raise AssertionError(f"links {want - set(found)} missing from {found}")


def test_zipkin_js_spans_sent_twice_follow_zipkins_merge_and_linker_rules(
    server: ServerProcess,
) -> None:
    tag = secrets.token_hex(3)
    web, api, worker = f"js-web-{tag}", f"js-api-{tag}", f"js-worker-{tag}"
    low, high = secrets.token_hex(8), secrets.token_hex(8)
    now = int(time.time() * 1_000_000)
    spans = [
        # a 128-bit client, and its server half: the same span id, only the low 64 bits
        # of the trace id, no shared flag, an error
        {"traceId": high + low, "id": "c1c1c1c1c1c1c1c1", "parentId": "a0a0a0a0a0a0a0a0",
         "kind": "CLIENT", "name": "get /order", "service": web, "remote": api,
         "timestamp": now, "duration": 900, "tags": {"z.last": "1", "a.first": "2"}},
        {"traceId": low, "id": "c1c1c1c1c1c1c1c1", "parentId": "a0a0a0a0a0a0a0a0",
         "kind": "SERVER", "name": "get /order", "service": api, "timestamp": now + 100,
         "duration": 700, "tags": {"error": "500"}},
        # a local span reported without a timestamp
        {"traceId": low, "id": "d1d1d1d1d1d1d1d1", "parentId": "c1c1c1c1c1c1c1c1",
         "name": "render", "service": api},
        # messaging through kafka
        {"traceId": low, "id": "e1e1e1e1e1e1e1e1", "parentId": "c1c1c1c1c1c1c1c1",
         "kind": "PRODUCER", "name": "send", "service": api, "remote": "kafka",
         "timestamp": now + 200, "duration": 50},
        {"traceId": low, "id": "f1f1f1f1f1f1f1f1", "parentId": "e1e1e1e1e1e1e1e1",
         "kind": "CONSUMER", "name": "poll", "service": worker, "remote": "kafka",
         "timestamp": now + 400, "duration": 50},
    ]  # fmt: skip
    done = run_node(
        SCRIPT, {"ZIPKIN_URL": f"{server.url}/api/v2/spans", "SPANS": json.dumps(spans)}
    )
    assert "sent" in done.stdout

    found = links(server, {(web, api), (api, "kafka"), ("kafka", worker)})
    assert found[(web, api)] == {"parent": web, "child": api, "callCount": 1, "errorCount": 1}
    assert found[(api, "kafka")]["callCount"] == 1 and found[("kafka", worker)]["callCount"] == 1
    assert (api, worker) not in found

    by_low = httpx.get(f"{server.url}/api/v2/trace/{low}").json()
    by_high = httpx.get(f"{server.url}/api/v2/trace/{high + low}").json()
    assert by_low == by_high
    assert len(by_low) == 5  # each span once, though sent twice
    assert {s["traceId"] for s in by_low} == {high + low}
    halves = {s["kind"]: s for s in by_low if s["id"] == "c1c1c1c1c1c1c1c1"}
    assert halves["SERVER"]["shared"] is True and "shared" not in halves["CLIENT"]
    assert list(halves["CLIENT"]["tags"]) == ["a.first", "z.last"]
    (untimed,) = [s for s in by_low if s["id"] == "d1d1d1d1d1d1d1d1"]
    assert "timestamp" not in untimed

    (trace,) = httpx.get(f"{server.url}/api/v2/traces", params={"serviceName": api}).json()
    assert sorted(s["id"] for s in trace) == sorted(s["id"] for s in by_low)

    time.sleep(2)  # a later flush of the linker must not count the retry
    again = links(server, {(web, api)})
    assert again[(web, api)]["callCount"] == 1
