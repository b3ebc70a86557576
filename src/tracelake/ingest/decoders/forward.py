"""The Fluentd forward protocol (v1) as a sans-IO, per-connection state machine.

Fluent Bit, Fluentd and fluent-logger all ship logs this way: a TCP stream of msgpack
arrays in one of four modes, told apart by the type of the second element::

    Message                  [tag, time, record, option?]
    Forward                  [tag, [[time, record], ...], option?]
    PackedForward            [tag, bin(msgpack stream of [time, record]), option?]
    CompressedPackedForward  PackedForward with option {"compressed": "gzip"}

``time`` is an integer (seconds), a float, or EventTime (ext type 0: two big-endian
uint32, seconds and nanoseconds). Fluent Bit ≥ 2.1 may send an entry as
``[[time, metadata], record]``; both shapes are read. ``option["chunk"]`` asks for an
acknowledgement: the decoder returns ``{"ack": chunk}`` packed, and the shell sends it
only after the sink has made the events durable. ``option["size"]`` is informational.

Handshake and heartbeats: clients without a shared key (the default for fluent-logger,
Fluent Bit and Fluentd) start sending at once and need nothing else. Fluentd's
``heartbeat_type transport`` just opens and closes TCP connections; ``heartbeat_type
udp`` sends a datagram to the same port and expects one byte back (``heartbeat_reply``).
With a shared key configured the server speaks first (HELO with a nonce), the client
answers PING with a SHA-512 digest, the server answers PONG; only then do events flow.

Errors come in two kinds. A well-formed msgpack array of the wrong shape (or with a
broken gzip body) is rejected alone and the stream goes on. Bytes that are not msgpack,
a top-level value that is not an array, or a message larger than the buffer limit leave
no way to find the next message: ``ForwardProtocolError`` tells the shell to close.

Records become JSON-like log objects, so what JSON cannot carry is dealt with here, one
record at a time, and never reaches the store (where one such record would fail the
whole batch and its acks): a record with a key that is not a string, at any depth
(``bad_key``), with an ext value other than EventTime or more than ``MAX_DEPTH``
levels of maps and arrays (``bad_value``) is rejected alone; bin values and bin tags are decoded as
UTF-8 and invalid UTF-8 in any string becomes U+FFFD, as Fluentd's own JSON output does;
a tag that is neither a string nor bin rejects its message (``bad_tag``). Rejected
records are still acknowledged with the rest of their chunk: sending them again could
never store them. ``chunk`` is echoed as sent, whatever its type (Fluentd does the
same), and ``size`` is never read, so no option value can break a message.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack
import orjson

from tracelake.errors import DecodeError
from tracelake.model import LogObject

HEARTBEAT_REPLY = b"\x00"
_NS = 1_000_000_000
_SIGNAL_LOGS = 0  # Fluent Bit's option "fluent_signal": 0 logs, 1 metrics, 2 traces
_unpack_uint32x2 = struct.Struct(">II").unpack
#: Levels of maps and arrays in a record, the record itself the first: what the store's
#: JSON encoder (orjson) writes at most.
MAX_DEPTH = 254
_dumps = orjson.dumps
#: What each reject reason means, for the listener's log line.
REJECT_DETAILS = {
    "bad_message": "a message of no forward mode",
    "bad_event": "an event that is not [time, record-map]",
    "bad_tag": "a tag that is not a string",
    "bad_key": "a record key that is not a string",
    "bad_value": f"a record value JSON cannot hold (ext type, or over {MAX_DEPTH} levels deep)",
    "bad_entries": "PackedForward entries cut short or followed by garbage",
    "compression": "a compressed body that is not gzip or does not decompress",
    "too_large": "decompressed entries over the limit",
    "unsupported_signal": "Fluent Bit metrics or traces, not logs",
    "auth": "shared key mismatch",
}
_SCALARS = frozenset({int, float, bool, type(None)})


class EventTimeNs(int):
    """An EventTime, already converted to epoch nanoseconds."""

    __slots__ = ()


class ForwardProtocolError(DecodeError):
    """The stream cannot be resynchronised: the connection must be closed."""


class _Unstorable(Exception):
    """One record cannot become a log object; ``reason`` is what it is counted as."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _UnhashableKey:
    """Stands for a map key Python cannot hash (an array or a map): the record holding
    it is rejected as ``bad_key`` instead of failing the unpacker."""

    __slots__ = ()


def _pairs(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    """``object_pairs_hook`` of the unpacker used only after a ``TypeError``."""
    out: dict[Any, Any] = {}
    for key, value in pairs:
        try:
            out[key] = value
        except TypeError:
            out[_UnhashableKey()] = value
    return out


@dataclass(slots=True)
class ForwardMessage:
    """What one forward message came to, and what to send back."""

    objects: list[LogObject] = field(default_factory=list)
    #: Packed ``{"ack": chunk}``: send only after the sink's await returned.
    ack: bytes | None = None
    #: Packed handshake answer (PONG): send at once.
    reply: bytes | None = None
    #: Events (or whole messages) rejected, by reason (see ``REJECT_DETAILS``).
    rejects: dict[str, int] = field(default_factory=dict)
    #: Close the connection after sending ``reply`` (failed authentication).
    close: bool = False
    #: With a ``chunk`` option: each object's record id (``chunk_ids``), so a chunk sent
    #: again after a lost ack is stored once.
    ids: list[str | None] | None = None

    def reject(self, reason: str, count: int = 1) -> None:
        self.rejects[reason] = self.rejects.get(reason, 0) + count

    @property
    def rejected(self) -> int:
        return sum(self.rejects.values())

    @property
    def reason(self) -> str | None:
        """The last reason a reject was counted under."""
        return next(reversed(self.rejects), None)


def _ext_hook(code: int, data: bytes) -> Any:
    if code == 0 and len(data) == 8:
        sec, nsec = _unpack_uint32x2(data)
        return EventTimeNs(sec * _NS + nsec)
    return msgpack.ExtType(code, data)


def chunk_ids(chunk: Any, count: int) -> list[str | None]:
    """The record ids of a chunk's ``count`` events: ``forward:<chunk>:<n>``.

    The chunk id names the batch (Fluent Bit and fluent-logger send a random one per
    chunk and the same one when they send it again); the position names the event.
    """
    name = chunk.hex() if isinstance(chunk, bytes) else str(chunk)
    return [f"forward:{name}:{n}" for n in range(count)]


def heartbeat_reply(datagram: bytes) -> bytes:
    """What to answer a UDP heartbeat with (Fluentd's ``in_forward`` sends one NUL)."""
    return HEARTBEAT_REPLY


def _sha512_hex(*parts: bytes) -> str:
    h = hashlib.sha512()
    for p in parts:
        h.update(p)
    return h.hexdigest()


def _text(value: str) -> str:
    """A string as valid text: the unpacker keeps invalid UTF-8 as lone surrogates (so
    the handshake sees the bytes sent), which no JSON or Arrow string can hold."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value


def _tag(value: Any) -> str | None:
    """A message's tag as text; None when it is neither a string nor bin."""
    if type(value) is str:
        return _text(value)
    if type(value) is bytes:
        return value.decode("utf-8", "replace")
    return None


def _clean(value: Any, level: int) -> Any:
    """``value``, held by a container at nesting ``level``, as JSON can hold it; raises
    ``_Unstorable`` when it cannot."""
    t = type(value)
    if t is str:
        return _text(value)
    if t in _SCALARS:
        return value
    if t is bytes:
        return value.decode("utf-8", "replace")
    if t is dict:
        return _clean_map(value, level + 1)
    if t is list:
        if level >= MAX_DEPTH:
            raise _Unstorable("bad_value")
        for i, item in enumerate(value):
            value[i] = _clean(item, level + 1)
        return value
    if t is EventTimeNs:
        return int(value)
    raise _Unstorable("bad_value")  # an ext type other than EventTime


def _clean_map(record: dict[Any, Any], level: int = 1) -> dict[str, Any]:
    """A map at nesting ``level`` (a record is 1) with string keys and JSON-safe
    values, changed in place; raises ``_Unstorable`` when that cannot be."""
    if level > MAX_DEPTH:
        raise _Unstorable("bad_value")
    renamed: list[str] | None = None
    for key, value in record.items():
        if type(key) is not str:
            raise _Unstorable("bad_key")
        if not key.isascii() and _text(key) is not key:
            renamed = [key] if renamed is None else [*renamed, key]
        t = type(value)
        if t is str:
            if value.isascii():
                continue
        elif t is int or t is float or t is bool or value is None:
            continue
        record[key] = _clean(value, level)
    if renamed is not None:
        for key in renamed:
            record[_text(key)] = record.pop(key)
    return record


def _storable(record: dict[Any, Any]) -> dict[str, Any]:
    """``record`` as the logs table can take it. Most records already are: one pass of
    orjson (the encoder the store uses) proves it four times faster than walking them;
    only a record it refuses is walked, repaired or rejected."""
    try:
        _dumps(record)
    except TypeError:  # orjson.JSONEncodeError: a key, a value or the depth
        return _clean_map(record)
    return record


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    return b""


class ForwardDecoder:
    """One per connection: feed bytes, get ``ForwardMessage``s."""

    def __init__(
        self,
        *,
        max_message_bytes: int = 8 << 20,
        max_decompressed_bytes: int = 64 << 20,
        now: Callable[[], float] = time.time,
        tag_as_service: bool = True,
        shared_key: str | None = None,
        server_hostname: str = "tracelake",
        nonce: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self._now = now
        self._tag_as_service = tag_as_service
        self._max_decompressed = max_decompressed_bytes
        self._max_message = max_message_bytes
        self._unpacker = self._new_unpacker(hook=False)
        #: The stream from ``_buf_start``; ``_base`` is where the message being read
        #: starts: after a ``TypeError`` (an array or map as a map key) it is read
        #: again from there, with ``_pairs``.
        self._buf = bytearray()
        self._buf_start = 0
        self._base = 0
        #: Stream offset of the current unpacker's first byte, and whether it is the
        #: slower one with ``_pairs``.
        self._offset = 0
        self._slow = False
        self._shared_key = shared_key.encode() if shared_key is not None else None
        self._hostname = server_hostname
        self._nonce = nonce(16) if shared_key is not None else b""
        self.authenticated = shared_key is None

    def _new_unpacker(self, *, hook: bool) -> msgpack.Unpacker:
        return msgpack.Unpacker(
            raw=False,
            unicode_errors="surrogateescape",
            max_buffer_size=self._max_message,
            strict_map_key=False,
            ext_hook=_ext_hook,
            object_pairs_hook=_pairs if hook else None,
        )

    def _restart(self, position: int, *, hook: bool) -> None:
        """Read the stream again from ``position`` with a new unpacker."""
        self._unpacker = self._new_unpacker(hook=hook)
        try:
            self._unpacker.feed(bytes(self._buf[position - self._buf_start :]))
        except msgpack.BufferFull:
            raise ForwardProtocolError("forward message larger than the buffer limit") from None
        self._offset, self._slow = position, hook

    def greeting(self) -> bytes | None:
        """HELO, to send as soon as the connection opens (only with a shared key)."""
        if self._shared_key is None:
            return None
        return msgpack.packb(["HELO", {"nonce": self._nonce, "auth": "", "keepalive": True}])

    def feed(self, data: bytes) -> list[ForwardMessage]:
        """Add stream bytes; return the messages they completed.

        Raises ``ForwardProtocolError`` when the stream is not (or no longer) forward
        protocol; the caller closes the connection.
        """
        try:
            self._unpacker.feed(data)
        except msgpack.BufferFull:
            raise ForwardProtocolError("forward message larger than the buffer limit") from None
        self._buf += data
        out: list[ForwardMessage] = []
        while True:
            try:
                msg = self._unpacker.unpack()
            except msgpack.OutOfData:
                break
            except TypeError:  # an unhashable map key: this message again, with _pairs
                if self._slow:
                    raise ForwardProtocolError("unreadable map key") from None
                self._restart(self._base, hook=True)
                continue
            except (ValueError, msgpack.StackError) as exc:  # FormatError, ExtraData, …
                raise ForwardProtocolError(f"not msgpack: {exc}") from None
            # tell() is only exact between whole messages (it runs ahead inside one)
            done = self._base = self._offset + self._unpacker.tell()
            if self._slow:  # past the odd message: back to the fast unpacker
                self._restart(done, hook=False)
            out.append(self._message(msg))
        del self._buf[: self._base - self._buf_start]  # once per feed: no quadratic copying
        self._buf_start = self._base
        return out

    # -- one message -----------------------------------------------------------------

    def _message(self, msg: Any) -> ForwardMessage:
        if type(msg) is not list or len(msg) < 2:
            kind = type(msg).__name__
            raise ForwardProtocolError(f"expected a forward message array, got {kind}")
        if not self.authenticated:
            return self._ping(msg)
        tag = _tag(msg[0])
        second = msg[1]
        result = ForwardMessage()
        if type(second) is list:  # Forward
            option = msg[2] if len(msg) > 2 else None
            if tag is not None:
                self._entries(tag, second, result)
        elif isinstance(second, bytes | str):  # PackedForward / CompressedPackedForward
            option = msg[2] if len(msg) > 2 else None
            if tag is not None:
                self._packed(tag, _as_bytes(second), option, result)
        elif len(msg) >= 3:  # Message
            option = msg[3] if len(msg) > 3 else None
            if tag is not None:
                self._entries(tag, [[second, msg[2]]], result)
        else:
            return ForwardMessage(rejects={"bad_message": 1})
        if tag is None:
            result.reject("bad_tag")
        if type(option) is dict and option:
            signal = option.get("fluent_signal", _SIGNAL_LOGS)
            if signal != _SIGNAL_LOGS:
                # Fluent Bit metrics/traces: not log events. Acknowledged and counted so
                # the sender does not retry them forever.
                result.reject("unsupported_signal", len(result.objects) or 1)
                result.objects = []
            chunk = option.get("chunk")
            unread = "compression" in result.rejects or "too_large" in result.rejects
            if chunk is not None and not unread:
                # echoed byte for byte: a string of invalid UTF-8 goes back as it came
                result.ack = msgpack.packb({"ack": chunk}, unicode_errors="surrogateescape")
                if result.objects:
                    result.ids = chunk_ids(chunk, len(result.objects))
        return result

    def _packed(self, tag: str, blob: bytes, option: Any, result: ForwardMessage) -> None:
        compressed = option.get("compressed") if isinstance(option, dict) else None
        if compressed not in (None, "text"):
            if compressed != "gzip":
                result.reject("compression")
                return
            try:
                blob = self._gunzip(blob)
            except zlib.error:
                result.reject("compression")
                return
            except OverflowError:
                result.reject("too_large")
                return
        items: list[Any] = []
        end = 0
        hook = False
        while True:  # twice at most: again with _pairs from an unhashable map key on
            unpacker = msgpack.Unpacker(
                raw=False,
                unicode_errors="replace",
                max_buffer_size=max(len(blob) - end, 1),
                strict_map_key=False,
                ext_hook=_ext_hook,
                object_pairs_hook=_pairs if hook else None,
            )
            unpacker.feed(blob[end:] if end else blob)
            start = end
            try:
                for item in unpacker:
                    items.append(item)
                    end = start + unpacker.tell()
            except TypeError:
                if not hook:
                    hook = True
                    continue
            except (ValueError, msgpack.StackError):
                pass
            break
        self._entries(tag, items, result)
        if end != len(blob):  # garbage or a truncated entry after the good ones
            result.reject("bad_entries")

    def _gunzip(self, blob: bytes) -> bytes:
        """Decompress one or more concatenated gzip members, within the size limit."""
        out: list[bytes] = []
        left = self._max_decompressed
        while blob:
            d = zlib.decompressobj(wbits=31)
            part = d.decompress(blob, left)
            if d.unconsumed_tail:
                raise OverflowError("decompressed entries over the limit")
            if not d.eof:
                raise zlib.error("truncated gzip member")
            out.append(part)
            left -= len(part)
            blob = d.unused_data
        return b"".join(out)

    def _entries(self, tag: str, entries: Any, result: ForwardMessage) -> None:
        objects = result.objects
        for entry in entries:
            if type(entry) is list and len(entry) >= 2:
                try:
                    objects.append(self._event(tag, entry[0], entry[1]))
                except _Unstorable as e:
                    result.reject(e.reason)
            else:
                result.reject("bad_event")

    def _event(self, tag: str, t: Any, record: Any) -> LogObject:
        """One record as a log object; raises ``_Unstorable`` when it cannot be one."""
        if type(t) is list and t:  # Fluent Bit 2.1+: [[time, metadata], record]
            meta = t[1] if len(t) > 1 else None
            t = t[0]
            if meta and type(record) is dict and type(meta) is dict:
                record.setdefault("fluent_metadata", meta)
        if type(record) is not dict:
            raise _Unstorable("bad_event")
        tt = type(t)
        if tt is EventTimeNs:
            ns: int = t
        elif tt is int:
            ns = t * _NS if t else int(self._now() * _NS)  # Fluentd: time 0 means now
        elif tt is float and t == t and abs(t) < 1e11:  # not NaN, nor past year 5000
            ns = int(t * _NS)
        else:
            raise _Unstorable("bad_event")
        obj: LogObject = _storable(record)
        if "timestamp" not in obj:
            obj["timestamp"] = ns
        if "tag" not in obj:
            obj["tag"] = tag
        elif obj["tag"] != tag:
            obj.setdefault("fluent_tag", tag)
        if self._tag_as_service and "service" not in obj:
            obj["service"] = tag
        if "message" not in obj:
            log = obj.get("log")
            if isinstance(log, str):  # Docker's fluentd driver, Fluent Bit tail
                obj["message"] = obj.pop("log").rstrip("\n")
        return obj

    # -- shared-key handshake ---------------------------------------------------------

    def _ping(self, msg: list[Any]) -> ForwardMessage:
        assert self._shared_key is not None
        if msg[0] != "PING" or len(msg) < 4:
            raise ForwardProtocolError("expected PING after HELO")
        hostname, salt, digest = _as_bytes(msg[1]), _as_bytes(msg[2]), _as_bytes(msg[3])
        expected = _sha512_hex(salt, hostname, self._nonce, self._shared_key)
        ok = hmac.compare_digest(expected.encode(), digest)
        server = self._hostname.encode()
        pong = msgpack.packb(
            [
                "PONG",
                ok,
                "" if ok else "shared_key mismatch",
                self._hostname,
                _sha512_hex(salt, server, self._nonce, self._shared_key),
            ]
        )
        self.authenticated = ok
        if ok:
            return ForwardMessage(reply=pong)
        return ForwardMessage(reply=pong, rejects={"auth": 1}, close=True)
