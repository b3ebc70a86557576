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

from tracelake.errors import DecodeError
from tracelake.model import LogObject

HEARTBEAT_REPLY = b"\x00"
_NS = 1_000_000_000
_SIGNAL_LOGS = 0  # Fluent Bit's option "fluent_signal": 0 logs, 1 metrics, 2 traces
_unpack_uint32x2 = struct.Struct(">II").unpack


class EventTimeNs(int):
    """An EventTime, already converted to epoch nanoseconds."""

    __slots__ = ()


class ForwardProtocolError(DecodeError):
    """The stream cannot be resynchronised: the connection must be closed."""


@dataclass(slots=True)
class ForwardMessage:
    """What one forward message came to, and what to send back."""

    objects: list[LogObject] = field(default_factory=list)
    #: Packed ``{"ack": chunk}``: send only after the sink's await returned.
    ack: bytes | None = None
    #: Packed handshake answer (PONG): send at once.
    reply: bytes | None = None
    #: Events (or whole messages) rejected, and why.
    rejected: int = 0
    reason: str | None = None
    #: Close the connection after sending ``reply`` (failed authentication).
    close: bool = False


def _ext_hook(code: int, data: bytes) -> Any:
    if code == 0 and len(data) == 8:
        sec, nsec = _unpack_uint32x2(data)
        return EventTimeNs(sec * _NS + nsec)
    return msgpack.ExtType(code, data)


def heartbeat_reply(datagram: bytes) -> bytes:
    """What to answer a UDP heartbeat with (Fluentd's ``in_forward`` sends one NUL)."""
    return HEARTBEAT_REPLY


def _sha512_hex(*parts: bytes) -> str:
    h = hashlib.sha512()
    for p in parts:
        h.update(p)
    return h.hexdigest()


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
        self._unpacker = msgpack.Unpacker(
            raw=False,
            unicode_errors="surrogateescape",
            max_buffer_size=max_message_bytes,
            strict_map_key=False,
            ext_hook=_ext_hook,
        )
        self._shared_key = shared_key.encode() if shared_key is not None else None
        self._hostname = server_hostname
        self._nonce = nonce(16) if shared_key is not None else b""
        self.authenticated = shared_key is None

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
        out: list[ForwardMessage] = []
        try:
            for msg in self._unpacker:
                out.append(self._message(msg))
        except (ValueError, msgpack.StackError) as exc:  # FormatError, ExtraData, …
            raise ForwardProtocolError(f"not msgpack: {exc}") from None
        return out

    # -- one message -----------------------------------------------------------------

    def _message(self, msg: Any) -> ForwardMessage:
        if type(msg) is not list or len(msg) < 2 or not isinstance(msg[0], str):
            kind = type(msg).__name__
            raise ForwardProtocolError(f"expected a forward message array, got {kind}")
        tag: str = msg[0]
        if not self.authenticated:
            return self._ping(msg)
        second = msg[1]
        result = ForwardMessage()
        if type(second) is list:  # Forward
            option = msg[2] if len(msg) > 2 else None
            self._entries(tag, second, result)
        elif isinstance(second, bytes | str):  # PackedForward / CompressedPackedForward
            option = msg[2] if len(msg) > 2 else None
            self._packed(tag, _as_bytes(second), option, result)
        elif len(msg) >= 3:  # Message
            option = msg[3] if len(msg) > 3 else None
            obj = self._event(tag, second, msg[2])
            if obj is None:
                result.rejected, result.reason = 1, "bad_event"
            else:
                result.objects.append(obj)
        else:
            return ForwardMessage(rejected=1, reason="bad_message")
        if option is not None and not isinstance(option, dict):
            option = None
        if option:
            signal = option.get("fluent_signal", _SIGNAL_LOGS)
            if signal != _SIGNAL_LOGS:
                # Fluent Bit metrics/traces: not log events. Acknowledged and counted so
                # the sender does not retry them forever.
                result.rejected += len(result.objects) or 1
                result.reason = "unsupported_signal"
                result.objects = []
            chunk = option.get("chunk")
            if chunk is not None and result.reason not in ("compression", "too_large"):
                result.ack = msgpack.packb({"ack": chunk})
        return result

    def _packed(self, tag: str, blob: bytes, option: Any, result: ForwardMessage) -> None:
        compressed = option.get("compressed") if isinstance(option, dict) else None
        if compressed not in (None, "text"):
            if compressed != "gzip":
                result.rejected, result.reason = 1, "compression"
                return
            try:
                blob = self._gunzip(blob)
            except zlib.error:
                result.rejected, result.reason = 1, "compression"
                return
            except OverflowError:
                result.rejected, result.reason = 1, "too_large"
                return
        unpacker = msgpack.Unpacker(
            raw=False,
            unicode_errors="replace",
            max_buffer_size=max(len(blob), 1),
            strict_map_key=False,
            ext_hook=_ext_hook,
        )
        unpacker.feed(blob)
        items: list[Any] = []
        end = 0
        try:
            for item in unpacker:
                items.append(item)
                end = unpacker.tell()
        except (ValueError, msgpack.StackError):
            pass
        self._entries(tag, items, result)
        if end != len(blob):  # garbage or a truncated entry after the good ones
            result.rejected += 1
            result.reason = "bad_entries"

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
        bad = 0
        for entry in entries:
            if type(entry) is list and len(entry) >= 2:
                obj = self._event(tag, entry[0], entry[1])
                if obj is not None:
                    objects.append(obj)
                    continue
            bad += 1
        if bad:
            result.rejected += bad
            result.reason = "bad_event"

    def _event(self, tag: str, t: Any, record: Any) -> LogObject | None:
        if type(t) is list and t:  # Fluent Bit 2.1+: [[time, metadata], record]
            meta = t[1] if len(t) > 1 else None
            t = t[0]
            if meta and type(record) is dict and type(meta) is dict:
                record.setdefault("fluent_metadata", meta)
        if type(record) is not dict:
            return None
        tt = type(t)
        if tt is EventTimeNs:
            ns: int = t
        elif tt is int:
            ns = t * _NS if t else int(self._now() * _NS)  # Fluentd: time 0 means now
        elif tt is float:
            ns = int(t * _NS)
        else:
            return None
        obj: LogObject = record
        for key, value in obj.items():
            if type(value) is bytes:
                obj[key] = value.decode("utf-8", "replace")
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
        return ForwardMessage(reply=pong, rejected=1, reason="auth", close=True)
