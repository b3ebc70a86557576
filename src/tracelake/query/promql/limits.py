"""What PromQL text may hold before the Rust parser sees it: its depth and its ``@`` times.

Why before: ``promql-parser`` overflows its stack (a segfault that ends the server) on
a few thousand nested levels, and panics on an ``@`` before 1970; neither can be caught
after the fact. So one pass over the text, iterative, bounds both.

The depth is an upper bound on the syntax tree's: a group between parentheses (a call,
an aggregation, plain parentheses) is one level more than the deepest group inside it,
plus one level for each operator directly in it (``a + b + c`` is a chain two binary
nodes deep; a unary minus is one), plus one for each ``[…]`` (a range, a subquery).
String literals, ``{…}`` matchers and ``#`` comments are skipped.
"""

from __future__ import annotations

import math
import re

from tracelake.errors import QueryError
from tracelake.query.bounds import EARLIEST_S, LATEST_S, MAX_DEPTH, TIME_RANGE, too_deep

_WORD = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_OPERATOR = re.compile(r"==|!=|>=|<=|[-+*/%^<>]")
_KEYWORD_OPERATORS = frozenset({"and", "or", "unless", "atan2"})
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
#: ``@ 1700000000``, ``@ -5`` (Inf and NaN the parser refuses itself).
_AT_NUMBER = re.compile(rf"\s*([-+]?)\s*({_NUMBER.pattern})")
_QUOTES = "\"'`"
_ADVICE = (
    "parentheses, calls, ranges and chained operators count; "
    "split it into several queries or recording rules"
)


def check_text(query: str) -> None:
    """Refuse, with QueryError, ``query`` nesting past MAX_DEPTH or an ``@`` time out of
    range. Anything else is left for the parser to judge."""
    # one frame per open group: [operators directly in it, deepest group closed in it]
    stack: list[list[int]] = [[0, 0]]
    open_ops = 0  # operators of every open group: each is a level above what comes next
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c in _QUOTES:
            i = _after_string(query, i)
        elif c == "{":
            i = _after_braces(query, i)
        elif c == "#":
            end = query.find("\n", i)
            i = n if end < 0 else end
        elif c in "([":
            if c == "[":  # a range or subquery wraps what it follows: chained, they nest
                stack[-1][0] += 1
                open_ops += 1
            stack.append([0, 0])
            i += 1
        elif c in ")]":
            if len(stack) > 1:
                ops, inner = stack.pop()
                open_ops -= ops
                stack[-1][1] = max(stack[-1][1], ops + inner + 1)
            i += 1
        elif c == "@":
            _check_at(query, i)
            i += 1
        elif (number := _NUMBER.match(query, i)) is not None:
            i = number.end()
        elif (word := _WORD.match(query, i)) is not None:
            if word.group().lower() in _KEYWORD_OPERATORS:
                stack[-1][0] += 1
                open_ops += 1
            i = word.end()
        elif (op := _OPERATOR.match(query, i)) is not None:
            stack[-1][0] += 1
            open_ops += 1
            i = op.end()
        else:
            i += 1
        if len(stack) - 1 + open_ops + stack[-1][1] > MAX_DEPTH:
            raise QueryError(too_deep(f"{_ADVICE} (past character {i})"))
    while len(stack) > 1:  # groups left open: the parser will say so; count them all the same
        ops, inner = stack.pop()
        stack[-1][1] = max(stack[-1][1], ops + inner + 1)
    if stack[0][0] + stack[0][1] > MAX_DEPTH:
        raise QueryError(too_deep(_ADVICE))


def _after_string(query: str, start: int) -> int:
    """The index after the string literal opened at ``start`` (or the end of the text)."""
    quote = query[start]
    i = start + 1
    while i < len(query):
        c = query[i]
        if c == "\\" and quote != "`":
            i += 2
        elif c == quote:
            return i + 1
        else:
            i += 1
    return len(query)


def _after_braces(query: str, start: int) -> int:
    """The index after the ``{…}`` of matchers opened at ``start``."""
    i = start + 1
    while i < len(query):
        c = query[i]
        if c in _QUOTES:
            i = _after_string(query, i)
        elif c == "}":
            return i + 1
        else:
            i += 1
    return len(query)


def _check_at(query: str, at: int) -> None:
    """An ``@ <number>`` must name a time from 1970 to 9999 (``start()``/``end()`` pass)."""
    match = _AT_NUMBER.match(query, at + 1)
    if match is None:
        return
    sign, number = match.groups()
    try:
        value = float(int(number, 16)) if number[:2].lower() == "0x" else float(number)
    except OverflowError:  # a hex number past any float
        value = math.inf
    value = -value if sign == "-" else value
    if not EARLIEST_S <= value <= LATEST_S:
        raise QueryError(
            f"the @ modifier at character {at + 1} names {sign}{number}, outside the accepted "
            f"times: give unix seconds from {EARLIEST_S:.0f} to {LATEST_S:.0f} ({TIME_RANGE})"
        )
