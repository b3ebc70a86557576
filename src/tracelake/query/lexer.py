"""Tokens of the search language.

The filter part of a query is forgiving free text (``GET /api/v1 status:500``), while
the pipes after the first ``|`` are a small, strict command language. One lexer with
two modes keeps both simple: in *search* mode anything that is not whitespace or one
of ``( ) | "`` is part of a word, and a ``name:`` prefix turns it into a field whose
value may itself contain ``:`` (timestamps); in *pipe* mode words are names and
numbers only. Every token records its 1-based column for error messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from tracelake.errors import QuerySyntaxError


class Kind(Enum):
    WORD = "word"  # a bare word (search mode) or name/number (pipe mode)
    STRING = "string"  # a "quoted phrase"
    FIELD = "field"  # ``name:`` (the colon is consumed)
    CMP = "comparison"  # > >= < <= right after a field
    LPAREN = "'('"
    RPAREN = "')'"
    PIPE = "'|'"
    COMMA = "','"
    MINUS = "'-'"
    PLUS = "'+'"
    AND = "AND"
    OR = "OR"
    NOT = "NOT"
    EOF = "end of query"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str  # the value, escapes resolved (the field name for FIELD)
    column: int  # 1-based
    wildcards: frozenset[int] = frozenset()  # indexes of unescaped * and ? in text

    def describe(self) -> str:
        """How to name this token in an error message."""
        if self.kind is Kind.EOF:
            return "end of query"
        if self.kind is Kind.STRING:
            return f'"{self.text}"'
        if self.kind is Kind.FIELD:
            return f"'{self.text}:'"
        return f"'{self.text}'"


#: A field name: starts with a letter, ``_`` or ``@``; dots separate non-empty parts.
FIELD_RE = re.compile(r"[A-Za-z_@][A-Za-z0-9_@-]*(?:\.[A-Za-z0-9_@-]+)*")

_KEYWORDS = {"AND": Kind.AND, "OR": Kind.OR, "NOT": Kind.NOT}
_WORD_STOP = frozenset('()|"')
_PIPE_WORD = re.compile(r"[A-Za-z0-9_.@*-]+")
_PIPE_PUNCT = {
    "(": Kind.LPAREN,
    ")": Kind.RPAREN,
    ",": Kind.COMMA,
    "|": Kind.PIPE,
    "-": Kind.MINUS,
    "+": Kind.PLUS,
}


def tokenize(query: str) -> list[Token]:
    """Split ``query`` into tokens, ending with one EOF token."""
    return _Lexer(query).run()


class _Lexer:
    def __init__(self, query: str) -> None:
        self.src = query
        self.pos = 0
        self.tokens: list[Token] = []

    def error(self, message: str, index: int) -> QuerySyntaxError:
        return QuerySyntaxError(message, index + 1, self.src)

    def emit(self, kind: Kind, text: str, index: int, wild: frozenset[int] = frozenset()) -> None:
        self.tokens.append(Token(kind, text, index + 1, wild))

    def run(self) -> list[Token]:
        self.search_mode()
        self.pipe_mode()
        self.emit(Kind.EOF, "", len(self.src))
        return self.tokens

    # --- search mode --------------------------------------------------------------

    def search_mode(self) -> None:
        src = self.src
        while self.pos < len(src):
            c = src[self.pos]
            if c.isspace():
                self.pos += 1
            elif c == "|":
                return
            elif c == "(":
                self.emit(Kind.LPAREN, c, self.pos)
                self.pos += 1
            elif c == ")":
                self.emit(Kind.RPAREN, c, self.pos)
                self.pos += 1
            elif c == '"':
                self.string()
            elif c == "-" and self._starts_term(self.pos + 1):
                self.emit(Kind.MINUS, c, self.pos)
                self.pos += 1
            else:
                self.term()

    def _starts_term(self, index: int) -> bool:
        return index < len(self.src) and not (self.src[index].isspace() or self.src[index] in ")|")

    def string(self) -> None:
        """A "quoted phrase"; backslash escapes the next character. No wildcards."""
        src, start = self.src, self.pos
        i = start + 1
        out: list[str] = []
        while i < len(src):
            c = src[i]
            if c == "\\" and i + 1 < len(src):
                out.append(src[i + 1])
                i += 2
            elif c == '"':
                self.emit(Kind.STRING, "".join(out), start)
                self.pos = i + 1
                return
            else:
                out.append(c)
                i += 1
        raise self.error(
            f"""expected '"' to close the string opened at column {start + 1}""", len(src)
        )

    def run_of_text(self, *, field_allowed: bool) -> tuple[str, frozenset[int], bool]:
        """Read a bare word from ``self.pos``.

        Returns (text, wildcard indexes, ended_with_field_colon). When
        ``field_allowed``, the first unescaped ``:`` after a valid field name ends the
        word and the caller treats it as ``field:``.
        """
        src = self.src
        out: list[str] = []
        wild: set[int] = set()
        escaped = False
        while self.pos < len(src):
            c = src[self.pos]
            if c.isspace() or c in _WORD_STOP:
                break
            if c == "\\" and self.pos + 1 < len(src):
                out.append(src[self.pos + 1])
                escaped = True
                self.pos += 2
                continue
            if (
                c == ":"
                and field_allowed
                and not escaped
                and not wild
                and FIELD_RE.fullmatch("".join(out))
            ):
                self.pos += 1
                return "".join(out), frozenset(), True
            if c in "*?":
                wild.add(len(out))
            out.append(c)
            self.pos += 1
        return "".join(out), frozenset(wild), False

    def term(self) -> None:
        start = self.pos
        text, wild, is_field = self.run_of_text(field_allowed=True)
        if is_field:
            self.emit(Kind.FIELD, text, start)
            self.field_value()
            return
        keyword = _KEYWORDS.get(text)
        raw = self.src[start : self.pos]
        if keyword is not None and raw == text:
            self.emit(keyword, text, start)
        else:
            self.emit(Kind.WORD, text, start, wild)

    def field_value(self) -> None:
        """What follows ``field:``: an optional comparison, then a word or string.

        A ``(`` is left to the main loop (a group of values for this field). No value
        at all (``level: error``) is an error here, where the space is still visible.
        """
        src = self.src
        after = f"'{self.tokens[-1].text}:"
        for op in (">=", "<=", ">", "<"):
            if src.startswith(op, self.pos):
                self.emit(Kind.CMP, op, self.pos)
                self.pos += len(op)
                after += op
                break
        c = src[self.pos] if self.pos < len(src) else ""
        if c == '"':
            self.string()
        elif c == "(" and self.tokens[-1].kind is Kind.FIELD:
            return
        elif c == "" or c.isspace() or c in "()|":
            found = f"'{c}'" if c.strip() else "end of query" if not c else "a space"
            raise self.error(f"expected a value after {after}', found {found}", self.pos)
        else:
            start = self.pos
            text, wild, _ = self.run_of_text(field_allowed=False)
            self.emit(Kind.WORD, text, start, wild)

    # --- pipe mode ----------------------------------------------------------------

    def pipe_mode(self) -> None:
        src = self.src
        while self.pos < len(src):
            c = src[self.pos]
            if c.isspace():
                self.pos += 1
                continue
            kind = _PIPE_PUNCT.get(c)
            if kind is not None:
                self.emit(kind, c, self.pos)
                self.pos += 1
                continue
            m = _PIPE_WORD.match(src, self.pos)
            if m is None:
                raise self.error(f"unexpected character {c!r} in a pipe", self.pos)
            self.emit(Kind.WORD, m.group(), self.pos)
            self.pos = m.end()
