"""Loki push bodies (``POST /loki/api/v1/push``) in, log objects out.

Promtail, Grafana Alloy and Vector send a snappy-compressed (block format) protobuf
``logproto.PushRequest``; Fluent Bit and curl send JSON, possibly gzipped. Both carry
streams: a label set and its entries (timestamp, line, structured metadata).

The protobuf is parsed by the ``protobuf`` runtime (its C core, upb) with the message
classes of ``logproto``, declared in a private descriptor pool; unknown fields are
skipped as proto3 requires. The parser only says a body is corrupt, so a body it refuses
is read again one stream, then one entry, at a time: a walk of the wire format names the
cause (truncated, a field numbered 0, a wire type that cannot be read) in the
:class:`DecodeError`, and damage inside the entries of a stream rejected for its labels
costs that stream only, as it always did. Snappy's preamble gives the decompressed size,
which is checked against the limit before anything is inflated.

Each entry becomes a log object: stream labels and structured metadata as fields
(metadata wins on a clash, being per entry), ``timestamp`` (int epoch ns), ``message``
(the line), ``service`` from the first of the ``service_name``, ``service``, ``app``,
``job`` labels, and ``level`` from ``level`` or else ``detected_level``. An entry that
breaks a rule (bad timestamp, label set over a limit ...) is reported and the rest kept;
Loki itself stores the good entries and answers 400 naming the bad ones.

Each entry is also named (``entry_id``: its stream's labels, timestamp and line), so an
entry pushed again — a client's retry — is stored once: Loki's own rule, that an entry
with the same labels, timestamp and line as a stored one is ignored.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import snappy
from google.protobuf.message import DecodeError as ProtobufError

from tracelake.errors import DecodeError, PayloadTooLarge
from tracelake.ingest.decoders.compression import inflate
from tracelake.ingest.decoders.logproto import (
    SUBMESSAGES,
    EntryAdapter,
    PushRequest,
    StreamAdapter,
)
from tracelake.model import LogObject, RecordError

#: Labels that name the service, first match wins.
SERVICE_LABELS: tuple[str, ...] = ("service_name", "service", "app", "job")
#: Labels that give the level, first match wins.
LEVEL_LABELS: tuple[str, ...] = ("level", "detected_level")
#: A field's ``(start, end)`` in the body.
Span = tuple[int, int]
#: Timestamps are stored as signed 64-bit nanoseconds.
_MAX_NS = (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class Push:
    """A decoded push: the entries as log objects, each one's ``entry_id``, the rejects."""

    objects: list[LogObject]
    ids: list[str | None]
    errors: list[RecordError]


def entry_id(labels: dict[str, str], ts: int, line: str) -> str:
    """An entry's identity: ``loki:`` and a 128-bit digest of its stream's labels (in
    name order), its timestamp and its line — what Loki compares to drop a repeat."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(orjson.dumps(sorted(labels.items())))
    digest.update(b"\0%d\0" % ts)
    digest.update(line.encode("utf-8", "surrogatepass"))
    return "loki:" + digest.hexdigest()


def decode_push(
    body: bytes,
    content_type: str | None,
    **limits: Any,
) -> tuple[list[LogObject], list[RecordError]]:
    """``read_push`` without the entries' ids: the log objects and the rejected entries."""
    push = read_push(body, content_type, **limits)
    return push.objects, push.errors


def read_push(
    body: bytes,
    content_type: str | None,
    *,
    content_encoding: str | None = None,
    max_body_bytes: int = 64 << 20,
    max_entries: int = 1_000_000,
    max_line_bytes: int = 256 << 10,
    max_labels: int = 32,
    max_label_bytes: int = 16 << 10,
    max_metadata_pairs: int = 128,
) -> Push:
    """Decode a push body; JSON when ``content_type`` says so, else snappy protobuf.

    Returns the log objects, their ids and the rejected entries; a :class:`RecordError`'s ``line`` is
    the entry's 1-based position in the request (streams in order, then their entries).
    Raises :class:`DecodeError` when the body as a whole cannot be read and
    :class:`PayloadTooLarge` over ``max_body_bytes`` (after decompression) or
    ``max_entries``. ``max_line_bytes``, ``max_labels`` (pairs per label set),
    ``max_label_bytes`` (a label set's names and values together) and
    ``max_metadata_pairs`` reject single entries.
    """
    body = inflate(body, content_encoding, max_body_bytes)
    decoder = _Decoder(max_entries, max_line_bytes, max_labels, max_label_bytes, max_metadata_pairs)
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "application/json":
        if len(body) > max_body_bytes:
            raise PayloadTooLarge(
                f"push body is {len(body)} bytes, over max_body_bytes ({max_body_bytes})"
            )
        decoder.json(body)
    else:
        decoder.protobuf(_unsnappy(body, max_body_bytes))
    return Push(decoder.objects, decoder.ids, decoder.errors)


class _Decoder:
    """Collects objects and errors while walking the streams of one request."""

    def __init__(
        self,
        max_entries: int,
        max_line_bytes: int,
        max_labels: int,
        max_label_bytes: int,
        max_metadata_pairs: int,
    ) -> None:
        self.max_entries = max_entries
        self.max_line_bytes = max_line_bytes
        self.max_labels = max_labels
        self.max_label_bytes = max_label_bytes
        self.max_metadata_pairs = max_metadata_pairs
        self.objects: list[LogObject] = []
        self.ids: list[str | None] = []
        self.errors: list[RecordError] = []
        self.entry = 0  # 1-based ordinal of the last entry seen

    # -- JSON -----------------------------------------------------------------------

    def json(self, body: bytes) -> None:
        try:
            parsed: Any = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise DecodeError(f"push body is not valid JSON: {e}") from e
        if type(parsed) is not dict or type(parsed.get("streams")) is not list:
            raise DecodeError('push body must be a JSON object with a "streams" array')
        for s, stream in enumerate(parsed["streams"]):
            where = f"streams[{s}]"
            if type(stream) is not dict:
                self._reject_stream(1, where, "must be an object")
                continue
            values = stream.get("values")
            if type(values) is not list:
                self._reject_stream(1, where, 'needs a "values" array')
                continue
            labels = stream.get("stream", {})
            problem = self._check_labels(labels, "stream")
            if problem:
                self._reject_stream(len(values), where, problem)
                continue
            for v, value in enumerate(values):
                self._json_entry(labels, value, f"{where}.values[{v}]")

    def _json_entry(self, labels: dict[str, str], value: Any, where: str) -> None:
        self._count()
        if type(value) is not list or len(value) not in (2, 3):
            self._fail(where, "must be an array [timestamp, line] or [timestamp, line, metadata]")
            return
        ts, line = value[0], value[1]
        if type(ts) is not str or not (ts.isascii() and ts.isdigit()):
            kind = "a number" if type(ts) in (int, float) else repr(ts)[:40]
            self._fail(where, f"timestamp must be a string of epoch nanoseconds, got {kind}")
            return
        if type(line) is not str:
            self._fail(where, f"line must be a string, got {type(line).__name__}")
            return
        metadata: Any = value[2] if len(value) == 3 else {}
        problem = self._check_metadata(metadata)
        if problem:
            self._fail(where, problem)
            return
        self._emit(labels, metadata, int(ts), line, where)

    # -- protobuf -------------------------------------------------------------------

    def protobuf(self, buf: bytes) -> None:
        try:
            request = PushRequest.FromString(buf)
        except ProtobufError:
            self._protobuf_by_parts(buf)
            return
        for s, stream in enumerate(request.streams):
            self._proto_stream(f"streams[{s}]", stream.labels, stream.entries)

    def _proto_stream(self, where: str, labels_bytes: bytes, entries: Any) -> None:
        try:
            labels = parse_labels(labels_bytes.decode("utf-8", "replace"))
        except DecodeError as e:
            self._reject_stream(len(entries) or 1, where, e.message)
            return
        problem = self._check_labels(labels, "stream")
        if problem:
            self._reject_stream(len(entries) or 1, where, problem)
            return
        for n, entry in enumerate(entries):
            if type(entry) is bytes:  # from _protobuf_by_parts: parsed only now
                entry = _entry(entry)
            self._proto_entry(entry, labels, where, n)

    def _proto_entry(self, entry: Any, labels: dict[str, str], where: str, n: int) -> None:
        self._count()
        if not entry.HasField("timestamp"):
            self._fail(f"{where}.entries[{n}]", "timestamp is missing")
            return
        pairs = entry.structuredMetadata
        if len(pairs) > self.max_metadata_pairs:
            self._fail(f"{where}.entries[{n}]", self._too_many_pairs(len(pairs)))
            return
        metadata = {
            pair.name.decode("utf-8", "replace"): pair.value.decode("utf-8", "replace")
            for pair in pairs
        }
        ts = entry.timestamp
        self._emit(
            labels,
            metadata,
            ts.seconds * 1_000_000_000 + ts.nanos,
            entry.line.decode("utf-8", "replace"),
            f"{where}.entries[{n}]",
        )

    def _protobuf_by_parts(self, buf: bytes) -> None:
        """A body the parser refused, read one stream (then one entry) at a time.

        The parser says only "corrupt"; walking the wire format in the order the streams
        are used names what is wrong and where. A stream whose labels are unusable is
        rejected without its entries being read, so damage inside them costs that
        stream only, never the request.
        """
        for s, span in enumerate(_spans(buf, (0, len(buf)), "PushRequest", 1)):
            where = f"streams[{s}]"
            try:
                stream = StreamAdapter.FromString(buf[span[0] : span[1]])
            except ProtobufError:
                labels = b""
                entries: list[bytes] = []
                for num, wire, value in _fields(buf, span, "StreamAdapter"):
                    if num == 1 and wire == 2:
                        labels = buf[value[0] : value[1]]
                    elif num == 2 and wire == 2:
                        entries.append(buf[value[0] : value[1]])
                self._proto_stream(where, labels, entries)
            else:
                self._proto_stream(where, stream.labels, stream.entries)

    # -- shared ---------------------------------------------------------------------

    def _count(self) -> None:
        self.entry += 1
        if self.entry > self.max_entries:
            raise PayloadTooLarge(f"push body has over max_entries ({self.max_entries}) entries")

    def _fail(self, where: str, problem: str) -> None:
        self.errors.append(RecordError(self.entry, f"{where}: {problem}"))

    def _reject_stream(self, count: int, where: str, problem: str) -> None:
        """Every entry of a stream whose labels are unusable is rejected, by the same cause."""
        for _ in range(count):
            self._count()
            self._fail(where, problem)

    def _too_many_pairs(self, pairs: int) -> str:
        return (
            f"structured metadata has {pairs} pairs, over max_metadata_pairs "
            f"({self.max_metadata_pairs})"
        )

    def _check_labels(self, labels: Any, what: str) -> str:
        if type(labels) is not dict:
            return f"{what} labels must be an object of strings"
        if len(labels) > self.max_labels:
            return f"{what} has {len(labels)} labels, over max_labels ({self.max_labels})"
        size = 0
        for name, value in labels.items():
            if type(value) is not str:
                return f"label {name!r} must be a string, got {type(value).__name__}"
            size += len(name) + len(value)
        if size > self.max_label_bytes:
            return f"{what} labels are {size} bytes, over max_label_bytes ({self.max_label_bytes})"
        return ""

    def _check_metadata(self, metadata: Any) -> str:
        if type(metadata) is not dict:
            return "structured metadata must be an object of strings"
        if len(metadata) > self.max_metadata_pairs:
            return self._too_many_pairs(len(metadata))
        for name, value in metadata.items():
            if type(value) is not str:
                return f"structured metadata {name!r} must be a string, got {type(value).__name__}"
        return ""

    def _emit(
        self, labels: dict[str, str], metadata: dict[str, str], ts: int, line: str, where: str
    ) -> None:
        if not 0 < ts <= _MAX_NS:
            self._fail(where, f"timestamp {ts} is outside 1 ns .. {_MAX_NS} ns since the epoch")
            return
        # A character is at most 4 UTF-8 bytes: most lines need no encoding to be measured.
        if len(line) * 4 > self.max_line_bytes:
            size = len(line.encode())
            if size > self.max_line_bytes:
                self._fail(
                    where, f"line is {size} bytes, over max_line_bytes ({self.max_line_bytes})"
                )
                return
        obj: LogObject = {**labels, **metadata}
        for name in SERVICE_LABELS:
            if obj.get(name):
                obj["service"] = obj[name]
                break
        if "level" not in obj:
            for name in LEVEL_LABELS:
                if obj.get(name):
                    obj["level"] = obj[name]
                    break
        obj["timestamp"] = ts
        obj["message"] = line
        self.objects.append(obj)
        self.ids.append(entry_id(labels, ts, line))


# -- label selector text ------------------------------------------------------------

_PAIR = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*([,}])', re.S)
_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|[0-7]{3}|.)", re.S)
_SIMPLE_ESCAPES = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
}  # fmt: skip


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    if code[0] in "xuU" and len(code) > 1:
        return chr(int(code[1:], 16))
    if len(code) == 3:
        return chr(int(code, 8))
    return _SIMPLE_ESCAPES.get(code, code)


def parse_labels(text: str) -> dict[str, str]:
    """Parse a Prometheus label set as Promtail writes it: ``{app="x",env="prod"}``.

    Values are Go-quoted strings (``\\"``, ``\\\\``, ``\\n``, ``\\xNN`` ...).
    """
    text = text.strip()
    if not text.startswith("{") or not text.endswith("}"):
        raise DecodeError(f'labels {text[:80]!r} are not a label set like {{app="x"}}')
    labels: dict[str, str] = {}
    if not text[1:-1].strip():
        return labels
    pos = 1
    end = len(text)
    while pos < end:
        m = _PAIR.match(text, pos)
        if m is None:
            raise DecodeError(f"labels {text[:80]!r}: cannot parse at character {pos + 1}")
        value = m.group(2)
        labels[m.group(1)] = _ESCAPE.sub(_unescape, value) if "\\" in value else value
        pos = m.end()
        if m.group(3) == "}":
            if pos != end:
                raise DecodeError(f"labels {text[:80]!r}: text after the closing brace")
            return labels
    raise DecodeError(f"labels {text[:80]!r}: missing closing brace")


# -- protobuf wire format: what the parser refused ---------------------------------------

_CORRUPT = "protobuf {} is corrupt (send Content-Type: application/json for JSON)"


def _entry(raw: bytes) -> Any:
    """One ``EntryAdapter``; a :class:`DecodeError` naming the damage if it is unreadable."""
    try:
        return EntryAdapter.FromString(raw)
    except ProtobufError:
        _walk(raw, (0, len(raw)), "EntryAdapter")
        raise DecodeError(_CORRUPT.format("EntryAdapter")) from None


def _walk(buf: bytes, span: tuple[int, int], message: str) -> None:
    """Raise a :class:`DecodeError` at the first fault in ``message`` or its sub-messages."""
    subs = SUBMESSAGES[message]
    for num, wire, value in _fields(buf, span, message):
        if wire == 2 and num in subs:
            _walk(buf, value, subs[num])


def _spans(buf: bytes, span: tuple[int, int], message: str, number: int) -> Iterator[Span]:
    for num, wire, value in _fields(buf, span, message):
        if num == number and wire == 2:
            yield value


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise DecodeError("protobuf body is truncated inside a varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise DecodeError("protobuf body has a varint longer than 10 bytes")


def _fields(buf: bytes, span: Span, message: str) -> Iterator[tuple[int, int, Any]]:
    """Yield ``(field number, wire type, value)``; a LEN value is its ``(start, end)``."""
    pos, end = span
    while pos < end:
        key, pos = _varint(buf, pos, end)
        num, wire = key >> 3, key & 7
        if num == 0:
            raise DecodeError(f"protobuf {message} has a field numbered 0")
        if wire == 0:
            value, pos = _varint(buf, pos, end)
            yield num, wire, value
        elif wire == 2:
            size, pos = _varint(buf, pos, end)
            if pos + size > end:
                raise DecodeError(f"protobuf {message} is truncated: a field runs past its end")
            yield num, wire, (pos, pos + size)
            pos += size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if pos + size > end:
                raise DecodeError(f"protobuf {message} is truncated inside a fixed-size field")
            yield num, wire, None
            pos += size
        else:
            raise DecodeError(f"protobuf {message} has unsupported wire type {wire}")


# -- bytes ----------------------------------------------------------------------------


def _unsnappy(body: bytes, limit: int) -> bytes:
    """Snappy block format; the size preamble is checked before inflating."""
    if not body:
        return body
    try:
        size, _ = _varint(body, 0, min(len(body), 10))
    except DecodeError as e:
        raise DecodeError("push body is not snappy-compressed protobuf") from e
    if size > limit:
        raise PayloadTooLarge(f"push body inflates to {size} bytes, over max_body_bytes ({limit})")
    try:
        return bytes(snappy.uncompress(body))
    except snappy.UncompressError as e:
        raise DecodeError(
            "push body is not snappy-compressed protobuf (send Content-Type: "
            "application/json for JSON)"
        ) from e
