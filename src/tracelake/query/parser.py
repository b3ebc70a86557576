"""Hand-written recursive-descent parser: tokens to the tree in ``ast.py``.

Grammar (docs/query-language.md has the user-facing version)::

    query    := [or] ('|' pipe)* EOF
    or       := and ('OR' and)*
    and      := unary (['AND'] unary)*          # juxtaposition is AND
    unary    := ('NOT' | '-') unary | primary
    primary  := '(' or ')' | WORD | STRING
              | FIELD ( '*' | CMP value | value | '(' or ')' )
    pipe     := 'stats' agg (',' agg)* ['by' key (',' key)*]
              | 'sort' ['+'|'-'] name (','? ['+'|'-'] name)*
              | 'fields' field (','? field)*
              | 'limit' INT

Recursive descent gives precise, friendly errors (the column of the offending token
and what was expected there), which is most of what a search box needs from a parser.
Inside ``field:( ... )`` the same rules apply with bare words bound to that field.
Each ``(`` and each ``NOT``/``-`` is one level of recursion, here and in the compiler,
so past ``bounds.MAX_DEPTH`` levels the query is refused with a syntax error.
"""

from __future__ import annotations

import re
from typing import cast

from tracelake.errors import QueryError, QuerySyntaxError
from tracelake.query import ast
from tracelake.query.bounds import MAX_DEPTH, too_deep
from tracelake.query.lexer import FIELD_RE, Kind, Token, tokenize

#: Pipes, and the aggregate functions ``stats`` knows, for error messages and checks.
PIPES: tuple[str, ...] = ("fields", "limit", "sort", "stats")
AGGREGATES: tuple[str, ...] = (
    "count",
    "count_distinct",
    "avg",
    "min",
    "max",
    "sum",
    "p50",
    "p90",
    "p95",
    "p99",
)
_BIN_RE = re.compile(r"([1-9][0-9]{0,5})([smhd])")
_INT_RE = re.compile(r"[1-9][0-9]{0,17}")
_CAN_START_UNARY = frozenset(
    {Kind.WORD, Kind.STRING, Kind.FIELD, Kind.LPAREN, Kind.MINUS, Kind.NOT}
)


def parse(query: str) -> ast.Query:
    """Parse ``query``; raises QuerySyntaxError (with a column) or QueryError."""
    return _Parser(query).query()


class _Parser:
    def __init__(self, query: str) -> None:
        self.src = query
        self.tokens = tokenize(query)
        self.i = 0
        self.depth = 0

    # --- helpers ------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self) -> Token:
        """The token after the current one (EOF at the end)."""
        return self.tokens[min(self.i + 1, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind is not Kind.EOF:
            self.i += 1
        return tok

    def accept(self, kind: Kind) -> Token | None:
        return self.advance() if self.tok.kind is kind else None

    def error(self, message: str, tok: Token | None = None) -> QuerySyntaxError:
        tok = tok or self.tok
        return QuerySyntaxError(f"{message}, found {tok.describe()}", tok.column, self.src)

    def enter(self, tok: Token) -> None:
        """One level deeper, at ``tok``; refused past ``MAX_DEPTH``."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QuerySyntaxError(
                too_deep("remove parentheses or NOTs (a OR b OR c needs none)"),
                tok.column,
                self.src,
            )

    def close_paren(self, opener: Token) -> None:
        if self.accept(Kind.RPAREN) is None:
            raise self.error(f"expected ')' to close '(' opened at column {opener.column}")

    # --- filter -------------------------------------------------------------------

    def query(self) -> ast.Query:
        expr: ast.Expr = ast.MatchAll()
        if self.tok.kind not in (Kind.EOF, Kind.PIPE):
            expr = self.or_expr(None)
        if self.tok.kind is Kind.RPAREN:
            raise QuerySyntaxError("unexpected ')' with no matching '('", self.tok.column, self.src)
        if self.tok.kind not in (Kind.EOF, Kind.PIPE):  # pragma: no cover - defensive
            raise self.error("expected a search term, '|' or end of query")
        pipes: list[ast.Pipe] = []
        while self.accept(Kind.PIPE) is not None:
            pipes.append(self.pipe())
        if self.tok.kind is not Kind.EOF:
            raise self.error("expected '|' or end of query")
        return ast.Query(expr, tuple(pipes))

    def or_expr(self, field: Token | None) -> ast.Expr:
        items = [self.and_expr(field)]
        while (op := self.accept(Kind.OR)) is not None:
            items.append(self.and_expr(field, after=op))
        return items[0] if len(items) == 1 else ast.Or(_flatten(items, ast.Or))

    def and_expr(self, field: Token | None, after: Token | None = None) -> ast.Expr:
        items = [self.unary(field, after)]
        while True:
            if (op := self.accept(Kind.AND)) is not None:
                items.append(self.unary(field, op))
            elif self.tok.kind in _CAN_START_UNARY:
                items.append(self.unary(field, None))
            else:
                break
        return items[0] if len(items) == 1 else ast.And(_flatten(items, ast.And))

    def unary(self, field: Token | None, after: Token | None) -> ast.Expr:
        if self.tok.kind in (Kind.NOT, Kind.MINUS):
            op = self.advance()
            self.enter(op)
            inner = self.unary(field, op)
            self.depth -= 1
            return ast.Not(inner)
        return self.primary(field, after)

    def primary(self, field: Token | None, after: Token | None) -> ast.Expr:
        tok = self.tok
        if tok.kind is Kind.LPAREN:
            self.advance()
            self.enter(tok)
            inner = self.or_expr(field) if self.tok.kind is not Kind.RPAREN else None
            if inner is None:
                raise self.error("expected a search term inside '( )'")
            self.close_paren(tok)
            self.depth -= 1
            return inner
        if tok.kind in (Kind.WORD, Kind.STRING):
            self.advance()
            value = _value(tok)
            if field is not None:
                if value.is_star:
                    return ast.Exists(field.text, field.column)
                return ast.Match(field.text, value, field.column)
            return ast.MatchAll() if value.is_star else ast.Text(value)
        if tok.kind is Kind.FIELD:
            if field is not None:
                raise self.error(f"expected a value for '{field.text}:' (fields cannot be nested)")
            self.advance()
            return self.field_term(tok)
        what = f"after {after.describe()}" if after is not None else "here"
        raise self.error(f"expected a search term {what}")

    def field_term(self, field: Token) -> ast.Expr:
        name = field.text
        if (cmp := self.accept(Kind.CMP)) is not None:
            tok = self.tok
            if tok.kind not in (Kind.WORD, Kind.STRING):
                raise self.error(f"expected a value after '{name}:{cmp.text}'")
            self.advance()
            op = cast(ast.CompareOp, cmp.text)
            return ast.Compare(name, op, _value(tok), field.column)
        tok = self.tok
        if tok.kind is Kind.LPAREN:
            self.advance()
            if self.tok.kind is Kind.RPAREN:
                raise self.error(f"expected a value for '{name}:' inside '( )'")
            self.enter(tok)
            inner = self.or_expr(field)
            self.close_paren(tok)
            self.depth -= 1
            return inner
        if tok.kind in (Kind.WORD, Kind.STRING):
            self.advance()
            value = _value(tok)
            if value.is_star:
                return ast.Exists(name, field.column)
            return ast.Match(name, value, field.column)
        raise self.error(f"expected a value after '{name}:'")

    # --- pipes --------------------------------------------------------------------

    def pipe(self) -> ast.Pipe:
        tok = self.tok
        if tok.kind is not Kind.WORD:
            raise self.error(f"expected a pipe name ({', '.join(PIPES)}) after '|'")
        name = tok.text.lower()
        if name not in PIPES:
            raise QueryError(
                f"unknown pipe '{tok.text}' at column {tok.column}; known pipes: {', '.join(PIPES)}"
            )
        self.advance()
        if name == "stats":
            return self.stats(tok)
        if name == "sort":
            return self.sort(tok)
        if name == "fields":
            return self.fields(tok)
        return self.limit(tok)

    def field_name(self, context: str) -> ast.FieldRef:
        tok = self.tok
        if tok.kind is not Kind.WORD or not FIELD_RE.fullmatch(tok.text):
            raise self.error(f"expected a field name {context}")
        self.advance()
        return ast.FieldRef(tok.text, tok.column)

    def stats(self, pipe: Token) -> ast.Stats:
        aggregates = [self.aggregate("after 'stats'")]
        while self.accept(Kind.COMMA) is not None:
            aggregates.append(self.aggregate("after ','"))
        by: list[ast.GroupKey] = []
        if self.tok.kind is Kind.WORD and self.tok.text.lower() == "by":
            self.advance()
            by.append(self.group_key())
            while self.accept(Kind.COMMA) is not None:
                by.append(self.group_key())
        return ast.Stats(tuple(aggregates), tuple(by), pipe.column)

    def aggregate(self, context: str) -> ast.Aggregate:
        tok = self.tok
        func = tok.text.lower()
        has_paren = self.peek().kind is Kind.LPAREN
        if tok.kind is not Kind.WORD or (func not in AGGREGATES and not has_paren):
            raise self.error(f"expected an aggregate such as count() or avg(field) {context}")
        if func not in AGGREGATES:
            raise QueryError(
                f"unknown function '{tok.text}' at column {tok.column}; "
                f"known functions: {', '.join(AGGREGATES)}"
            )
        self.advance()
        if not has_paren:
            raise self.error(f"expected '(' after '{tok.text}'")
        opener = self.advance()
        field: str | None = None
        if func != "count" or (self.tok.kind is Kind.WORD and self.tok.text != "*"):
            field = self.field_name(f"inside {func}( )").field
        elif self.tok.text == "*":
            self.advance()
        self.close_paren(opener)
        alias: str | None = None
        if self.tok.kind is Kind.WORD and self.tok.text.lower() == "as":
            self.advance()
            alias = self.field_name("after 'as'").field
        return ast.Aggregate(func, field, alias, tok.column)

    def group_key(self) -> ast.GroupKey:
        tok = self.tok
        if tok.kind is Kind.WORD and tok.text.lower() == "bin" and self.peek().kind is Kind.LPAREN:
            self.advance()
            opener = self.advance()
            width = self.tok
            m = _BIN_RE.fullmatch(width.text) if width.kind is Kind.WORD else None
            if m is None:
                raise self.error("expected a bin width such as 30s, 5m, 1h or 1d")
            self.advance()
            self.close_paren(opener)
            unit = cast(ast.BinUnit, m.group(2))
            return ast.Bin(int(m.group(1)), unit, tok.column)
        return self.field_name("or bin(...) after 'by'")

    def sort(self, pipe: Token) -> ast.Sort:
        keys = [self.sort_key()]
        while True:
            comma = self.accept(Kind.COMMA) is not None
            if not (comma or self.tok.kind in (Kind.WORD, Kind.MINUS, Kind.PLUS)):
                break
            keys.append(self.sort_key())
        return ast.Sort(tuple(keys), pipe.column)

    def sort_key(self) -> ast.SortKey:
        sign = self.accept(Kind.MINUS) or self.accept(Kind.PLUS)
        tok = self.tok
        if tok.kind is not Kind.WORD:
            raise self.error("expected a field or stats column to sort by")
        self.advance()
        name = tok.text
        if (opener := self.accept(Kind.LPAREN)) is not None:
            arg = ""
            if self.tok.kind is Kind.WORD:
                arg = self.advance().text
            self.close_paren(opener)
            arg = "" if arg == "*" else arg
            name = f"{name.lower()}({arg})"
        elif not FIELD_RE.fullmatch(name):
            raise self.error("expected a field or stats column to sort by", tok)
        descending = sign is not None and sign.kind is Kind.MINUS
        return ast.SortKey(name, descending, (sign or tok).column)

    def fields(self, pipe: Token) -> ast.Fields:
        refs = [self.field_name("after 'fields'")]
        while True:
            if self.accept(Kind.COMMA) is not None:
                refs.append(self.field_name("after ','"))
            elif self.tok.kind is Kind.WORD:
                refs.append(self.field_name("after 'fields'"))
            else:
                break
        return ast.Fields(tuple(refs), pipe.column)

    def limit(self, pipe: Token) -> ast.Limit:
        tok = self.tok
        if tok.kind is not Kind.WORD or not _INT_RE.fullmatch(tok.text):
            raise self.error("expected a positive integer after 'limit'")
        self.advance()
        return ast.Limit(int(tok.text), pipe.column)


def _value(tok: Token) -> ast.Value:
    return ast.Value(tok.text, tok.column, tok.kind is Kind.STRING, tok.wildcards)


def _flatten(items: list[ast.Expr], kind: type[ast.And] | type[ast.Or]) -> tuple[ast.Expr, ...]:
    """``a AND (b AND c)`` is ``a AND b AND c``: one n-ary node reads better as SQL."""
    out: list[ast.Expr] = []
    for item in items:
        if isinstance(item, kind):
            out.extend(item.items)
        else:
            out.append(item)
    return tuple(out)
