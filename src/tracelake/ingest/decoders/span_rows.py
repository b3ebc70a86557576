"""The rows every span decoder yields: the columns of the ``spans`` table as plain lists.

Why: OTLP and Zipkin spans must land in one table and read back the same whichever
protocol carried them, so both decoders append to one column-wise shape (cheap to
turn into an Arrow batch, no per-span dict) and share the id rules here. Pure Python:
decoders stay sans-IO and free of pyarrow.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

#: ``status`` values.
STATUS_UNSET = "unset"
STATUS_OK = "ok"
STATUS_ERROR = "error"

#: ``kind`` values (``None`` = not said, which Zipkin calls a local span).
KINDS = ("SERVER", "CLIENT", "PRODUCER", "CONSUMER", "INTERNAL")

_HEX = frozenset("0123456789abcdef")


@dataclass(slots=True)
class SpanRows:
    """Columns of ``spans`` in storage order (see ``schema.SPANS``); one index per span."""

    timestamp: list[int] = field(default_factory=list)  # start, µs since the epoch
    trace_id: list[str] = field(default_factory=list)
    span_id: list[str] = field(default_factory=list)
    parent_id: list[str | None] = field(default_factory=list)
    service: list[str | None] = field(default_factory=list)
    name: list[str | None] = field(default_factory=list)
    kind: list[str | None] = field(default_factory=list)
    duration_us: list[int | None] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    status_message: list[str | None] = field(default_factory=list)
    remote_service: list[str | None] = field(default_factory=list)
    # JSON columns, as the UTF-8 bytes orjson makes (no decode per span)
    attributes: list[bytes] = field(default_factory=list)
    events: list[bytes | None] = field(default_factory=list)
    resource: list[bytes | None] = field(default_factory=list)
    details: list[bytes | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.span_id)

    def columns(self) -> list[list[object]]:
        return [getattr(self, f.name) for f in fields(self)]


def hex_id(value: str, max_digits: int) -> str | None:
    """A lower-hex id left-padded to 16 (or 32) digits; ``None`` when it is not one.

    Zipkin's rule: shorter ids are left-padded with zeros, ids longer than
    ``max_digits`` or not hex are invalid.
    """
    text = value.lower()
    if not text or len(text) > max_digits or not _HEX.issuperset(text):
        return None
    width = 16 if len(text) <= 16 else 32
    return text.rjust(width, "0")


def trace_id_128(text: str) -> str:
    """The stored form of a trace id: 32 hex digits, 64-bit ids left-padded with zeros.

    The same rule as for ``logs.trace_id``, so logs and spans of a trace join.
    """
    return text if len(text) == 32 else text.rjust(32, "0")


def is_zero(text: str) -> bool:
    return text.strip("0") == ""
