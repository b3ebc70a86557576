"""Loki's push messages (``logproto.PushRequest``), as protobuf classes.

Declared in code through ``protoschema``, as ``prompb`` declares remote_write's
messages, in a private pool: they cannot clash with another ``logproto`` registered in
the process's default pool (a user's Loki client, say).

Field names and numbers are those of ``pkg/push/push.proto`` in github.com/grafana/loki
(Apache-2.0)::

    message PushRequest      { repeated StreamAdapter streams = 1; }
    message StreamAdapter    { string labels = 1; repeated EntryAdapter entries = 2;
                               uint64 hash = 3; }
    message EntryAdapter     { google.protobuf.Timestamp timestamp = 1; string line = 2;
                               repeated LabelPairAdapter structuredMetadata = 3; }
    message LabelPairAdapter { string name = 1; string value = 2; }

Two deliberate departures, both invisible on the wire (same field numbers, same wire
types), so that a push decodes exactly as Loki's own lenient reading does:

- the ``string`` fields are declared ``bytes``: proto3 parsers refuse a whole message
  over one invalid UTF-8 sequence, where one bad byte in one line should cost nothing
  (the decoder replaces it with U+FFFD);
- ``Timestamp`` is declared here with ``int64`` ``nanos`` (``google.protobuf.Timestamp``
  says ``int32``): the same varint, read without truncation to 32 bits.

``PushRequest.format`` and ``EntryAdapter.parsed`` (query-side fields) are not declared;
the parser skips them like any unknown field.
"""

from __future__ import annotations

from typing import Any

from tracelake.ingest.decoders.protoschema import OPTIONAL, REPEATED, F, message, message_classes

_PACKAGE = "tracelake.logproto"

_CLASSES = message_classes(
    "tracelake/logproto/push.proto",
    _PACKAGE,
    [
        message(
            "Timestamp",
            ("seconds", 1, OPTIONAL, F.TYPE_INT64, ""),
            ("nanos", 2, OPTIONAL, F.TYPE_INT64, ""),
        ),
        message(
            "LabelPairAdapter",
            ("name", 1, OPTIONAL, F.TYPE_BYTES, ""),
            ("value", 2, OPTIONAL, F.TYPE_BYTES, ""),
        ),
        message(
            "EntryAdapter",
            ("timestamp", 1, OPTIONAL, F.TYPE_MESSAGE, f".{_PACKAGE}.Timestamp"),
            ("line", 2, OPTIONAL, F.TYPE_BYTES, ""),
            (
                "structuredMetadata",
                3,
                REPEATED,
                F.TYPE_MESSAGE,
                f".{_PACKAGE}.LabelPairAdapter",
            ),
        ),
        message(
            "StreamAdapter",
            ("labels", 1, OPTIONAL, F.TYPE_BYTES, ""),
            ("entries", 2, REPEATED, F.TYPE_MESSAGE, f".{_PACKAGE}.EntryAdapter"),
            ("hash", 3, OPTIONAL, F.TYPE_UINT64, ""),
        ),
        message(
            "PushRequest",
            ("streams", 1, REPEATED, F.TYPE_MESSAGE, f".{_PACKAGE}.StreamAdapter"),
        ),
    ],
)

Timestamp: Any = _CLASSES["Timestamp"]
LabelPairAdapter: Any = _CLASSES["LabelPairAdapter"]
EntryAdapter: Any = _CLASSES["EntryAdapter"]
StreamAdapter: Any = _CLASSES["StreamAdapter"]
PushRequest: Any = _CLASSES["PushRequest"]

#: For each message, its fields that hold sub-messages: the shape ``loki.explain`` walks
#: to name what is wrong with a body the parser refused.
SUBMESSAGES: dict[str, dict[int, str]] = {
    "PushRequest": {1: "StreamAdapter"},
    "StreamAdapter": {2: "EntryAdapter"},
    "EntryAdapter": {1: "Timestamp", 3: "LabelPairAdapter"},
    "LabelPairAdapter": {},
    "Timestamp": {},
}
