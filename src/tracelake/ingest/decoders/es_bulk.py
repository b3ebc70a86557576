"""Elasticsearch ``_bulk`` bodies in, log objects out; and the exact bulk response back.

Fluent Bit, Vector, Logstash, Beats and the official clients ship logs as NDJSON pairs
(an action line, then a source line). What they do next depends on the response alone,
so the response is built the way Elasticsearch builds it: HTTP 200, compact JSON,
``"errors"`` a boolean, one item per action in request order. Fluent Bit falls back to
finding the literal ``"errors":false,"items":[`` and Vector to ``"errors":true`` — hence
compact JSON and this key order.

The lake is append-only: ``index`` and ``create`` store the source; ``update`` and
``delete`` are answered per item as not supported, without failing the batch. An
``_id`` the client gives is kept (the ``_id`` column), so a re-sent bulk stores each
document once: the store leaves a known id out (``store/dedup.py``) and the answer is
Elasticsearch's for a known id — ``index``: 200 ``"result":"updated"`` (the stored
document is kept as it was), ``create``: 409 ``version_conflict_engine_exception``. A source
line that is not a JSON object is a per-item 400, as in Elasticsearch; a malformed
*action* line fails the request (the pairing of the lines after it is lost).

Decoding and answering are pure steps around the store: :func:`decode_bulk` gives the
objects to store and the items to answer; :func:`bulk_response` turns the items and what
the pipeline made of the objects (an :class:`IngestResult`) into bytes, before the
append (a refused append answers the whole request 429 instead), and :func:`with_took`
adds the time the request took.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import orjson

from tracelake.errors import DecodeError, PayloadTooLarge
from tracelake.ingest.decoders.compression import inflate
from tracelake.model import IngestResult, LogObject

#: The actions Elasticsearch knows; the first two are stored.
STORED_ACTIONS = frozenset({"index", "create"})
ACTIONS = frozenset({"index", "create", "update", "delete"})
#: Elasticsearch refuses longer ``_id``\ s.
MAX_ID_BYTES = 512
#: The error type Elasticsearch 8 gives a source it cannot parse.
PARSE_ERROR = "document_parsing_exception"
#: The error type of a ``create`` whose ``_id`` the index already holds.
VERSION_CONFLICT = "version_conflict_engine_exception"


def random_id() -> str:
    """A 20-character URL-safe id, the length of Elasticsearch's auto-generated ones."""
    return secrets.token_urlsafe(15)


@dataclass(slots=True)
class BulkItem:
    """One action of the request and, once decided, its outcome.

    ``status`` is 0 while the item waits for the store; a non-zero status was decided
    while decoding (``error_type`` and ``reason`` say why). ``position`` is the index of
    the item's log object in :attr:`BulkRequest.objects`, or -1 when nothing is stored.
    """

    action: str
    index: str
    id: str
    line: int
    position: int = -1
    status: int = 0
    error_type: str = ""
    reason: str = ""
    #: The client named the document (an ``_id`` in the action), rather than us.
    named: bool = False

    def fail(self, status: int, error_type: str, reason: str) -> None:
        self.status = status
        self.error_type = error_type
        self.reason = reason


@dataclass(slots=True)
class BulkRequest:
    """The decoded request: log objects to store, and every action to answer."""

    objects: list[LogObject] = field(default_factory=list)
    items: list[BulkItem] = field(default_factory=list)
    #: Each object's ``_id`` where the client named it, else None; None when no item did.
    ids: list[str | None] | None = None

    @property
    def rejected(self) -> int:
        """Items already failed while decoding."""
        return sum(1 for item in self.items if item.status)


def decode_bulk(
    body: bytes,
    *,
    default_index: str | None = None,
    content_encoding: str | None = None,
    max_body_bytes: int = 64 << 20,
    max_doc_bytes: int = 1 << 20,
    max_actions: int = 100_000,
    index_as_service: bool = True,
    new_id: Callable[[], str] = random_id,
) -> BulkRequest:
    """Parse an NDJSON ``_bulk`` body.

    ``default_index`` comes from the URL (``POST /<index>/_bulk``); an action's own
    ``_index`` wins. ``content_encoding`` may be ``gzip``/``deflate`` when the shell has
    not already decoded the body; ``max_body_bytes`` applies after decompression.

    Raises :class:`PayloadTooLarge` for a body or action count over its limit and
    :class:`DecodeError` for a malformed action line or a body without actions.
    Per-document problems (bad JSON, a document over ``max_doc_bytes``, a missing index,
    ``update``/``delete``) become failed items and never fail the request.
    """
    body = inflate(body, content_encoding, max_body_bytes)
    if len(body) > max_body_bytes:
        raise PayloadTooLarge(
            f"_bulk body is {len(body)} bytes, over max_body_bytes ({max_body_bytes})"
        )
    lines = body.split(b"\n")
    request = BulkRequest()
    i = 0
    n = len(lines)
    while i < n:
        raw = lines[i]
        i += 1
        if not raw.strip():
            continue
        action, meta = _parse_action(raw, i)
        if len(request.items) >= max_actions:
            raise PayloadTooLarge(f"_bulk body has over max_actions ({max_actions}) actions")
        item = _new_item(action, meta, default_index, i, new_id)
        request.items.append(item)
        if action == "delete":
            item.fail(400, "illegal_argument_exception", _unsupported(action))
            continue
        if i >= n or (i == n - 1 and not lines[i].strip()):
            item.fail(
                400,
                "action_request_validation_exception",
                f"Validation Failed: 1: source is missing for the action on line {i};",
            )
            continue
        source = lines[i]
        i += 1
        if item.status:
            continue
        if action == "update":
            item.fail(400, "illegal_argument_exception", _unsupported(action))
            continue
        if len(source) > max_doc_bytes:
            item.fail(
                400,
                "illegal_argument_exception",
                f"document on line {i} is {len(source)} bytes, "
                f"over max_doc_bytes ({max_doc_bytes})",
            )
            continue
        doc = _parse_source(source, i, item)
        if doc is None:
            continue
        item.position = len(request.objects)
        request.objects.append(_log_object(doc, item, index_as_service))
    if not request.items:
        raise DecodeError("Validation Failed: 1: no requests added;")
    if any(item.named and item.position >= 0 for item in request.items):
        request.ids = [None] * len(request.objects)
        for item in request.items:
            if item.named and item.position >= 0:
                request.ids[item.position] = item.id
    return request


def bulk_response(
    request: BulkRequest,
    stored: IngestResult | None = None,
    *,
    took_ms: int = 0,
    retried: Collection[int] = (),
) -> bytes:
    """The ``_bulk`` response body, answered with HTTP 200.

    ``stored`` is what the store said about ``request.objects``: its ``errors`` carry
    1-based positions in that list; those items fail with 400. ``None`` means every
    object was stored. ``retried`` holds the 1-based positions of objects whose ``_id``
    the store already held: ``index`` answers 200 ``updated``, ``create`` 409.
    """
    store_errors: dict[int, str] = {}
    if stored is not None:
        store_errors = {e.line - 1: e.error for e in stored.errors}
    known = {line - 1 for line in retried}
    items: list[dict[str, Any]] = []
    errors = False
    for seq_no, item in enumerate(request.items):
        status, error_type, reason = item.status, item.error_type, item.reason
        result = "created"
        if not status:
            if item.position in store_errors:
                status, error_type, reason = 400, PARSE_ERROR, store_errors[item.position]
            elif item.position in known and item.action == "create":
                status, error_type = 409, VERSION_CONFLICT
                reason = f"[{item.id}]: version conflict, document already exists"
            elif item.position in known:
                status, result = 200, "updated"
            else:
                status = 201
        if status >= 300:
            errors = True
            body: dict[str, Any] = {
                "_index": item.index,
                "_id": item.id,
                "status": status,
                "error": {"type": error_type, "reason": reason},
            }
            if status == 409:
                body["error"]["index"] = item.index
        else:
            body = {
                "_index": item.index,
                "_id": item.id,
                "_version": 1,
                "result": result,
                "_shards": {"total": 1, "successful": 1, "failed": 0},
                "_seq_no": seq_no,
                "_primary_term": 1,
                "status": status,
            }
        items.append({item.action: body})
    return orjson.dumps({"took": took_ms, "errors": errors, "items": items})


@dataclass(slots=True)
class BulkAnswer:
    """What ``_bulk``'s reply needs after the append: the body built assuming every
    document was stored and, when the client named documents (``_id``), the items and
    outcomes to build it again for the retries the store found among them."""

    body: bytes
    items: list[BulkItem] | None = None
    stored: IngestResult | None = None

    def body_for(self, retried: Collection[int]) -> bytes:
        """The reply when the objects at 1-based positions ``retried`` were known ids."""
        if not retried or self.items is None:
            return self.body
        return bulk_response(BulkRequest(items=self.items), self.stored, retried=retried)


def with_took(response: bytes, took_ms: int) -> bytes:
    """``response`` (from ``bulk_response`` with ``took_ms`` 0) with the request's time.

    The response is built where the documents were decoded (a worker process: a
    100,000-item answer is too much work for the server's event loop); only the time
    the whole request took is known afterwards.
    """
    head = b'{"took":0,'
    assert response.startswith(head), "not a bulk_response built with took_ms=0"
    return b'{"took":%d,' % took_ms + response[len(head) :]


def _parse_action(raw: bytes, line: int) -> tuple[str, dict[str, Any]]:
    try:
        parsed: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise DecodeError(f"Malformed action/metadata line [{line}]: invalid JSON: {e}") from e
    if type(parsed) is not dict or len(parsed) != 1:
        raise DecodeError(
            f"Malformed action/metadata line [{line}], expected an object with exactly one "
            "key, the action"
        )
    ((action, meta),) = parsed.items()
    if action not in ACTIONS:
        raise DecodeError(
            f"Malformed action/metadata line [{line}], expected one of "
            f"[create, delete, index, update] but found [{action}]"
        )
    if type(meta) is not dict:
        raise DecodeError(
            f"Malformed action/metadata line [{line}], expected an object after [{action}]"
        )
    return action, meta


def _new_item(
    action: str,
    meta: dict[str, Any],
    default_index: str | None,
    line: int,
    new_id: Callable[[], str],
) -> BulkItem:
    index = meta.get("_index", default_index)
    raw_id = meta.get("_id")
    doc_id = raw_id if type(raw_id) is str else str(raw_id) if type(raw_id) is int else None
    item = BulkItem(
        action, index if type(index) is str else "", doc_id or new_id(), line, named=bool(doc_id)
    )
    if type(index) is not str or not index:
        item.fail(
            400, "action_request_validation_exception", "Validation Failed: 1: index is missing;"
        )
    elif raw_id is not None and doc_id is None:
        item.fail(400, "illegal_argument_exception", f"_id on line {line} must be a string")
    elif len(item.id.encode()) > MAX_ID_BYTES:
        item.fail(
            400,
            "illegal_argument_exception",
            f"id [{item.id[:32]}...] is too long, must be no longer than {MAX_ID_BYTES} bytes",
        )
    return item


def _unsupported(action: str) -> str:
    return f"tracelake stores logs append-only: the [{action}] action is not supported"


def _parse_source(source: bytes, line: int, item: BulkItem) -> dict[str, Any] | None:
    try:
        doc: Any = orjson.loads(source)
    except orjson.JSONDecodeError as e:
        item.fail(400, PARSE_ERROR, f"[{line}:{e.colno}] failed to parse: {e.msg}")
        return None
    if type(doc) is not dict:
        kind = "null" if doc is None else type(doc).__name__
        item.fail(
            400, PARSE_ERROR, f"[{line}:1] failed to parse: expected a JSON object, got {kind}"
        )
        return None
    return doc


#: Nested ECS fields that hold a log column: (object, field, column). Beats send ECS as
#: nested objects (``{"log": {"level": "error"}}``); the dotted forms are read later by
#: the pipeline. ECS ``service``/``host`` objects are left whole: the pipeline takes
#: their ``name``, as for the same document arriving over any other input.
_ECS_LIFTS: tuple[tuple[str, str, str], ...] = (
    ("log", "level", "level"),
    ("log", "logger", "logger"),
    ("trace", "id", "trace_id"),
    ("span", "id", "span_id"),
)
#: Keys by which a document names its service (the pipeline's aliases, ``logger`` aside).
_SERVICE_KEYS: tuple[str, ...] = ("service", "service.name", "service_name", "app")


def _log_object(doc: dict[str, Any], item: BulkItem, index_as_service: bool) -> LogObject:
    """Shape a source document into a log object.

    ``@timestamp`` becomes ``timestamp`` (as received); a string ``log`` (Fluent Bit's
    tail/docker records) becomes ``message`` when there is none. Nested ECS
    ``log.level``, ``log.logger``, ``trace.id`` and ``span.id`` are lifted out to their
    columns. The index is kept as ``_index`` and the id as ``_id``; the index also names
    the service when the document names none.
    """
    if "timestamp" not in doc and "@timestamp" in doc:
        doc["timestamp"] = doc.pop("@timestamp")
    if "message" not in doc and type(doc.get("log")) is str:
        doc["message"] = doc.pop("log")
    for obj, key, column in _ECS_LIFTS:
        nested = doc.get(obj)
        if type(nested) is dict and key in nested and column not in doc:
            doc[column] = nested.pop(key)
            if not nested:
                del doc[obj]
    doc["_index"] = item.index
    doc["_id"] = item.id
    if index_as_service and not any(doc.get(k) is not None for k in _SERVICE_KEYS):
        doc["service"] = item.index
    return doc
