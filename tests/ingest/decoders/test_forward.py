"""Byte-level tests of the Fluentd forward decoder: all modes, acks, handshake, bad input."""

from __future__ import annotations

import gzip
import hashlib
import struct

import msgpack
import pytest

from tracelake.ingest.decoders.forward import (
    ForwardDecoder,
    ForwardProtocolError,
    heartbeat_reply,
)

NS = 1_000_000_000


def event_time(sec: int, nsec: int) -> msgpack.ExtType:
    return msgpack.ExtType(0, struct.pack(">II", sec, nsec))


def pack(obj: object) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def entries(*events: tuple[object, dict[str, object]]) -> bytes:
    return b"".join(pack(list(e)) for e in events)


def test_message_mode_int_time() -> None:
    (m,) = ForwardDecoder().feed(pack(["app.web", 1700000000, {"message": "hi", "level": "info"}]))
    assert m.objects == [
        {
            "message": "hi",
            "level": "info",
            "timestamp": 1700000000 * NS,
            "tag": "app.web",
            "service": "app.web",
        }
    ]
    assert m.ack is None and m.rejected == 0


def test_message_mode_event_time_and_ack() -> None:
    data = pack(["t", event_time(1700000000, 123456789), {"log": "line\n"}, {"chunk": "abc="}])
    (m,) = ForwardDecoder().feed(data)
    assert m.objects[0]["timestamp"] == 1700000000123456789
    assert m.objects[0]["message"] == "line"  # docker/Fluent Bit "log" → message
    assert msgpack.unpackb(m.ack) == {"ack": "abc="}


def test_record_service_and_tag_are_kept() -> None:
    (m,) = ForwardDecoder().feed(pack(["fluent.tag", 1, {"service": "orders", "tag": "mine"}]))
    obj = m.objects[0]
    assert (obj["service"], obj["tag"], obj["fluent_tag"]) == ("orders", "mine", "fluent.tag")


def test_tag_as_service_can_be_off() -> None:
    (m,) = ForwardDecoder(tag_as_service=False).feed(pack(["t", 1, {"a": 1}]))
    assert "service" not in m.objects[0]


def test_forward_mode_with_size_and_chunk() -> None:
    data = pack(["t", [[1, {"a": 1}], [event_time(2, 5), {"a": 2}]], {"size": 2, "chunk": "c1"}])
    (m,) = ForwardDecoder().feed(data)
    assert [o["a"] for o in m.objects] == [1, 2]
    assert [o["timestamp"] for o in m.objects] == [NS, 2 * NS + 5]
    assert msgpack.unpackb(m.ack) == {"ack": "c1"}


def test_packed_forward_bin_and_legacy_str() -> None:
    blob = entries((1, {"m": "a"}), (2, {"m": "b"}))
    (m,) = ForwardDecoder().feed(pack(["t", blob, {"size": 2}]))
    assert [o["m"] for o in m.objects] == ["a", "b"]
    # Fluentd 0.12 sent the entries as a msgpack *str* (raw) holding binary data
    legacy = msgpack.packb(["t", blob], use_bin_type=False)
    (m,) = ForwardDecoder().feed(legacy)
    assert [o["m"] for o in m.objects] == ["a", "b"]


def test_compressed_packed_forward_multiple_gzip_members() -> None:
    blob = gzip.compress(entries((1, {"m": "a"}))) + gzip.compress(entries((2, {"m": "b"})))
    (m,) = ForwardDecoder().feed(pack(["t", blob, {"compressed": "gzip", "chunk": "z"}]))
    assert [o["m"] for o in m.objects] == ["a", "b"]
    assert m.ack is not None


def test_fluent_bit_metadata_entry_shape() -> None:
    blob = pack([[event_time(3, 0), {"k": "v"}], {"message": "x"}])
    (m,) = ForwardDecoder().feed(pack(["fb", blob, {"size": 1}]))
    assert m.objects[0]["timestamp"] == 3 * NS
    assert m.objects[0]["fluent_metadata"] == {"k": "v"}


def test_time_zero_means_now_and_float_time() -> None:
    d = ForwardDecoder(now=lambda: 5.0)
    (m,) = d.feed(pack(["t", [[0, {}], [1.5, {}]]]))
    assert [o["timestamp"] for o in m.objects] == [5 * NS, 1_500_000_000]


def test_bin_values_become_text() -> None:
    (m,) = ForwardDecoder().feed(pack(["t", 1, {"message": b"caf\xc3\xa9"}]))
    assert m.objects[0]["message"] == "café"


def test_stream_split_at_every_byte() -> None:
    data = pack(["t", 1, {"n": 1}]) + pack(["t", [[2, {"n": 2}]], {"chunk": "x"}])
    d = ForwardDecoder()
    out = []
    for i in range(len(data)):
        out += d.feed(data[i : i + 1])
    assert [o["n"] for m in out for o in m.objects] == [1, 2]
    assert out[-1].ack is not None


def test_bad_events_are_rejected_alone() -> None:
    data = pack(["t", [[1, {"ok": 1}], [1, "not a map"], ["bad time", {}], [1]], {"chunk": "c"}])
    (m,) = ForwardDecoder().feed(data)
    assert len(m.objects) == 1 and m.rejected == 3 and m.reason == "bad_event"
    assert m.ack is not None  # the good part is stored, so it is acknowledged


def test_broken_gzip_is_rejected_without_ack_and_stream_goes_on() -> None:
    d = ForwardDecoder()
    msgs = d.feed(
        pack(["t", b"\x1f\x8bnot gzip", {"compressed": "gzip", "chunk": "c"}]) + pack(["t", 1, {}])
    )
    assert (msgs[0].rejected, msgs[0].reason, msgs[0].ack) == (1, "compression", None)
    assert len(msgs[1].objects) == 1


def test_unknown_compression_rejected() -> None:
    (m,) = ForwardDecoder().feed(pack(["t", b"xx", {"compressed": "lz4"}]))
    assert m.reason == "compression"


def test_decompression_limit() -> None:
    blob = gzip.compress(entries(*[(1, {"m": "x" * 1000})] * 100))
    (m,) = ForwardDecoder(max_decompressed_bytes=10_000).feed(
        pack(["t", blob, {"compressed": "gzip"}])
    )
    assert (m.reason, m.objects) == ("too_large", [])


def test_truncated_packed_entries_rejected() -> None:
    blob = entries((1, {"m": "a"}))[:-2]
    (m,) = ForwardDecoder().feed(pack(["t", blob]))
    assert m.reason == "bad_entries" and m.objects == []


def test_unsupported_signal_is_acked_and_counted() -> None:
    (m,) = ForwardDecoder().feed(pack(["m", b"\x90", {"fluent_signal": 1, "chunk": "q"}]))
    assert m.reason == "unsupported_signal" and m.objects == [] and m.ack is not None


def test_wrong_shape_message_rejected() -> None:
    (m,) = ForwardDecoder().feed(pack(["t", None]))
    assert m.reason == "bad_message"


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\n\r\n",  # fixints, not an array
        b"\xc1\xc1\xc1",  # never-used msgpack byte
        pack({"not": "an array"}),
        pack([1, 2, 3]),  # tag not a string
    ],
)
def test_unframeable_input_raises_protocol_error(data: bytes) -> None:
    with pytest.raises(ForwardProtocolError):
        ForwardDecoder().feed(data)


def test_message_over_buffer_limit_raises() -> None:
    with pytest.raises(ForwardProtocolError):
        ForwardDecoder(max_message_bytes=1000).feed(pack(["t", 1, {"m": "x" * 5000}]))


def test_heartbeat_reply() -> None:
    assert heartbeat_reply(b"") == b"\x00"


def _ping(nonce: bytes, key: bytes, host: bytes = b"client") -> bytes:
    salt = b"salty"
    digest = hashlib.sha512(salt + host + nonce + key).hexdigest()
    return pack(["PING", host.decode(), salt.decode(), digest, "", ""])


def test_shared_key_handshake() -> None:
    d = ForwardDecoder(shared_key="secret", server_hostname="srv", nonce=lambda n: b"N" * n)
    helo = msgpack.unpackb(d.greeting())
    assert helo[0] == "HELO" and helo[1]["nonce"] == b"N" * 16
    (m,) = d.feed(_ping(b"N" * 16, b"secret"))
    pong = msgpack.unpackb(m.reply)
    assert pong[:4] == ["PONG", True, "", "srv"]
    assert pong[4] == hashlib.sha512(b"salty" + b"srv" + b"N" * 16 + b"secret").hexdigest()
    (m,) = d.feed(pack(["t", 1, {"a": 1}]))
    assert len(m.objects) == 1


def test_shared_key_mismatch_closes() -> None:
    d = ForwardDecoder(shared_key="secret", nonce=lambda n: b"N" * n)
    (m,) = d.feed(_ping(b"N" * 16, b"wrong"))
    assert m.close and m.reason == "auth"
    assert msgpack.unpackb(m.reply)[1] is False


def test_events_before_ping_are_refused() -> None:
    d = ForwardDecoder(shared_key="k")
    with pytest.raises(ForwardProtocolError):
        d.feed(pack(["t", 1, {"a": 1}]))


def test_no_greeting_without_shared_key() -> None:
    assert ForwardDecoder().greeting() is None
