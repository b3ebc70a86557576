"""Loki push: JSON as Fluent Bit and curl send it, snappy protobuf as Promtail and Alloy do.

The protobuf bodies are built with the ``protobuf`` runtime from ``logproto``'s message
definitions as ``pkg/push/push.proto`` writes them (``string`` fields,
``google.protobuf.Timestamp``), declared here in a private descriptor pool, independently
of the decoder's own declaration.
"""

from __future__ import annotations

import gzip
import random
from typing import Any

import orjson
import pytest
import snappy
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2

from tracelake.errors import DecodeError, PayloadTooLarge
from tracelake.ingest.decoders.loki import decode_push, parse_labels

JSON = "application/json"
PROTO = "application/x-protobuf"


def _push_request_class() -> Any:
    """``logproto.PushRequest`` as ``pkg/push/push.proto`` declares it."""
    pool = descriptor_pool.DescriptorPool()
    pool.Add(descriptor_pb2.FileDescriptorProto.FromString(timestamp_pb2.DESCRIPTOR.serialized_pb))
    f = descriptor_pb2.FileDescriptorProto(
        name="pkg/push/push.proto",
        package="logproto",
        syntax="proto3",
        dependency=["google/protobuf/timestamp.proto"],
    )
    fd = descriptor_pb2.FieldDescriptorProto
    string, uint64, msg = fd.TYPE_STRING, fd.TYPE_UINT64, fd.TYPE_MESSAGE
    one, many = fd.LABEL_OPTIONAL, fd.LABEL_REPEATED

    def message(name: str, *fields: tuple[str, int, int, int, str]) -> None:
        m = f.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            field = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                field.type_name = type_name

    message(
        "PushRequest",
        ("streams", 1, msg, many, ".logproto.StreamAdapter"),
        ("format", 2, string, one, ""),
    )
    message(
        "StreamAdapter",
        ("labels", 1, string, one, ""),
        ("entries", 2, msg, many, ".logproto.EntryAdapter"),
        ("hash", 3, uint64, one, ""),
    )
    message(
        "EntryAdapter",
        ("timestamp", 1, msg, one, ".google.protobuf.Timestamp"),
        ("line", 2, string, one, ""),
        ("structuredMetadata", 3, msg, many, ".logproto.LabelPairAdapter"),
        ("parsed", 4, msg, many, ".logproto.LabelPairAdapter"),
    )
    message("LabelPairAdapter", ("name", 1, string, one, ""), ("value", 2, string, one, ""))
    pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("logproto.PushRequest"))


PushRequest = _push_request_class()


def _proto(streams: list[tuple[str, list[tuple[int, str, dict[str, str]]]]]) -> bytes:
    """A snappy-compressed PushRequest, entries as (ns, line, structured metadata)."""
    request = PushRequest()
    for labels, entries in streams:
        stream = request.streams.add(labels=labels, hash=0xDEADBEEF)
        for ns, line, metadata in entries:
            entry = stream.entries.add(line=line)
            entry.timestamp.seconds, entry.timestamp.nanos = divmod(ns, 1_000_000_000)
            for name, value in metadata.items():
                entry.structuredMetadata.add(name=name, value=value)
    return bytes(snappy.compress(request.SerializeToString()))


# -- JSON -------------------------------------------------------------------------------


def test_json_push_golden() -> None:
    body = orjson.dumps(
        {
            "streams": [
                {
                    "stream": {"app": "web", "env": "prod", "level": "error", "host": "n1"},
                    "values": [
                        ["1570818238000000000", "GET /x 500", {"trace_id": "abc"}],
                        ["1570818238000000001", "second"],
                    ],
                },
                {
                    "stream": {"service_name": "api", "job": "varlogs", "detected_level": "warn"},
                    "values": [["1700000000123456789", "slow"]],
                },
            ]
        }
    )
    objects, errors = decode_push(body, JSON)
    assert errors == []
    assert objects == [
        {
            "app": "web",
            "env": "prod",
            "level": "error",
            "host": "n1",
            "trace_id": "abc",
            "service": "web",
            "timestamp": 1570818238000000000,
            "message": "GET /x 500",
        },
        {
            "app": "web",
            "env": "prod",
            "level": "error",
            "host": "n1",
            "service": "web",
            "timestamp": 1570818238000000001,
            "message": "second",
        },
        {
            "service_name": "api",
            "job": "varlogs",
            "detected_level": "warn",
            "service": "api",
            "level": "warn",
            "timestamp": 1700000000123456789,
            "message": "slow",
        },
    ]


@pytest.mark.parametrize(
    ("labels", "service"),
    [
        ({"service_name": "a", "service": "b", "app": "c", "job": "d"}, "a"),
        ({"service": "b", "app": "c", "job": "d"}, "b"),
        ({"app": "c", "job": "d"}, "c"),
        ({"job": "d"}, "d"),
        ({"service_name": "", "job": "d"}, "d"),
    ],
)
def test_service_label_precedence(labels: dict[str, str], service: str) -> None:
    body = orjson.dumps({"streams": [{"stream": labels, "values": [["1", "x"]]}]})
    (obj,), _ = decode_push(body, "application/json; charset=utf-8")
    assert obj["service"] == service


def test_fluent_bit_gzip_json() -> None:
    body = b'{"streams":[{"stream":{"job":"fluent-bit"},"values":[["1700000000000000000","hi"]]}]}'
    (obj,), errors = decode_push(gzip.compress(body), JSON, content_encoding="gzip")
    assert obj == {
        "job": "fluent-bit",
        "service": "fluent-bit",
        "timestamp": 1700000000000000000,
        "message": "hi",
    }
    assert errors == []


def test_json_bad_entries_are_rejected_one_by_one() -> None:
    body = orjson.dumps(
        {
            "streams": [
                {
                    "stream": {"app": "a"},
                    "values": [
                        ["1", "good"],
                        [1700000000000000000, "numeric timestamp"],
                        ["2", 42],
                        ["3"],
                        ["17e9", "not digits"],
                        ["4", "bad metadata", {"k": 1}],
                        ["5", "good too"],
                    ],
                },
                {"stream": {"app": 7}, "values": [["1", "x"], ["2", "y"]]},
                {"stream": {"app": "b"}},
                "not a stream",
                {"values": [["9", "no labels is fine"]]},
            ]
        }
    )
    objects, errors = decode_push(body, JSON)
    assert [o["message"] for o in objects] == ["good", "good too", "no labels is fine"]
    assert [(e.line, e.error) for e in errors] == [
        (2, "streams[0].values[1]: timestamp must be a string of epoch nanoseconds, got a number"),
        (3, "streams[0].values[2]: line must be a string, got int"),
        (
            4,
            "streams[0].values[3]: must be an array [timestamp, line] or "
            "[timestamp, line, metadata]",
        ),
        (5, "streams[0].values[4]: timestamp must be a string of epoch nanoseconds, got '17e9'"),
        (6, "streams[0].values[5]: structured metadata 'k' must be a string, got int"),
        (8, "streams[1]: label 'app' must be a string, got int"),
        (9, "streams[1]: label 'app' must be a string, got int"),
        (10, 'streams[2]: needs a "values" array'),
        (11, "streams[3]: must be an object"),
    ]


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"streams":{}}', b'{"stream":[]}', b"\xff\xfe"])
def test_json_that_is_not_a_push_request(body: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_push(body, JSON)


# -- protobuf ----------------------------------------------------------------------------


def test_promtail_snappy_protobuf_golden() -> None:
    # Promtail/Alloy write labels with Prometheus' labels.String(): `, ` between pairs.
    body = _proto(
        [
            (
                '{app="checkout", env="prod", filename="/var/log/app.log", level="info"}',
                [
                    (1_700_000_000_123_456_789, "order placed", {"trace_id": "4bf92f35"}),
                    (1_700_000_001_000_000_000, "order shipped", {}),
                ],
            ),
            ("{}", [(1, "no labels", {})]),
        ]
    )
    objects, errors = decode_push(body, PROTO)
    assert errors == []
    assert objects == [
        {
            "app": "checkout",
            "env": "prod",
            "filename": "/var/log/app.log",
            "level": "info",
            "trace_id": "4bf92f35",
            "service": "checkout",
            "timestamp": 1_700_000_000_123_456_789,
            "message": "order placed",
        },
        {
            "app": "checkout",
            "env": "prod",
            "filename": "/var/log/app.log",
            "level": "info",
            "service": "checkout",
            "timestamp": 1_700_000_001_000_000_000,
            "message": "order shipped",
        },
        {"timestamp": 1, "message": "no labels"},
    ]


def test_protobuf_is_the_default_without_content_type() -> None:
    body = _proto([('{job="x"}', [(5, "l", {})])])
    assert decode_push(body, None)[0][0]["message"] == "l"
    assert decode_push(body, "")[0][0]["service"] == "x"


def test_protobuf_golden_bytes() -> None:
    # PushRequest{streams:[{labels:'{a="b"}', entries:[{timestamp:{1s, 2ns}, line:"hi"}]}]}
    raw = bytes.fromhex("0a150a077b613d2262227d120a0a040801100212026869")
    assert raw == PushRequest.FromString(raw).SerializeToString()
    objects, errors = decode_push(bytes(snappy.compress(raw)), PROTO)
    assert objects == [{"a": "b", "timestamp": 1_000_000_002, "message": "hi"}]
    assert errors == []


def test_protobuf_matches_the_protobuf_runtime_on_random_requests() -> None:
    rng = random.Random(7)
    alphabet = 'abcXYZ _-="\\\n{},é☃'
    for _ in range(50):
        streams = []
        for _ in range(rng.randint(0, 4)):
            labels = {
                f"l{i}": "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
                for i in range(rng.randint(0, 4))
            }
            text = (
                "{" + ", ".join(f"{k}={orjson.dumps(v).decode()}" for k, v in labels.items()) + "}"
            )
            entries = [
                (
                    rng.randint(1, 2**62),
                    "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20))),
                    {f"m{j}": str(rng.random()) for j in range(rng.randint(0, 3))},
                )
                for _ in range(rng.randint(0, 5))
            ]
            streams.append((text, labels, entries))
        objects, errors = decode_push(_proto([(t, e) for t, _, e in streams]), PROTO)
        assert errors == []
        expected = [
            {**labels, **meta, "timestamp": ns, "message": line}
            for _, labels, entries in streams
            for ns, line, meta in entries
        ]
        assert [{k: v for k, v in o.items() if k != "service"} for o in objects] == expected


def test_unknown_and_query_only_fields_are_skipped() -> None:
    request = PushRequest(format="loki")
    stream = request.streams.add(labels='{a="1"}', hash=2**63 + 5)
    entry = stream.entries.add(line="x")
    entry.timestamp.seconds = 3
    entry.parsed.add(name="p", value="q")
    raw = request.SerializeToString() + bytes.fromhex("f80101") + bytes.fromhex("fd0104000000")
    (obj,), _ = decode_push(bytes(snappy.compress(raw)), PROTO)
    assert obj == {"a": "1", "timestamp": 3_000_000_000, "message": "x"}


def test_unknown_groups_are_skipped_like_any_unknown_field() -> None:
    # proto3 parsers (Loki's included) skip an unknown field of any wire type, a
    # well-formed group (start 0x7b = field 15 wire 3 ... end 0x7c) among them.
    request = PushRequest()
    request.streams.add(labels='{a="1"}').entries.add(line="x").timestamp.seconds = 3
    raw = request.SerializeToString() + bytes.fromhex("7b08017c")
    (obj,), errors = decode_push(bytes(snappy.compress(raw)), PROTO)
    assert obj == {"a": "1", "timestamp": 3_000_000_000, "message": "x"} and errors == []


def test_damaged_entries_of_a_rejected_stream_cost_that_stream_only() -> None:
    # The parser refuses the body; the decoder then reads it stream by stream and never
    # looks inside the entries of a stream whose labels it rejects.
    bad = _stream_bytes('{a="1"', b"\x12\x03\x0a\x05\x08")  # an entry cut short
    good = _stream_bytes('{b="2"}', _entry_bytes(7, "kept"))
    objects, errors = decode_push(bytes(snappy.compress(bad + good)), PROTO)
    assert [o["message"] for o in objects] == ["kept"]
    assert [e.line for e in errors] == [1] and "streams[0]: labels" in errors[0].error


def test_a_damaged_entry_of_a_usable_stream_names_its_cause() -> None:
    body = _stream_bytes('{a="1"}', _entry_bytes(1, "ok") + b"\x12\x02\x0a\x09")
    with pytest.raises(DecodeError, match="EntryAdapter is truncated"):
        decode_push(bytes(snappy.compress(body)), PROTO)


def _entry_bytes(seconds: int, line: str) -> bytes:
    """One ``entries`` field (number 2) of a StreamAdapter, encoded."""
    entry = PushRequest().streams.add().entries.add(line=line)
    entry.timestamp.seconds = seconds
    raw = entry.SerializeToString()
    return b"\x12" + bytes([len(raw)]) + raw


def _stream_bytes(labels: str, entries: bytes) -> bytes:
    """One ``streams`` field (number 1) of a PushRequest: labels, then raw entry fields."""
    text = labels.encode()
    inner = b"\x0a" + bytes([len(text)]) + text + entries
    return b"\x0a" + bytes([len(inner)]) + inner


def test_entry_without_timestamp_is_rejected() -> None:
    request = PushRequest()
    stream = request.streams.add(labels='{a="1"}')
    stream.entries.add(line="no ts")
    ok = stream.entries.add(line="ts")
    ok.timestamp.seconds = 1
    objects, errors = decode_push(bytes(snappy.compress(request.SerializeToString())), PROTO)
    assert [o["message"] for o in objects] == ["ts"]
    assert [(e.line, e.error) for e in errors] == [
        (1, "streams[0].entries[0]: timestamp is missing")
    ]


def test_truncated_protobuf_fails_the_request() -> None:
    raw = PushRequest.FromString(snappy.uncompress(_proto([('{a="1"}', [(1, "hello", {})])])))
    data = raw.SerializeToString()
    for cut in range(1, len(data)):
        with pytest.raises(DecodeError, match="truncated"):
            decode_push(bytes(snappy.compress(data[:cut])), PROTO)


@pytest.mark.parametrize(
    "body",
    [
        b"\x05garbage",  # preamble says 5 bytes, then no valid snappy
        b"this is not snappy at all",
        b'{"streams":[]}',  # JSON sent without its content type
        b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",  # a varint that never ends
    ],
)
def test_snappy_garbage(body: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_push(body, PROTO)


def test_snappy_preamble_over_the_limit_is_refused_before_inflating() -> None:
    big = bytes(snappy.compress(b"\0" * 100_000))
    with pytest.raises(PayloadTooLarge, match="limit of 1000"):
        decode_push(big, PROTO, max_body_bytes=1000)


def test_wire_types_we_cannot_read_fail_cleanly() -> None:
    with pytest.raises(DecodeError, match="wire type 3"):
        decode_push(bytes(snappy.compress(b"\x0b")), PROTO)  # a group start
    with pytest.raises(DecodeError, match="numbered 0"):
        decode_push(bytes(snappy.compress(b"\x02\x00")), PROTO)


def test_unparseable_label_text_rejects_the_stream() -> None:
    body = _proto([("app=x", [(1, "a", {}), (2, "b", {})]), ('{ok="1"}', [(3, "c", {})])])
    objects, errors = decode_push(body, PROTO)
    assert [o["message"] for o in objects] == ["c"]
    assert [e.line for e in errors] == [1, 2]
    assert errors[0].error.startswith("streams[0]: labels 'app=x' are not a label set")


# -- labels, limits ------------------------------------------------------------------------


def test_parse_labels_go_quoting() -> None:
    assert parse_labels(
        '{a="x", b="q\\"uote", c="back\\\\slash", d="nl\\n", e="\\x41\\u00e9"}'
    ) == {
        "a": "x",
        "b": 'q"uote',
        "c": "back\\slash",
        "d": "nl\n",
        "e": "Aé",
    }
    assert parse_labels(" { } ") == {}
    assert parse_labels('{__name__="m",x="}"}') == {"__name__": "m", "x": "}"}
    for bad in ('{a="x"', "{a=x}", '{a="x"} trailing', '{1a="x"}', '{a="x",,b="y"}'):
        with pytest.raises(DecodeError):
            parse_labels(bad)


def test_limits_per_entry_and_per_request() -> None:
    labels = {f"l{i}": "v" for i in range(5)}
    body = orjson.dumps(
        {"streams": [{"stream": labels, "values": [["1", "x" * 50], ["2", "é" * 20]]}]}
    )
    _, errors = decode_push(body, JSON, max_labels=4)
    assert [e.error for e in errors] == ["streams[0]: stream has 5 labels, over max_labels (4)"] * 2
    _, errors = decode_push(body, JSON, max_label_bytes=9)
    assert "over max_label_bytes (9)" in errors[0].error
    _, errors = decode_push(body, JSON, max_line_bytes=39)
    assert [(e.line, e.error) for e in errors] == [
        (1, "streams[0].values[0]: line is 50 bytes, over max_line_bytes (39)"),
        (2, "streams[0].values[1]: line is 40 bytes, over max_line_bytes (39)"),
    ]
    with pytest.raises(PayloadTooLarge, match="max_entries"):
        decode_push(body, JSON, max_entries=1)
    with pytest.raises(PayloadTooLarge, match="limit of"):
        decode_push(body, JSON, max_body_bytes=10)
    with pytest.raises(PayloadTooLarge):
        decode_push(gzip.compress(body), JSON, content_encoding="gzip", max_body_bytes=10)
    meta = {f"m{i}": "v" for i in range(3)}
    proto = _proto([('{a="1"}', [(1, "x", meta)])])
    _, errors = decode_push(proto, PROTO, max_metadata_pairs=2)
    assert errors[0].error == (
        "streams[0].entries[0]: structured metadata has 3 pairs, over max_metadata_pairs (2)"
    )


def test_timestamps_outside_int64_nanoseconds_are_rejected() -> None:
    body = orjson.dumps(
        {"streams": [{"stream": {}, "values": [[str(2**63), "x"], ["0", "y"], ["١٢", "z"]]}]}
    )
    objects, errors = decode_push(body, JSON)
    assert objects == []
    assert [e.error.split(": ", 1)[1][:20] for e in errors] == [
        "timestamp 9223372036",
        "timestamp 0 is outsi",
        "timestamp must be a ",
    ]
    request = PushRequest()
    entry = request.streams.add(labels="{}").entries.add(line="neg")
    entry.timestamp.seconds = -5
    _, errors = decode_push(bytes(snappy.compress(request.SerializeToString())), PROTO)
    assert "outside" in errors[0].error
