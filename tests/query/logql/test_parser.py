"""Golden tests of the LogQL parser: text in, syntax tree out; errors in Loki's words."""

from __future__ import annotations

import pytest

from tracelake.query.logql import ast
from tracelake.query.logql.errors import LogQLError, LogQLSyntaxError
from tracelake.query.logql.parser import parse, parse_selector

M = ast.Matcher
MIN = 60 * 10**9


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ('{service="api"}', ast.LogQuery((M("service", "=", "api"),))),
        (
            '{service=~"a|b", level!="debug", env!~"dev.*"}',
            ast.LogQuery(
                (M("service", "=~", "a|b"), M("level", "!=", "debug"), M("env", "!~", "dev.*"))
            ),
        ),
        (
            '{a="b"} |= "x" or "y" != "z" |~ `(?i)err` !~ "ok" |> "<_> 500 <_>" !> "GET <_>"',
            ast.LogQuery(
                (M("a", "=", "b"),),
                (
                    ast.LineFilter("|=", ("x", "y")),
                    ast.LineFilter("!=", ("z",)),
                    ast.LineFilter("|~", ("(?i)err",)),
                    ast.LineFilter("!~", ("ok",)),
                    ast.LineFilter("|>", ("<_> 500 <_>",)),
                    ast.LineFilter("!>", ("GET <_>",)),
                ),
            ),
        ),
        (
            '{a="b"} | json | logfmt --strict --keep-empty x, y="z" | json u="a.b[0]"',
            ast.LogQuery(
                (M("a", "=", "b"),),
                (
                    ast.JsonParser(),
                    ast.LogfmtParser((("x", "x"), ("y", "z")), strict=True, keep_empty=True),
                    ast.JsonParser((("u", "a.b[0]"),)),
                ),
            ),
        ),
        (
            '{a="b"} | pattern "<ip> - <_>" | regexp "(?P<n>\\\\d+)" | unpack | decolorize',
            ast.LogQuery(
                (M("a", "=", "b"),),
                (
                    ast.PatternParser("<ip> - <_>"),
                    ast.RegexpParser("(?P<n>\\d+)"),
                    ast.Unpack(),
                    ast.Decolorize(),
                ),
            ),
        ),
        (
            '{a="b"} | status >= 500 and took > 1.5s, size <= 10KB or path =~ "/api.*"',
            ast.LogQuery(
                (M("a", "=", "b"),),
                (
                    ast.LabelFilter(
                        ast.LabelOr(
                            ast.LabelAnd(
                                ast.LabelAnd(
                                    ast.LabelCompare("status", ">=", 500.0, "number"),
                                    ast.LabelCompare("took", ">", 1.5, "duration"),
                                ),
                                ast.LabelCompare("size", "<=", 10_000.0, "bytes"),
                            ),
                            ast.LabelCompare("path", "=~", "/api.*", "string"),
                        )
                    ),
                ),
            ),
        ),
        (
            '{a="b"} | line_format "{{.msg}}" | label_format x=y, z="{{.q}}" | drop a, b="c" | keep d',
            ast.LogQuery(
                (M("a", "=", "b"),),
                (
                    ast.LineFormat("{{.msg}}"),
                    ast.LabelFormat((("x", "y", False), ("z", "{{.q}}", True))),
                    ast.Drop(("a", M("b", "=", "c"))),
                    ast.Keep(("d",)),
                ),
            ),
        ),
        (
            'sum by (service) (rate({service=~".+"} |= "error" [1m]))',
            ast.VectorAggregation(
                "sum",
                ast.RangeAggregation(
                    "rate",
                    ast.LogQuery((M("service", "=~", ".+"),), (ast.LineFilter("|=", ("error",)),)),
                    MIN,
                ),
                ast.Grouping(False, ("service",)),
            ),
        ),
        (
            'count_over_time({a="b"}[5m] | json offset 1h)',
            ast.RangeAggregation(
                "count_over_time",
                ast.LogQuery((M("a", "=", "b"),), (ast.JsonParser(),)),
                5 * MIN,
                60 * MIN,
            ),
        ),
        (
            'quantile_over_time(0.99, {a="b"} | logfmt | unwrap duration(took) | __error__="" [5m]) by (x)',
            ast.RangeAggregation(
                "quantile_over_time",
                ast.LogQuery((M("a", "=", "b"),), (ast.LogfmtParser(),)),
                5 * MIN,
                unwrap=ast.Unwrap(
                    "took",
                    "duration",
                    (ast.LabelFilter(ast.LabelCompare("__error__", "=", "", "string")),),
                ),
                param=0.99,
                grouping=ast.Grouping(False, ("x",)),
            ),
        ),
        (
            "vector(1)+vector(1)",
            ast.BinaryOp("+", ast.VectorLiteral(1.0), ast.VectorLiteral(1.0)),
        ),
        (
            "1 + 2 * 3 ^ 2 ^ 0.5",
            ast.BinaryOp(
                "+",
                ast.NumberLiteral(1.0),
                ast.BinaryOp(
                    "*",
                    ast.NumberLiteral(2.0),
                    ast.BinaryOp(
                        "^",
                        ast.NumberLiteral(3.0),
                        ast.BinaryOp("^", ast.NumberLiteral(2.0), ast.NumberLiteral(0.5)),
                    ),
                ),
            ),
        ),
        (
            'topk(2, sum without (host) (count_over_time({a="b"}[1m]))) > bool on (service) group_left (x) vector(3)',
            ast.BinaryOp(
                ">",
                ast.VectorAggregation(
                    "topk",
                    ast.VectorAggregation(
                        "sum",
                        ast.RangeAggregation(
                            "count_over_time", ast.LogQuery((M("a", "=", "b"),)), MIN
                        ),
                        ast.Grouping(True, ("host",)),
                    ),
                    param=2.0,
                ),
                ast.VectorLiteral(3.0),
                bool_modifier=True,
                matching=ast.VectorMatching(True, ("service",), "left", ("x",)),
            ),
        ),
    ],
)
def test_parses_to_the_tree(text: str, tree: ast.Query) -> None:
    """Each construct of the supported grammar parses to its node."""
    assert parse(text) == tree


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{service="api"', "parse error at line 1, col 15: syntax error: unexpected end of query"),
        ('{a=~".*"}', "at least one regexp or equality matcher"),
        ("{}", "at least one regexp or equality matcher"),
        ('rate({a="b"})', "expected a range such as [5m]"),
        ('sum_over_time({a="b"}[1m])', "invalid aggregation sum_over_time without unwrap"),
        ('rate({a="b"} | unwrap x [1m])', "invalid aggregation rate with unwrap"),
        ('{a="b"} | unwrap x', "unwrap belongs inside a range aggregation"),
        ('{a="b"} + 1', "a log query cannot be an operand"),
        ('{a="b"} | status > "x"', "compares numbers"),
        ('foo({a="b"})', "not a LogQL function"),
        ('{a="b"}\n  |= 3', "parse error at line 2, col 6"),
    ],
)
def test_syntax_errors_say_where_as_loki_does(text: str, message: str) -> None:
    """A query that does not parse is refused with Loki's ``line, col`` wording."""
    with pytest.raises(LogQLSyntaxError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse(text)


def test_ip_filters_are_refused_by_name() -> None:
    """What is not supported is named in the refusal, not reported as a syntax error."""
    with pytest.raises(LogQLError, match=r"not supported.*ip\(\)"):
        parse('{a="b"} |= ip("10.0.0.0/8")')


def test_a_bare_selector_parses_for_the_series_api() -> None:
    """``match[]`` takes a selector alone; anything after it is an error."""
    assert parse_selector('{a="b", c!="d"}') == (M("a", "=", "b"), M("c", "!=", "d"))
    with pytest.raises(LogQLSyntaxError):
        parse_selector('{a="b"} |= "x"')


def test_strings_take_go_escapes_and_raw_strings() -> None:
    """Double-quoted strings resolve Go's escapes; backquoted ones are raw."""
    tree = parse('{a="t\\tq\\"\\u00e9"} |= `\\d`')
    assert isinstance(tree, ast.LogQuery)
    assert tree.matchers[0].value == 't\tq"é'
    assert tree.stages == (ast.LineFilter("|=", ("\\d",)),)
