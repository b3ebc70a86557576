"""``Content-Encoding`` for every HTTP input, bounded so a small bomb cannot fill memory."""

from __future__ import annotations

import zlib

from tracelake.errors import DecodeError, PayloadTooLarge


def inflate(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo gzip/deflate without ever holding more than ``limit + 1`` bytes.

    Raises DecodeError for an unknown encoding or corrupt/truncated data, and
    PayloadTooLarge when the body inflates past ``limit``.
    """
    enc = (encoding or "").strip().lower()
    if enc in ("", "identity"):
        if len(body) > limit:
            raise PayloadTooLarge(
                f"body of {len(body)} bytes is over the limit of {limit}: send smaller batches"
            )
        return body
    if enc not in ("gzip", "x-gzip", "deflate"):
        raise DecodeError(f"unsupported Content-Encoding {encoding!r}: send gzip, deflate or none")
    # deflate is zlib-wrapped per RFC 9110, but some clients send it raw
    wbits = 31 if enc != "deflate" else (15 if body[:1] == b"\x78" else -15)
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as e:
        raise DecodeError(f"body is not valid {enc} data: {e}") from e
    if len(out) > limit or inflater.unconsumed_tail:
        raise PayloadTooLarge(
            f"body inflates past the limit of {limit} bytes: send smaller batches"
        )
    if not inflater.eof:
        raise DecodeError(f"{enc} body is truncated")
    return out
