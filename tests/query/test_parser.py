"""The parser: precedence, field terms, pipes, and syntax errors that point at a column."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tracelake.errors import QueryError, QuerySyntaxError
from tracelake.query import ast, compile_query, parse


def v(text: str, column: int, *, quoted: bool = False, wild: tuple[int, ...] = ()) -> ast.Value:
    return ast.Value(text, column, quoted, frozenset(wild))


def words(*pairs: tuple[str, int]) -> tuple[ast.Expr, ...]:
    return tuple(ast.Text(v(t, c)) for t, c in pairs)


# --- filter ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "*", "| limit 5"])
def test_empty_query_and_bare_star_match_everything(text: str) -> None:
    assert parse(text).filter == ast.MatchAll()


def test_juxtaposed_terms_are_an_implicit_and() -> None:
    assert parse("a b").filter == ast.And(words(("a", 1), ("b", 3)))


def test_and_binds_tighter_than_or() -> None:
    a, b, c, d = words(("a", 1), ("b", 6), ("c", 8), ("d", 13))
    assert parse("a OR b c OR d").filter == ast.Or((a, ast.And((b, c)), d))


def test_not_binds_tighter_than_and() -> None:
    a, b = words(("a", 5), ("b", 11))
    assert parse("NOT a AND b").filter == ast.And((ast.Not(a), b))


def test_dash_is_not_and_applies_to_groups() -> None:
    a, b = words(("a", 3), ("b", 8))
    assert parse("-(a OR b)").filter == ast.Not(ast.Or((a, b)))


def test_parentheses_override_precedence() -> None:
    a, b, c = words(("a", 2), ("b", 7), ("c", 10))
    assert parse("(a OR b) c").filter == ast.And((ast.Or((a, b)), c))


def test_nested_same_operator_is_flattened() -> None:
    a, b, c = words(("a", 1), ("b", 4), ("c", 6))
    assert parse("a (b c)").filter == ast.And((a, b, c))


def test_phrase_is_a_quoted_text_term() -> None:
    assert parse('"disk full"').filter == ast.Text(v("disk full", 1, quoted=True))


def test_field_value_and_wildcard_value() -> None:
    assert parse("service:api*").filter == ast.Match("service", v("api*", 9, wild=(3,)), 1)


def test_field_star_is_existence_but_quoted_star_is_a_literal() -> None:
    assert parse("trace_id:*").filter == ast.Exists("trace_id", 1)
    assert parse('x:"*"').filter == ast.Match("x", v("*", 3, quoted=True), 1)


def test_comparison_term() -> None:
    assert parse("latency_ms:>=500").filter == ast.Compare("latency_ms", ">=", v("500", 14), 1)


def test_field_group_binds_its_words_to_the_field() -> None:
    assert parse("level:(error OR NOT warn)").filter == ast.Or(
        (
            ast.Match("level", v("error", 8), 1),
            ast.Not(ast.Match("level", v("warn", 21), 1)),
        )
    )


# --- pipes -------------------------------------------------------------------------


def test_stats_with_aggregates_alias_and_group_keys() -> None:
    q = parse("| stats count(), avg(latency_ms) as avg_ms, COUNT(*) by service, bin(5m)")
    assert q.pipes == (
        ast.Stats(
            aggregates=(
                ast.Aggregate("count", None, None, 9),
                ast.Aggregate("avg", "latency_ms", "avg_ms", 18),
                ast.Aggregate("count", None, None, 45),
            ),
            by=(ast.FieldRef("service", 57), ast.Bin(5, "m", 66)),
            column=3,
        ),
    )
    stats = q.pipes[0]
    assert isinstance(stats, ast.Stats)
    assert [a.name for a in stats.aggregates] == ["count()", "avg_ms", "count()"]
    assert stats.by[1].name == "bin(5m)"


def test_sort_keys_with_signs_commas_and_stats_columns() -> None:
    (sort,) = parse("| sort -timestamp, +service level -count(*) p95(x)").pipes
    assert isinstance(sort, ast.Sort)
    assert [(k.name, k.descending) for k in sort.keys] == [
        ("timestamp", True),
        ("service", False),
        ("level", False),
        ("count()", True),
        ("p95(x)", False),
    ]


def test_fields_with_commas_or_spaces_and_limit() -> None:
    q = parse("x | fields timestamp, http.status message | limit 20")
    assert q.pipes == (
        ast.Fields(
            (
                ast.FieldRef("timestamp", 12),
                ast.FieldRef("http.status", 23),
                ast.FieldRef("message", 35),
            ),
            5,
        ),
        ast.Limit(20, 45),
    )


def test_pipe_and_function_names_are_case_insensitive() -> None:
    (stats,) = parse("| STATS Max(a)").pipes
    assert isinstance(stats, ast.Stats)
    assert stats.aggregates[0].func == "max"


# --- errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "expected"),
    [
        ("a (b OR c", 10, "expected ')' to close '(' opened at column 3"),
        ("a (b", 5, "found end of query"),
        ("(a (b) c", 9, "opened at column 1"),
        ("a b)", 4, "unexpected ')' with no matching '('"),
        ("()", 2, "expected a search term inside '( )'"),
        ("a OR", 5, "expected a search term after 'OR'"),
        ("a AND OR b", 7, "expected a search term after 'AND', found 'OR'"),
        ("NOT", 4, "expected a search term after 'NOT'"),
        ("OR a", 1, "expected a search term here, found 'OR'"),
        ("level: x", 7, "expected a value after 'level:', found a space"),
        ("level:", 7, "expected a value after 'level:', found end of query"),
        ("(level:)", 8, "expected a value after 'level:', found ')'"),
        ("latency_ms:> 5", 13, "expected a value after 'latency_ms:>'"),
        ("latency_ms:>(5)", 13, "expected a value after 'latency_ms:>', found '('"),
        ("level:()", 8, "expected a value for 'level:' inside '( )'"),
        ("level:(a b:c)", 10, "fields cannot be nested"),
        ("level:(a", 9, "expected ')' to close '(' opened at column 7"),
        ('x "y', 5, "expected '\"' to close the string opened at column 3"),
        ("x |", 4, "expected a pipe name (fields, limit, sort, stats) after '|'"),
        ("x | stats", 10, "expected an aggregate such as count() or avg(field) after 'stats'"),
        ("x | stats count", 16, "expected '(' after 'count'"),
        ("x | stats 5", 11, "expected an aggregate"),
        ("x | stats count(", 17, "expected ')' to close '(' opened at column 16"),
        ("x | stats avg()", 15, "expected a field name inside avg( )"),
        ("x | stats count(), ", 20, "after ','"),
        ("x | stats count() by", 21, "expected a field name or bin(...) after 'by'"),
        ("x | stats count() by bin(5w)", 26, "expected a bin width such as 30s, 5m, 1h or 1d"),
        ("x | stats count() by bin(0m)", 26, "bin width"),
        ("x | stats count() as", 21, "expected a field name after 'as'"),
        ("x | sort", 9, "expected a field or stats column to sort by"),
        ("x | sort 9lives", 10, "expected a field or stats column"),
        ("x | fields", 11, "expected a field name after 'fields'"),
        ("x | limit", 10, "expected a positive integer after 'limit'"),
        ("x | limit 0", 11, "expected a positive integer"),
        ("x | limit -5", 11, "expected a positive integer"),
        ("x | limit 5 6", 13, "expected '|' or end of query"),
        ("x | stats count() service", 19, "expected '|' or end of query"),
    ],
)
def test_syntax_error_reports_column_and_what_was_expected(
    text: str, column: int, expected: str
) -> None:
    with pytest.raises(QuerySyntaxError) as exc:
        parse(text)
    assert exc.value.column == column, exc.value.message
    assert expected in exc.value.message
    assert exc.value.message.endswith(f"at column {column}")
    assert exc.value.query == text


def test_syntax_error_caret_points_at_the_offending_token() -> None:
    with pytest.raises(QuerySyntaxError) as exc:
        parse("a (b")
    assert exc.value.caret() == "a (b\n    ^"


def test_unknown_pipe_is_a_query_error_listing_the_known_pipes() -> None:
    with pytest.raises(QueryError) as exc:
        parse("x | grep foo")
    assert not isinstance(exc.value, QuerySyntaxError)
    assert "unknown pipe 'grep' at column 5" in exc.value.message
    assert "fields, limit, sort, stats" in exc.value.message


def test_unknown_function_is_a_query_error_listing_the_known_functions() -> None:
    with pytest.raises(QueryError) as exc:
        parse("| stats median(x)")
    assert "unknown function 'median' at column 9" in exc.value.message
    assert "count, count_distinct, avg, min, max, sum, p50, p90, p95, p99" in exc.value.message


DEEP = 100  # bounds.MAX_DEPTH, written out: the limit is part of the contract

#: Each shape at n levels (n even), and the column of the token that opens level 101.
SHAPES = {
    "parentheses": (lambda n: "(" * n + "a" + ")" * n, 101),
    "NOTs": (lambda n: "NOT " * n + "a", 401),
    "dashes": (lambda n: "-" * n + "a", 101),
    "NOT (": (lambda n: "NOT (" * (n // 2) + "a" + ")" * (n // 2), 251),
    "a field's group": (lambda n: "message:" + "(" * n + "a" + ")" * n, 109),
    "OR and AND groups": (lambda n: "(a OR (b AND " * (n // 2) + "c" + "))" * (n // 2), 651),
}


@pytest.mark.parametrize(("shape", "column"), SHAPES.values(), ids=SHAPES.keys())
def test_a_query_may_nest_100_levels_and_no_more(shape: Callable[[int], str], column: int) -> None:
    """Parentheses and NOT/- each nest one level (the parser and the compiler recurse once
    a level): 100 levels compile; past them — even 3,000 deep — the query is a one-line
    syntax error at the token one level too many, never a RecursionError."""
    assert compile_query(shape(DEEP)).sql
    for depth in (DEEP + 2, 3000):
        with pytest.raises(QuerySyntaxError) as exc:
            parse(shape(depth))
        assert exc.value.message.startswith(f"query nests deeper than {DEEP} levels: ")
        assert exc.value.column == column and "\n" not in exc.value.message
