"""Tokens of LogQL.

One mode, unlike the search language: LogQL is a strict expression language. Numbers
with a unit are read whole (``5m`` a duration, ``10KB`` a size) because label filters
compare against them; strings are Go's: ``"..."`` with backslash escapes or
`` `raw` ``. Every token records its offset for errors in Loki's
``parse error at line L, col C`` form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from tracelake.query.logql.errors import LogQLSyntaxError


class Kind(Enum):
    IDENT = "identifier"
    STRING = "string"
    NUMBER = "number"
    DURATION = "duration"
    BYTES = "bytes"
    FLAG = "flag"  # --strict
    OP = "operator"
    EOF = "end of query"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str  # the value, escapes resolved
    index: int  # 0-based offset in the query

    def describe(self) -> str:
        if self.kind is Kind.EOF:
            return "end of query"
        if self.kind is Kind.STRING:
            return f"string {self.text!r}"
        return f"{self.kind.value} {self.text!r}"


_DURATION_UNIT = r"(?:ns|us|µs|ms|s|m|h|d|w|y)"
_DURATION = re.compile(rf"(?:\d+(?:\.\d+)?{_DURATION_UNIT})+(?![A-Za-z0-9_])")
_BYTES = re.compile(r"\d+(?:\.\d+)?(?:[kmgtpe]i?b|b|[kmgtpe]i?)(?![A-Za-z0-9_])", re.IGNORECASE)
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FLAG = re.compile(r"--[a-z][a-z-]*")
#: Longest first, so ``|=`` is never read as ``|`` then ``=``.
_OPS = (
    "|=", "|~", "|>", "!=", "!~", "!>", "=~", "==", ">=", "<=",
    "=", ">", "<", "|", "{", "}", "(", ")", "[", "]", ",", "+", "-", "*", "/", "%", "^",
)  # fmt: skip
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def tokenize(src: str) -> list[Token]:
    """The tokens of ``src``, ending with one EOF token."""
    tokens: list[Token] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c.isspace():
            i += 1
        elif c == "#":  # a comment runs to the end of the line
            end = src.find("\n", i)
            i = n if end < 0 else end
        elif c == '"':
            text, i2 = _string(src, i)
            tokens.append(Token(Kind.STRING, text, i))
            i = i2
        elif c == "`":
            end = src.find("`", i + 1)
            if end < 0:
                raise LogQLSyntaxError("syntax error: unterminated raw string", src, i)
            tokens.append(Token(Kind.STRING, src[i + 1 : end], i))
            i = end + 1
        elif c.isdigit() or (c == "." and i + 1 < n and src[i + 1].isdigit()):
            for kind, pattern in (
                (Kind.DURATION, _DURATION),
                (Kind.BYTES, _BYTES),
                (Kind.NUMBER, _NUMBER),
            ):
                m = pattern.match(src, i)
                if m:
                    tokens.append(Token(kind, m.group(), i))
                    i = m.end()
                    break
        elif (m := _IDENT.match(src, i)) is not None:
            tokens.append(Token(Kind.IDENT, m.group(), i))
            i = m.end()
        elif (m := _FLAG.match(src, i)) is not None:
            tokens.append(Token(Kind.FLAG, m.group(), i))
            i = m.end()
        else:
            for op in _OPS:
                if src.startswith(op, i):
                    tokens.append(Token(Kind.OP, op, i))
                    i += len(op)
                    break
            else:
                raise LogQLSyntaxError(f"syntax error: unexpected character {c!r}", src, i)
    tokens.append(Token(Kind.EOF, "", n))
    return tokens


def _string(src: str, start: int) -> tuple[str, int]:
    """A double-quoted Go string from ``start``; returns its value and the index after."""
    out: list[str] = []
    i = start + 1
    while i < len(src):
        c = src[i]
        if c == '"':
            return "".join(out), i + 1
        if c == "\\" and i + 1 < len(src):
            e = src[i + 1]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
                i += 2
            elif e in "xuU":
                width = {"x": 2, "u": 4, "U": 8}[e]
                digits = src[i + 2 : i + 2 + width]
                if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                    raise LogQLSyntaxError(f"syntax error: invalid escape \\{e}", src, i)
                out.append(chr(int(digits, 16)))
                i += 2 + width
            elif e in "01234567":
                digits = src[i + 1 : i + 4]
                if len(digits) != 3 or not all(d in "01234567" for d in digits):
                    raise LogQLSyntaxError("syntax error: invalid octal escape", src, i)
                out.append(chr(int(digits, 8)))
                i += 4
            elif e in "\\\"'":
                out.append(e)
                i += 2
            else:
                raise LogQLSyntaxError(f"syntax error: invalid escape \\{e}", src, i)
        elif c == "\n":
            break
        else:
            out.append(c)
            i += 1
    raise LogQLSyntaxError("syntax error: unterminated string", src, start)
