"""A record → one NDJSON line, with where it came from.

The conversion is the one ``tracelake send`` uses too (JSON objects as they are, anything
else as ``{"message": …}``), then ``file`` and ``host`` are added unless the record has its
own (any name the server's field mapping takes for its host column counts). A line that
looks like JSON but is not is kept as text rather than sent to be rejected: the agent's job
is to get every line there.
"""

from __future__ import annotations

from typing import Any

import orjson

from tracelake.pipeline.normalise import HOST_KEYS

STDIN = "-"


def as_ndjson_line(line: bytes, source: str) -> bytes:
    """A JSON object line as it is; any other line becomes ``{"message": …}``."""
    stripped = line.rstrip(b"\r\n")
    if stripped[:1] == b"{":
        return stripped
    return orjson.dumps({"message": stripped.decode("utf-8", "replace"), "source": source})


def to_ndjson(record: bytes, *, file: str | None, host: str) -> bytes | None:
    """The NDJSON line for ``record`` (no trailing newline); None for a blank record.

    Args:
        record: the raw record, possibly several joined lines.
        file: the path it was read from; None for stdin (no ``file`` field is added).
        host: this machine's name, added as ``host``.
    """
    if not record.strip():
        return None
    converted = as_ndjson_line(record, file or STDIN)
    try:
        obj: Any = orjson.loads(converted)
    except orjson.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict):
        obj = {"message": record.rstrip(b"\r\n").decode("utf-8", "replace")}
    if file is not None:
        obj.setdefault("file", file)
    if not any(key in obj for key in HOST_KEYS):
        obj["host"] = host
    return orjson.dumps(obj)
