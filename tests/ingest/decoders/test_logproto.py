"""Loki's push messages as the decoder declares them: they read the bytes that
``push.proto``'s own declaration (``google.protobuf.Timestamp``, ``string`` fields)
writes, field for field, and they depart from it only where the wire is the same."""

from __future__ import annotations

from google.protobuf import descriptor_pool

from tests.ingest.decoders.test_loki import PushRequest as Reference
from tracelake.ingest.decoders import logproto


def test_reads_what_the_reference_declaration_writes() -> None:
    request = Reference(format="loki")
    stream = request.streams.add(labels='{app="x"}', hash=2**64 - 1)
    entry = stream.entries.add(line="héllo")
    entry.timestamp.seconds, entry.timestamp.nanos = 1_700_000_000, 999_999_999
    entry.structuredMetadata.add(name="trace_id", value="abc")
    entry.parsed.add(name="query", value="only")
    parsed = logproto.PushRequest.FromString(request.SerializeToString())
    (ours,) = parsed.streams
    assert ours.labels == b'{app="x"}' and ours.hash == 2**64 - 1
    (got,) = ours.entries
    assert (got.timestamp.seconds, got.timestamp.nanos) == (1_700_000_000, 999_999_999)
    assert got.line.decode() == "héllo"
    assert [(p.name, p.value) for p in got.structuredMetadata] == [(b"trace_id", b"abc")]


def test_invalid_utf8_is_bytes_not_a_refused_request() -> None:
    # A proto3 ``string`` parser refuses the whole body over one bad byte.
    line = logproto.EntryAdapter(line=b"caf\xe9").SerializeToString()
    body = logproto.PushRequest(
        streams=[
            logproto.StreamAdapter(labels=b"{}", entries=[logproto.EntryAdapter(line=b"\xff")])
        ]
    ).SerializeToString()
    assert logproto.EntryAdapter.FromString(line).line == b"caf\xe9"
    assert logproto.PushRequest.FromString(body).streams[0].entries[0].line == b"\xff"


def test_nanos_are_read_as_64_bit() -> None:
    raw = logproto.Timestamp(seconds=1, nanos=5_000_000_000).SerializeToString()
    assert logproto.Timestamp.FromString(raw).nanos == 5_000_000_000


def test_the_classes_live_outside_the_default_pool() -> None:
    # A process that registers Loki's own ``logproto`` (a Loki client library) is unaffected.
    full_name = logproto.PushRequest.DESCRIPTOR.full_name
    assert full_name == "tracelake.logproto.PushRequest"
    assert logproto.PushRequest.DESCRIPTOR.file.pool is not descriptor_pool.Default()
