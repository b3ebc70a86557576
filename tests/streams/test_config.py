"""Continuous queries in tracelake.toml: what is accepted, and one-line errors for the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tracelake.errors import ConfigError
from tracelake.settings import Settings
from tracelake.streams.config import parse_continuous_queries
from tracelake.streams.windows import WindowSpec

S = 1_000_000


def one(**table: Any) -> dict[str, Any]:
    return {"name": "q", "source": "logs", "window": "1m", **table}


def test_a_full_query_from_a_toml_file_is_parsed(tmp_path: Path) -> None:
    config = tmp_path / "tracelake.toml"
    config.write_text(
        """
[[continuous_queries]]
name = "orders_by_status"
source = "events"
filter = "type:order_placed"
window = "1m"
slide = "10s"
lateness = "30s"
group_by = ["payload.status"]
aggregates = ["count() as orders", "sum(payload.amount)", "p95(payload.ms)", "count_distinct(key)"]
ratios = { failed_ratio = "payload.status:failed" }
"""
    )
    settings = Settings.load(config, env={})
    [query] = parse_continuous_queries(settings.continuous_queries, settings.stream_lateness_s)
    assert query.name == "orders_by_status"
    assert query.source == "events"
    assert query.windows == WindowSpec(60 * S, 10 * S)
    assert query.lateness_us == 30 * S
    assert query.group_by == ("payload.status",)
    assert [a.func for a in query.aggregates] == ["count", "sum", "p95", "count_distinct"]
    assert query.ratios == (("failed_ratio", "payload.status:failed"),)
    assert query.metric_prefix == "tracelake_cq_orders_by_status_"


def test_defaults_are_a_tumbling_window_the_server_lateness_and_a_count() -> None:
    [query] = parse_continuous_queries([one(window=30)], default_lateness_s=2.5)
    assert query.windows.tumbling and query.windows.size_us == 30 * S
    assert query.lateness_us == 2_500_000
    assert query.filter == "*"
    assert [(a.func, a.field) for a in query.aggregates] == [("count", None)]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"name": "Orders", "source": "logs", "window": "1m"}, "name must match"),
        (one(source="metrics"), "source must be one of logs, events, spans"),
        (one(window="soon"), 'window must be a duration like "30s"'),
        (one(window="500ms"), "window must be between 1s and 1d"),
        (one(slide="2m"), "slide must be between 1s and the window length"),
        (one(lateness="2h"), "lateness must be between 0s and 1h"),
        (one(filter="level:(error"), "filter: expected ')'"),
        (one(filter="level:error | stats count()"), "a filter takes no pipes"),
        (one(aggregates=["median(x)"]), "unknown function 'median'"),
        (one(aggregates=["p95(level)"]), "p95() needs a numeric attribute field"),
        (one(aggregates=["count()", "count(*)"]), "two aggregates are named 'count'"),
        (one(group_by=["bin(5m)"]), "the window replaces bin()"),
        (one(group_by=["timestamp"]), "group_by cannot take timestamp"),
        (one(group_by=["http.status", "http_status"]), "the same label name"),
        (one(group_by="status"), "group_by must be a list of strings"),
        (one(ratios={"bad": "status:(x"}), "ratio 'bad'"),
        (one(aggregates=[]), "at least one aggregate or ratio"),
        (one(windw="1m"), "unknown key 'windw'"),
        (one(window=float("nan")), 'window must be a duration like "30s"'),
        (one(lateness=float("inf")), 'lateness must be a duration like "30s"'),
        (one(ratios={"café": "level:error"}), "ratio name 'café' ends a metric name"),
        (one(ratios={"": "level:error"}), "ratio name '' ends a metric name"),
    ],
)
def test_a_bad_query_is_one_config_error_naming_the_query_and_the_key(
    table: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_continuous_queries([table], 5.0)
    text = str(caught.value)
    assert message in text
    assert "\n" not in text


def test_two_queries_may_not_share_a_name() -> None:
    with pytest.raises(ConfigError, match="two continuous queries are named 'q'"):
        parse_continuous_queries([one(), one()], 5.0)


def test_the_setting_must_be_a_list_of_tables() -> None:
    with pytest.raises(ConfigError, match=r"use \[\[continuous_queries\]\]"):
        parse_continuous_queries({"name": "q"}, 5.0)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="continuous query 1 must be a table"):
        parse_continuous_queries(["q"], 5.0)
