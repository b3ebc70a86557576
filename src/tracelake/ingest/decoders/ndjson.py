"""NDJSON and JSON-array log bodies, as ``POST /api/v1/logs`` and ``tracelake send`` carry.

The whole body is parsed in one ``orjson`` call when every line is good (the common
case, and about twice as fast as a call per line); a body with any bad line is parsed
again line by line so that the good lines are kept and the bad ones reported by number.
"""

from __future__ import annotations

from typing import Any

import orjson

from tracelake.model import LogObject, RecordError

#: How a line over the length limit is reported (the API answers 413 when all are).
TOO_LONG = "line too long:"


def decode_ndjson(
    body: bytes, max_line_bytes: int
) -> tuple[list[LogObject], list[int], list[RecordError]]:
    """Split a body into log objects.

    Returns the objects, the 1-based line number of each (for error reports made
    later in the pipeline) and the lines that were rejected here.
    """
    stripped = body.lstrip()
    if stripped[:1] == b"[":
        return _decode_array(stripped)
    lines = body.split(b"\n")
    if lines and not lines[-1].strip():
        lines.pop()
    if all(lines) and max(map(len, lines), default=0) <= max_line_bytes:
        try:
            parsed = orjson.loads(b"[" + b",".join(lines) + b"]")
        except orjson.JSONDecodeError:
            pass
        else:
            if all(type(o) is dict for o in parsed):
                return parsed, list(range(1, len(parsed) + 1)), []
    return _decode_lines(lines, max_line_bytes)


def _decode_lines(
    lines: list[bytes], max_line_bytes: int
) -> tuple[list[LogObject], list[int], list[RecordError]]:
    objects: list[LogObject] = []
    numbers: list[int] = []
    errors: list[RecordError] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if len(line) > max_line_bytes:
            errors.append(
                RecordError(
                    number, f"{TOO_LONG} {len(line)} bytes, over the limit of {max_line_bytes}"
                )
            )
            continue
        try:
            value: Any = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            errors.append(RecordError(number, f"invalid JSON: {e}"))
            continue
        if type(value) is not dict:
            errors.append(
                RecordError(number, f"expected a JSON object, got {type(value).__name__}")
            )
            continue
        objects.append(value)
        numbers.append(number)
    return objects, numbers, errors


def _decode_array(body: bytes) -> tuple[list[LogObject], list[int], list[RecordError]]:
    """A JSON array body: one parse; each element is numbered by its position."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        return [], [], [RecordError(1, f"invalid JSON array: {e}")]
    if type(parsed) is not list:
        return [], [], [RecordError(1, "expected a JSON array of log objects")]
    objects: list[LogObject] = []
    numbers: list[int] = []
    errors: list[RecordError] = []
    for number, value in enumerate(parsed, 1):
        if type(value) is dict:
            objects.append(value)
            numbers.append(number)
        else:
            errors.append(RecordError(number, f"element {number} is not a JSON object"))
    return objects, numbers, errors
