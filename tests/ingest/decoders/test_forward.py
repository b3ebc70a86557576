"""Byte-level tests of the Fluentd forward decoder: all modes, acks, handshake, bad input."""

from __future__ import annotations

import gzip
import hashlib
import struct
import time

import msgpack
import pytest

from tracelake.ingest.decoders.forward import (
    MAX_DEPTH,
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


# -- one bad record never costs its neighbours ---------------------------------------------


#: Records of these tests are stamped now: the logs table refuses far-off times.
NOW = int(time.time())


def chunk_of(*records: object) -> list[list[object]]:
    return [[NOW, r] for r in records]


BAD_RECORDS = [
    ({1: "int key", "message": "bad"}, "bad_key"),
    ({b"bin": "bin key", "message": "bad"}, "bad_key"),
    ({"nested": {2.5: "float key"}}, "bad_key"),
    ({"nested": [{None: "nil key"}]}, "bad_key"),
    ({"ext": msgpack.ExtType(7, b"x")}, "bad_value"),
]


@pytest.mark.parametrize(("record", "reason"), BAD_RECORDS)
def test_a_record_json_cannot_hold_is_rejected_alone_in_every_mode(
    record: dict[object, object], reason: str
) -> None:
    """Message, Forward, PackedForward and CompressedPackedForward each store the good
    records, reject the bad one under its reason and still acknowledge the chunk."""
    good = {"message": "good"}
    events = chunk_of(good, record, good)
    packed = b"".join(pack(e) for e in events)
    messages = [
        pack(["t", NOW, record, {"chunk": "m"}]) + pack(["t", NOW, good]),
        pack(["t", events, {"chunk": "f"}]),
        pack(["t", packed, {"chunk": "p", "size": 3}]),
        pack(["t", gzip.compress(packed), {"chunk": "c", "compressed": "gzip"}]),
    ]
    for data in messages:
        out = ForwardDecoder().feed(data)
        stored = [o["message"] for m in out for o in m.objects]
        assert stored == ["good"] * (1 if len(out) == 2 else 2)
        assert out[0].rejects == {reason: 1}
        assert out[0].ack is not None


def test_array_and_map_keys_are_rejected_and_the_stream_reads_on() -> None:
    """msgpack cannot build a dict with an array key (a TypeError mid-stream): that
    record is rejected, the rest of its message and the next messages are read."""

    raw_map = b"\x82" + pack([1, 2]) + pack("v") + pack("message") + pack("bad")  # {[1,2]: v}
    bad_event = b"\x92" + pack(NOW) + raw_map
    data = (
        b"\x93"
        + pack("t")
        + b"\x92"
        + pack([NOW, {"message": "a"}])
        + bad_event
        + pack({"chunk": "k"})
        + pack(["t", NOW, {"message": "b"}])
    )
    d = ForwardDecoder()
    out = []
    for i in range(0, len(data), 7):  # split, so the bad key arrives across feeds too
        out += d.feed(data[i : i + 7])
    assert [o["message"] for m in out for o in m.objects] == ["a", "b"]
    assert out[0].rejects == {"bad_key": 1} and msgpack.unpackb(out[0].ack) == {"ack": "k"}
    packed = pack([NOW, {"message": "c"}]) + bad_event + pack([1, {"message": "d"}])
    (m,) = ForwardDecoder().feed(pack(["t", packed, {"chunk": "p"}]))
    assert [o["message"] for o in m.objects] == ["c", "d"] and m.rejects == {"bad_key": 1}


def test_a_binary_tag_is_decoded_and_a_tag_of_another_type_rejects_its_message() -> None:
    """A bin tag is read as UTF-8 (invalid bytes become U+FFFD); an int tag is one bad
    message, acknowledged, and the stream goes on."""
    d = ForwardDecoder()
    out = d.feed(
        pack([b"app.web", NOW, {"message": "a"}, {"chunk": "1"}])
        + pack([b"bad\xff", [[NOW, {"message": "b"}]]])
        + pack([7, NOW, {"message": "c"}, {"chunk": "2"}])
        + pack(["ok", NOW, {"message": "d"}])
    )
    assert [(o["tag"], o["message"]) for m in out for o in m.objects] == [
        ("app.web", "a"),
        ("bad\ufffd", "b"),
        ("ok", "d"),
    ]
    assert out[2].rejects == {"bad_tag": 1} and msgpack.unpackb(out[2].ack) == {"ack": "2"}


def test_invalid_utf8_and_nested_bins_become_text() -> None:
    """Strings of invalid UTF-8 (str type) and bins at any depth come out as valid text."""
    raw_str = b"\xa4caf\xff"  # a 4-byte str that is not UTF-8
    record = b"\x83" + pack("message") + raw_str + raw_str + pack(1) + pack("deep")
    record += pack({"list": [b"caf\xc3\xa9", {"k": b"\xff"}]})
    (m,) = ForwardDecoder().feed(b"\x93" + pack("t") + pack(NOW) + record)
    (obj,) = m.objects
    assert obj["message"] == "caf\ufffd" and obj["caf\ufffd"] == 1
    assert obj["deep"] == {"list": ["café", {"k": "\ufffd"}]}


@pytest.mark.parametrize(
    "option",
    [
        {"chunk": 12345},
        {"chunk": ["a", 1]},
        {"chunk": b"\x00\xff"},
        {"chunk": "ok", "size": "three"},
        {"chunk": "ok", "size": [1]},
        {"chunk": "ok", "compressed": 5},
    ],
)
def test_odd_option_values_never_break_a_message(option: dict[str, object]) -> None:
    """``chunk`` of any type is echoed as sent; ``size`` is not read; ``compressed`` on
    a Message is not looked at."""
    (m,) = ForwardDecoder().feed(pack(["t", NOW, {"message": "x"}, option]))
    assert len(m.objects) == 1 and m.rejects == {}
    assert msgpack.unpackb(m.ack) == {"ack": option["chunk"]}


def test_a_chunk_id_of_invalid_utf8_is_echoed_byte_for_byte() -> None:
    """The ack carries the chunk id's very bytes, even when they are not UTF-8."""
    raw_chunk = b"\xa3a\xff="
    data = b"\x94" + pack("t") + pack(1) + pack({"m": 1}) + b"\x81" + pack("chunk") + raw_chunk
    (m,) = ForwardDecoder().feed(data)
    assert m.ack == b"\x81" + pack("ack") + raw_chunk


@pytest.mark.parametrize("t", [float("nan"), float("inf"), 1e300])
def test_an_unusable_float_time_rejects_its_event_only(t: float) -> None:
    """NaN, infinity and far-off float times reject their event, not the message."""
    (m,) = ForwardDecoder().feed(pack(["t", [[t, {"m": 1}], [1.5, {"m": 2}]]]))
    assert [o["m"] for o in m.objects] == [2] and m.rejects == {"bad_event": 1}


def nested(levels: int) -> dict[str, object]:
    """A record ``levels`` maps deep, the record itself the first."""
    record: dict[str, object] = {"m": "deep"}
    for _ in range(levels - 1):
        record = {"d": record}
    return record


def test_nesting_past_the_limit_rejects_the_record() -> None:
    """A record nested deeper than the store's JSON encoder writes is rejected alone,
    whether or not it also needed repairs; one at the limit is kept."""
    too_deep, repaired_too_deep = nested(MAX_DEPTH + 1), nested(MAX_DEPTH + 1)
    repaired_too_deep["bin"] = b"x"
    events = [[NOW, nested(MAX_DEPTH)], [NOW, too_deep], [NOW, repaired_too_deep]]
    (m,) = ForwardDecoder().feed(pack(["t", events]))
    assert len(m.objects) == 1 and m.rejects == {"bad_value": 2}


def test_every_object_the_decoder_yields_can_be_stored() -> None:
    """What the decoder hands on goes through the logs table's mapping without error."""
    from tracelake.ingest.tables.logs import logs_batch
    from tracelake.model import IngestResult

    raw_str = b"\xa2\xff\xfe"
    odd = b"\x82" + raw_str + raw_str + pack("n") + pack({"b": b"\xff", "l": [b"x", 1.5, None]})
    data = b"\x93" + pack(b"t\xff") + pack(NOW) + odd
    data += pack(["t", NOW, nested(MAX_DEPTH)])
    out = ForwardDecoder().feed(data)
    objects = [o for m in out for o in m.objects]
    result = IngestResult()
    batch = logs_batch(objects, [1, 2], result, NOW * 1_000_000)
    assert batch.num_rows == 2 and result.rejected == 0
