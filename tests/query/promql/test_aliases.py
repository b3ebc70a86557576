"""holt_winters, Prometheus 2's name of double_exponential_smoothing, is renamed before
the parser sees it — only as a call, never inside strings, matchers or comments."""

from __future__ import annotations

import pytest

from tracelake.query.promql.aliases import rewrite
from tracelake.query.promql.engine import parse


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("holt_winters(x[5m], 0.5, 0.1)", "double_exponential_smoothing(x[5m], 0.5, 0.1)"),
        (
            "sum(holt_winters (x[1m], 0.1, 0.2))",
            "sum(double_exponential_smoothing (x[1m], 0.1, 0.2))",
        ),
        ('holt_winters{a="holt_winters("}', 'holt_winters{a="holt_winters("}'),
        (
            'label_replace(x, "a", "holt_winters(", "b", "c")',
            'label_replace(x, "a", "holt_winters(", "b", "c")',
        ),
        ("x # holt_winters(", "x # holt_winters("),
    ],
)
def test_rewrite(query: str, expected: str) -> None:
    assert rewrite(query) == expected


def test_holt_winters_parses_as_a_call() -> None:
    assert parse("holt_winters(x[5m], 0.5, 0.5)").func.name == "double_exponential_smoothing"  # type: ignore[attr-defined]
