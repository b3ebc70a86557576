"""Hand-written recursive-descent parser: LogQL text to the tree in ``ast.py``.

Grammar (docs/loki.md has the user-facing list)::

    query      := expr EOF
    expr       := unary (binop [bool] [on|ignoring (..) [group_left|group_right (..)]] unary)*
                  -- precedence climbing: or < and unless < comparisons < + - < * / % < ^
    unary      := ('-'|'+') unary | primary
    primary    := '(' expr ')' | NUMBER | selector stage*
                | rangefn '(' [NUMBER ','] logrange ')' [grouping]
                | vecop [grouping] '(' [NUMBER ','] expr ')' [grouping]
                | 'vector' '(' NUMBER ')' | 'label_replace' '(' expr ',' STRING x4 ')'
    logrange   := selector [range] stage* [range] [offset DURATION]
    selector   := '{' [matcher (',' matcher)*] '}'
    stage      := lineop STRING ('or' STRING)* | '|' parser_or_filter

A log query is legal only at the top; a metric query nests. Each ``(`` is one level of
recursion, refused past ``bounds.MAX_DEPTH``.
"""

from __future__ import annotations

import re
from typing import cast

from tracelake.query.bounds import MAX_DEPTH, too_deep
from tracelake.query.logql import ast
from tracelake.query.logql.errors import LogQLSyntaxError, unsupported
from tracelake.query.logql.lexer import Kind, Token, tokenize
from tracelake.query.logql.units import bytes_value, duration_ns

RANGE_FUNCTIONS = frozenset(
    {
        "count_over_time",
        "rate",
        "bytes_over_time",
        "bytes_rate",
        "absent_over_time",
        "sum_over_time",
        "avg_over_time",
        "min_over_time",
        "max_over_time",
        "stdvar_over_time",
        "stddev_over_time",
        "quantile_over_time",
        "first_over_time",
        "last_over_time",
        "rate_counter",
    }
)
#: Range functions over the lines themselves; the others need ``| unwrap``.
LINE_FUNCTIONS = frozenset(
    {"count_over_time", "rate", "bytes_over_time", "bytes_rate", "absent_over_time"}
)
VECTOR_OPS = frozenset(
    {
        "sum",
        "avg",
        "min",
        "max",
        "stddev",
        "stdvar",
        "count",
        "topk",
        "bottomk",
        "sort",
        "sort_desc",
    }
)
_PRECEDENCE = {
    "or": 1,
    "and": 2,
    "unless": 2,
    "==": 3,
    "!=": 3,
    ">": 3,
    ">=": 3,
    "<": 3,
    "<=": 3,
    "+": 4,
    "-": 4,
    "*": 5,
    "/": 5,
    "%": 5,
    "^": 6,
}
_LINE_OPS = frozenset({"|=", "!=", "|~", "!~", "|>", "!>"})
_MATCH_OPS = frozenset({"=", "!=", "=~", "!~"})
_COMPARE_OPS = frozenset({"==", "=", "!=", "=~", "!~", ">", ">=", "<", "<="})
_PARSER_STAGES = frozenset(
    {"json", "logfmt", "pattern", "regexp", "unpack", "line_format", "label_format", "drop",
     "keep", "decolorize", "unwrap"}
)  # fmt: skip


def parse(src: str) -> ast.Query:
    """Parse LogQL ``src``; raises LogQLSyntaxError (Loki's wording) or LogQLError."""
    return _Parser(src).query()


def parse_selector(src: str) -> tuple[ast.Matcher, ...]:
    """A bare stream selector, as ``match[]`` of the series API takes it."""
    p = _Parser(src)
    matchers = p.selector()
    p.expect_eof()
    return matchers


class _Parser:
    def __init__(self, src: str) -> None:
        self.src = src
        self.tokens = tokenize(src)
        self.i = 0
        self.depth = 0

    # --- helpers --------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind is not Kind.EOF:
            self.i += 1
        return tok

    def is_op(self, *texts: str) -> bool:
        return self.tok.kind is Kind.OP and self.tok.text in texts

    def is_word(self, *texts: str) -> bool:
        return self.tok.kind is Kind.IDENT and self.tok.text in texts

    def error(self, expected: str, tok: Token | None = None) -> LogQLSyntaxError:
        tok = tok or self.tok
        return LogQLSyntaxError(
            f"syntax error: unexpected {tok.describe()}, expected {expected}", self.src, tok.index
        )

    def expect_op(self, text: str) -> Token:
        if not self.is_op(text):
            raise self.error(repr(text))
        return self.advance()

    def expect(self, kind: Kind, what: str) -> Token:
        if self.tok.kind is not kind:
            raise self.error(what)
        return self.advance()

    def expect_eof(self) -> None:
        if self.tok.kind is not Kind.EOF:
            raise self.error("end of query")

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise LogQLSyntaxError(too_deep("remove parentheses"), self.src, self.tok.index)

    # --- expressions ----------------------------------------------------------------

    def query(self) -> ast.Query:
        if self.tok.kind is Kind.EOF:
            raise LogQLSyntaxError("syntax error: unexpected end of query", self.src, 0)
        expr = self.expr(0)
        self.expect_eof()
        return expr

    def expr(self, min_prec: int) -> ast.Query:
        left = self.unary()
        while True:
            tok = self.tok
            op = tok.text if tok.kind in (Kind.OP, Kind.IDENT) else ""
            prec = _PRECEDENCE.get(op, 0)
            if prec == 0 or prec < min_prec or (tok.kind is Kind.OP and op in ("and", "or")):
                return left
            self.advance()
            bool_modifier = False
            if self.is_word("bool"):
                self.advance()
                bool_modifier = True
            matching = self.vector_matching()
            right = self.expr(prec + 1 if op != "^" else prec)
            left = ast.BinaryOp(
                op, self.metric(left, tok), self.metric(right, tok), bool_modifier, matching
            )

    def metric(self, expr: ast.Query, tok: Token) -> ast.MetricExpr:
        if isinstance(expr, ast.LogQuery):
            raise LogQLSyntaxError(
                "syntax error: a log query cannot be an operand of a binary operation: "
                "wrap it in a range aggregation such as count_over_time(... [1m])",
                self.src,
                tok.index,
            )
        return expr

    def vector_matching(self) -> ast.VectorMatching | None:
        if not self.is_word("on", "ignoring"):
            return None
        on = self.advance().text == "on"
        labels = self.label_list()
        group: str = ""
        include: tuple[str, ...] = ()
        if self.is_word("group_left", "group_right"):
            group = self.advance().text.removeprefix("group_")
            if self.is_op("("):
                include = self.label_list()
        return ast.VectorMatching(on, labels, cast("ast.GroupSide", group), include)

    def unary(self) -> ast.Query:
        if self.is_op("-", "+"):
            sign = self.advance()
            self.enter()
            operand = self.unary()
            self.depth -= 1
            if isinstance(operand, ast.NumberLiteral):
                return ast.NumberLiteral(-operand.value if sign.text == "-" else operand.value)
            if sign.text == "+":
                return operand
            return ast.BinaryOp("*", self.metric(operand, sign), ast.NumberLiteral(-1.0))
        return self.primary()

    def primary(self) -> ast.Query:
        tok = self.tok
        if self.is_op("("):
            self.advance()
            self.enter()
            inner = self.expr(0)
            self.depth -= 1
            self.expect_op(")")
            return inner
        if tok.kind is Kind.NUMBER:
            self.advance()
            return ast.NumberLiteral(_number(tok.text))
        if self.is_op("{"):
            return self.log_query()
        if tok.kind is Kind.IDENT:
            name = tok.text
            if name in RANGE_FUNCTIONS:
                return self.range_aggregation()
            if name in VECTOR_OPS:
                return self.vector_aggregation()
            if name == "vector":
                self.advance()
                self.expect_op("(")
                value = self.signed_number()
                self.expect_op(")")
                return ast.VectorLiteral(value)
            if name == "label_replace":
                return self.label_replace()
            raise LogQLSyntaxError(
                f"syntax error: unexpected identifier {name!r}: not a LogQL function",
                self.src,
                tok.index,
            )
        raise self.error("a stream selector, a function or a number")

    def signed_number(self) -> float:
        sign = -1.0 if self.is_op("-") else 1.0
        if self.is_op("-", "+"):
            self.advance()
        return sign * _number(self.expect(Kind.NUMBER, "a number").text)

    def label_list(self) -> tuple[str, ...]:
        self.expect_op("(")
        names: list[str] = []
        while not self.is_op(")"):
            names.append(self.expect(Kind.IDENT, "a label name").text)
            if not self.is_op(","):
                break
            self.advance()
        self.expect_op(")")
        return tuple(names)

    def grouping(self) -> ast.Grouping | None:
        if not self.is_word("by", "without"):
            return None
        without = self.advance().text == "without"
        return ast.Grouping(without, self.label_list())

    def range_aggregation(self) -> ast.RangeAggregation:
        func = self.advance().text
        self.expect_op("(")
        self.enter()
        param = None
        if func == "quantile_over_time":
            param = self.signed_number()
            self.expect_op(",")
        if not self.is_op("{"):
            raise self.error(f"a stream selector inside {func}()")
        matchers = self.selector()
        range_ns = self.range() if self.is_op("[") else None
        stages, unwrap = self.stages(allow_unwrap=True)
        if range_ns is None:
            if not self.is_op("["):
                raise self.error(f"a range such as [5m] inside {func}()")
            range_ns = self.range()
        offset = 0
        if self.is_word("offset"):
            self.advance()
            offset = self.duration(self.expect(Kind.DURATION, "a duration after offset"))
        self.expect_op(")")
        self.depth -= 1
        grouping = self.grouping()
        if func in LINE_FUNCTIONS and unwrap is not None:
            raise LogQLSyntaxError(
                f"invalid aggregation {func} with unwrap", self.src, self.tok.index
            )
        if func not in LINE_FUNCTIONS and unwrap is None:
            raise LogQLSyntaxError(
                f"invalid aggregation {func} without unwrap", self.src, self.tok.index
            )
        if grouping is not None and func in LINE_FUNCTIONS:
            raise LogQLSyntaxError(
                f"grouping not allowed for {func} aggregation", self.src, self.tok.index
            )
        query = ast.LogQuery(matchers, stages)
        return ast.RangeAggregation(func, query, range_ns, offset, unwrap, param, grouping)

    def range(self) -> int:
        self.expect_op("[")
        ns = self.duration(self.expect(Kind.DURATION, "a duration such as 5m"))
        self.expect_op("]")
        if ns <= 0:
            raise LogQLSyntaxError(
                "syntax error: a range must be positive", self.src, self.tok.index
            )
        return ns

    def duration(self, tok: Token) -> int:
        ns = duration_ns(tok.text)
        if ns is None:
            raise LogQLSyntaxError(
                f"syntax error: invalid duration {tok.text!r}", self.src, tok.index
            )
        return ns

    def vector_aggregation(self) -> ast.VectorAggregation:
        op = self.advance().text
        grouping = self.grouping()
        self.expect_op("(")
        self.enter()
        param = None
        if op in ("topk", "bottomk"):
            param = self.signed_number()
            self.expect_op(",")
        start = self.tok
        inner = self.expr(0)
        self.depth -= 1
        self.expect_op(")")
        if grouping is None:
            grouping = self.grouping()
        if op in ("sort", "sort_desc") and grouping is not None:
            raise LogQLSyntaxError(f"syntax error: {op} takes no grouping", self.src, start.index)
        return ast.VectorAggregation(op, self.metric(inner, start), grouping, param)

    def label_replace(self) -> ast.LabelReplace:
        self.advance()
        self.expect_op("(")
        start = self.tok
        inner = self.metric(self.expr(0), start)
        args: list[str] = []
        for _ in range(4):
            self.expect_op(",")
            args.append(self.expect(Kind.STRING, "a string").text)
        self.expect_op(")")
        return ast.LabelReplace(inner, *args)

    # --- log queries ----------------------------------------------------------------

    def log_query(self) -> ast.LogQuery:
        matchers = self.selector()
        stages, _ = self.stages(allow_unwrap=False)
        if self.is_op("["):
            raise self.error("a range aggregation around a range such as [5m]")
        return ast.LogQuery(matchers, stages)

    def selector(self) -> tuple[ast.Matcher, ...]:
        open_ = self.expect_op("{")
        matchers: list[ast.Matcher] = []
        while not self.is_op("}"):
            matchers.append(self.matcher())
            if not self.is_op(","):
                break
            self.advance()
        self.expect_op("}")
        if not any(_selective(m) for m in matchers):
            raise LogQLSyntaxError(
                "syntax error: queries require at least one regexp or equality matcher that "
                "does not have an empty-compatible value",
                self.src,
                open_.index,
            )
        return tuple(matchers)

    def matcher(self) -> ast.Matcher:
        name = self.expect(Kind.IDENT, "a label name").text
        if self.tok.kind is not Kind.OP or self.tok.text not in _MATCH_OPS:
            raise self.error("one of = != =~ !~")
        op = cast("ast.MatchOp", self.advance().text)
        value = self.expect(Kind.STRING, "a quoted value").text
        return ast.Matcher(name, op, value)

    def stages(self, *, allow_unwrap: bool) -> tuple[tuple[ast.Stage, ...], ast.Unwrap | None]:
        stages: list[ast.Stage] = []
        unwrap: ast.Unwrap | None = None
        while True:
            tok = self.tok
            if tok.kind is Kind.OP and tok.text in _LINE_OPS:
                if unwrap is not None:
                    raise self.error("a label filter after unwrap")
                stages.append(self.line_filter())
            elif self.is_op("|"):
                self.advance()
                if self.is_word("unwrap"):
                    if not allow_unwrap:
                        raise LogQLSyntaxError(
                            "syntax error: unwrap belongs inside a range aggregation such as "
                            "sum_over_time(... | unwrap x [1m])",
                            self.src,
                            self.tok.index,
                        )
                    if unwrap is not None:
                        raise self.error("one unwrap")
                    unwrap = self.unwrap()
                elif unwrap is not None:
                    if self.is_word(*_PARSER_STAGES):
                        raise self.error("only label filters after unwrap")
                    unwrap = ast.Unwrap(
                        unwrap.label,
                        unwrap.conversion,
                        (*unwrap.filters, ast.LabelFilter(self.label_or())),
                    )
                else:
                    stages.append(self.stage())
            else:
                return tuple(stages), unwrap

    def line_filter(self) -> ast.LineFilter:
        op = cast("ast.LineOp", self.advance().text)
        values = [self.filter_value()]
        while self.is_word("or") and self.peek().kind is Kind.STRING:
            self.advance()
            values.append(self.filter_value())
        return ast.LineFilter(op, tuple(values))

    def filter_value(self) -> str:
        if self.is_word("ip"):
            raise unsupported("the ip() line and label filters")
        return self.expect(Kind.STRING, "a quoted string after a line filter").text

    def stage(self) -> ast.Stage:
        tok = self.tok
        word = tok.text if tok.kind is Kind.IDENT else ""
        # a label filter may name a label called like a stage: `| json="x"` is a filter
        if word in _PARSER_STAGES and not (
            self.peek().kind is Kind.OP and self.peek().text in _COMPARE_OPS
        ):
            self.advance()
            if word == "json":
                return ast.JsonParser(self.extraction_params())
            if word == "logfmt":
                strict = keep_empty = False
                while self.tok.kind is Kind.FLAG:
                    flag = self.advance()
                    if flag.text == "--strict":
                        strict = True
                    elif flag.text == "--keep-empty":
                        keep_empty = True
                    else:
                        raise self.error("--strict or --keep-empty", flag)
                return ast.LogfmtParser(self.extraction_params(), strict, keep_empty)
            if word == "pattern":
                return ast.PatternParser(self.expect(Kind.STRING, "a pattern string").text)
            if word == "regexp":
                return ast.RegexpParser(self.expect(Kind.STRING, "a regular expression").text)
            if word == "unpack":
                return ast.Unpack()
            if word == "decolorize":
                return ast.Decolorize()
            if word == "line_format":
                return ast.LineFormat(self.expect(Kind.STRING, "a template string").text)
            if word == "label_format":
                return ast.LabelFormat(self.label_format_items())
            items = self.drop_keep_items()
            return ast.Drop(items) if word == "drop" else ast.Keep(items)
        if tok.kind is Kind.IDENT or self.is_op("("):
            return ast.LabelFilter(self.label_or())
        raise self.error("a parser, a formatter or a label filter after '|'")

    def extraction_params(self) -> tuple[tuple[str, str], ...]:
        params: list[tuple[str, str]] = []
        while self.tok.kind is Kind.IDENT and not self.is_word("or", "and", "offset"):
            name = self.advance().text
            if self.is_op("="):
                self.advance()
                params.append((name, self.expect(Kind.STRING, "a quoted expression").text))
            else:
                params.append((name, name))
            if not self.is_op(","):
                break
            self.advance()
        return tuple(params)

    def label_format_items(self) -> tuple[tuple[str, str, bool], ...]:
        items: list[tuple[str, str, bool]] = []
        while True:
            dst = self.expect(Kind.IDENT, "a label name").text
            self.expect_op("=")
            if self.tok.kind is Kind.STRING:
                items.append((dst, self.advance().text, True))
            else:
                items.append((dst, self.expect(Kind.IDENT, "a label or a template").text, False))
            if not self.is_op(","):
                return tuple(items)
            self.advance()

    def drop_keep_items(self) -> tuple[ast.Matcher | str, ...]:
        items: list[ast.Matcher | str] = []
        while True:
            if self.peek().kind is Kind.OP and self.peek().text in _MATCH_OPS:
                items.append(self.matcher())
            else:
                items.append(self.expect(Kind.IDENT, "a label name").text)
            if not self.is_op(","):
                return tuple(items)
            self.advance()

    def unwrap(self) -> ast.Unwrap:
        self.advance()
        conversion = ""
        if self.is_word("duration", "duration_seconds", "bytes") and self.peek().text == "(":
            conversion = self.advance().text
            self.expect_op("(")
            label = self.expect(Kind.IDENT, "a label name").text
            self.expect_op(")")
        else:
            label = self.expect(Kind.IDENT, "a label name to unwrap").text
        kind = cast("ast.Conversion", conversion)
        return ast.Unwrap(label, kind)

    # --- label filters ----------------------------------------------------------------

    def label_or(self) -> ast.LabelExpr:
        left = self.label_and()
        while self.is_word("or"):
            self.advance()
            left = ast.LabelOr(left, self.label_and())
        return left

    def label_and(self) -> ast.LabelExpr:
        left = self.label_primary()
        while True:
            if self.is_word("and") or self.is_op(","):
                self.advance()
            elif not (
                self.tok.kind is Kind.IDENT
                and self.peek().kind is Kind.OP
                and self.peek().text in _COMPARE_OPS
                and not self.is_word("or")
            ):
                return left
            left = ast.LabelAnd(left, self.label_primary())

    def label_primary(self) -> ast.LabelExpr:
        if self.is_op("("):
            self.advance()
            self.enter()
            inner = self.label_or()
            self.depth -= 1
            self.expect_op(")")
            return inner
        name = self.expect(Kind.IDENT, "a label name").text
        if self.tok.kind is not Kind.OP or self.tok.text not in _COMPARE_OPS:
            raise self.error("a comparison (= != =~ !~ == > >= < <=)")
        op = cast("ast.CompareOp", self.advance().text)
        tok = self.tok
        if self.is_word("ip"):
            raise unsupported("the ip() line and label filters")
        if tok.kind is Kind.STRING:
            self.advance()
            if op in (">", ">=", "<", "<="):
                raise LogQLSyntaxError(
                    f"syntax error: {op} compares numbers, durations or sizes, not strings",
                    self.src,
                    tok.index,
                )
            return ast.LabelCompare(name, "=" if op == "==" else op, tok.text, "string")
        if op in ("=~", "!~"):
            raise self.error("a quoted regular expression")
        sign = 1.0
        if self.is_op("-"):
            self.advance()
            sign = -1.0
            tok = self.tok
        self.advance()
        if tok.kind is Kind.NUMBER:
            return ast.LabelCompare(name, op, sign * _number(tok.text), "number")
        if tok.kind is Kind.DURATION:
            return ast.LabelCompare(name, op, sign * self.duration(tok) / 1e9, "duration")
        if tok.kind is Kind.BYTES:
            size = bytes_value(tok.text)
            if size is None:  # pragma: no cover - the lexer only makes valid sizes
                raise self.error("a size", tok)
            return ast.LabelCompare(name, op, sign * size, "bytes")
        raise self.error("a string, a number, a duration or a size", tok)


def _selective(m: ast.Matcher) -> bool:
    """Whether a matcher rules out streams without the label (Loki needs one such)."""
    if m.op == "=":
        return m.value != ""
    if m.op == "=~":
        try:
            return re.fullmatch(m.value, "") is None
        except re.error:
            return True  # DuckDB words the error when the query runs
    return False


def _number(text: str) -> float:
    return float(int(text, 16)) if text[:2].lower() == "0x" else float(text)
