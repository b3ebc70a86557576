"""What PromQL text may hold before the Rust parser sees it: nesting depth and @ times."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tracelake.errors import QueryError
from tracelake.query.promql import parse

DEEP = 100  # bounds.MAX_DEPTH, written out: the limit is part of the contract

#: Each shape at n levels of the syntax tree.
SHAPES: dict[str, Callable[[int], str]] = {
    "parentheses": lambda n: "(" * n + "up" + ")" * n,
    "aggregations": lambda n: "sum(" * n + "up" + ")" * n,
    "calls": lambda n: "abs(" * n + "up" + ")" * n,
    "unary minus": lambda n: "-" * n + "up",
    "a chain of +": lambda n: "up" + " + up" * n,
    "a chain of or": lambda n: "up" + " or up" * n,
    "a chain of ^": lambda n: "up" + "^up" * n,
    "both halves": lambda n: "sum(" * (n // 2) + "up" + " + up" * (n // 2) + ")" * (n // 2),
}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_a_query_may_nest_100_levels_and_no_more(shape: Callable[[int], str]) -> None:
    """Parentheses, calls and chained operators each add a level: 100 parse; past them the
    query is a one-line QueryError (a 400) before the parser sees it — the Rust parser
    segfaults a few thousand levels down, the evaluator raises RecursionError at ~330."""
    parse(shape(DEEP))
    for depth in (DEEP + 2, 1000):
        with pytest.raises(QueryError) as exc:
            parse(shape(depth))
        assert exc.value.message.startswith(f"query nests deeper than {DEEP} levels: ")
        assert "\n" not in exc.value.message


def test_chained_subqueries_count_a_level_each() -> None:
    """``x[1m:][1m:]…`` nests without parentheses or operators: each range adds a level."""
    with pytest.raises(QueryError, match=f"query nests deeper than {DEEP} levels"):
        parse("up" + "[1m:]" * (DEEP + 1))


@pytest.mark.parametrize(
    "query",
    [
        'sum by (job) (rate(http_requests_total{job=~"(a|b)+", code!="500"}[5m])) '
        "/ on (job) group_left sum(rate(x[5m] offset 1h)) > bool 0.5",
        'rate(l_bucket{le=~"' + "(" * 150 + ")" * 150 + '"}[5m])',
        'label_replace(up, "dst", "$1", "job", "' + "(" * 300 + ")" * 300 + '")',
        "up # a comment with ((((((((((((( and + + + + + + + + + + + + + + + + +\n + 1",
        "1e-5 - -2.5e+3 * 0x1f",
    ],
)
def test_strings_matchers_and_comments_do_not_count(query: str) -> None:
    """What a person writes passes whatever its strings, matchers and comments hold; the
    same query inside 100 parentheses more is one level too many."""
    parse(query)
    with pytest.raises(QueryError, match="query nests deeper than"):
        parse("(" * DEEP + query + ")" * DEEP)


def test_an_at_modifier_must_name_a_time_from_1970_to_9999() -> None:
    """The parser panics on an @ before 1970 and overflows past 9999: such a time is a
    QueryError naming the accepted range; every time inside it, and start()/end(), pass."""
    for query in ("up @ 0", "up @ 253402300799", "up @ start()", "up @ end()"):
        parse(query)
    parse(f"up @ {time.time():.3f}")
    for query in (
        "up @ -1",
        "up @ - 5",
        "up @ 1e15",
        "up[5m] @ 99999999999999",
        "up @ 0x7fff1234567890",
    ):
        with pytest.raises(QueryError) as exc:
            parse(query)
        assert exc.value.message.startswith("the @ modifier at character ")
        assert "1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z" in exc.value.message
