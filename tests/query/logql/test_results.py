"""LogQL answers over hand-built lake contents (timestamps from the clock)."""

from __future__ import annotations

import pytest

from tests.query.logql.conftest import Lake
from tracelake.query.logql.errors import LogQLError

API = (("level", "info"), ("service", "api"))
CART = (("level", "error"), ("service", "cart"))


@pytest.fixture
def shop(lake: Lake) -> Lake:
    """api: an info JSON line every 10 s for 2 minutes; cart: a logfmt error every 20 s."""
    rows = [
        {
            "t": t,
            "service": "api",
            "level": "info",
            "host": "h1",
            "message": f'{{"path":"/p{t % 3}","status":{200 if t % 30 else 500},"took":"{t}ms"}}',
            "attributes": {"env": "prod"},
        }
        for t in range(-110, 10, 10)
    ]
    rows += [
        {
            "t": t,
            "service": "cart",
            "level": "error",
            "message": f'msg="timeout talking to db" attempt={t // 20 + 7} \x1b[31mred\x1b[0m',
            "trace_id": f"{t + 1000:032x}",
        }
        for t in range(-100, 0, 20)
    ]
    lake.add(rows)
    return lake


def test_a_log_query_returns_newest_first_up_to_the_limit(shop: Lake) -> None:
    """backward (the default) gives the newest lines; forward the oldest."""
    newest = shop.lines('{service="api"}', limit=2)
    oldest = shop.lines('{service="api"}', limit=2, forward=True)
    assert newest == [
        '{"path":"/p0","status":500,"took":"0ms"}',
        '{"path":"/p2","status":200,"took":"-10ms"}',
    ]
    assert oldest[0].endswith('"took":"-110ms"}')


def test_line_filters_are_case_sensitive_and_chain(shop: Lake) -> None:
    """|= is a substring, != excludes, |~ a regex search, |> a pattern from the start."""
    assert len(shop.lines('{service=~".+"} |= "timeout"')) == 5
    assert shop.lines('{service=~".+"} |= "TIMEOUT"') == []
    assert len(shop.lines('{service=~".+"} |~ "(?i)TIMEOUT" != "attempt=2"')) == 4
    assert len(shop.lines('{service="api"} |> "<_>\\"status\\":500<_>"')) == 4
    assert len(shop.lines('{service="api"} |= "/p1" or "/p2"')) == 8


def test_selectors_match_stream_labels_and_metadata(shop: Lake) -> None:
    """service/level/host are columns; other names are keys of attributes."""
    assert len(shop.lines('{level="error"}')) == 5
    assert len(shop.lines('{host="h1", env="prod"}')) == 12
    assert len(shop.lines('{service="api", host!="h1"}')) == 0
    assert len(shop.lines('{service=~"ap.", level=~"info|warn"}')) == 12


def test_json_then_a_numeric_filter(shop: Lake) -> None:
    """| json extracts fields; a numeric label filter compares them as numbers."""
    answer = shop.run('{service="api"} | json | status >= 500', -3600, 3600)
    assert [e.parsed["status"] for e in answer.entries] == ["500"] * 4
    assert answer.entries[0].labels()["path"] == "/p0"


def test_duration_filters_convert_units(shop: Lake) -> None:
    """took > 50ms compares durations: 60ms..0ms lines from json."""
    lines = shop.lines('{service="api"} | json | took < -50ms')
    assert len(lines) == 6


def test_logfmt_pattern_regexp_and_formatters(shop: Lake) -> None:
    """Parsers extract labels; line_format and label_format rewrite; decolorize strips."""
    assert shop.lines(
        '{service="cart"} | logfmt | attempt = 6 | line_format "{{.msg | upper}} #{{.attempt}}"'
    ) == ["TIMEOUT TALKING TO DB #6"]
    assert shop.lines('{service="cart"} |= "attempt=6" | decolorize') == [
        'msg="timeout talking to db" attempt=6 red'
    ]
    entries = shop.run(
        '{service="cart"} | pattern "msg=<_> attempt=<n> <_>" | regexp "(?P<word>t\\\\w+)" '
        '| label_format tries=n, who="{{.word}}!" | keep tries, who, service',
        -3600,
        3600,
        limit=1,
    ).entries
    assert entries[0].labels() == {"service": "cart", "tries": "6", "who": "timeout!"}


def test_drop_removes_labels_and_unpack_replaces_the_line(lake: Lake) -> None:
    """drop takes names and matchers; unpack reads Promtail's packed JSON."""
    lake.add([{"t": 0, "service": "p", "message": '{"_entry":"inner line","pod":"x","n":"1"}'}])
    entry = lake.run('{service="p"} | unpack | drop n, pod="y"', -60, 60).entries[0]
    assert entry.line == "inner line"
    assert entry.parsed == {"pod": "x"}


def test_count_over_time_and_rate_are_counted_in_sql(shop: Lake) -> None:
    """Windows (t-1m, t]: api lines at -110..0 every 10 s, cart at -100..-20 every 20 s;
    steps at -60 and 0."""
    assert shop.matrix('count_over_time({service="api"}[1m])', -60, 0) == {
        (("env", "prod"), ("host", "h1"), *API): [6.0, 6.0]
    }
    rates = shop.matrix('sum by (service) (rate({service=~".+"} |= "timeout" [1m]))', -60, 0)
    assert rates == {(("service", "cart"),): [3 / 60, 2 / 60]}


def test_counts_agree_between_the_sql_and_python_paths(shop: Lake) -> None:
    """The same count with a Python-only stage gives the same numbers."""
    query = 'sum by (service) (count_over_time({service=~".+"}{stage} [30s]))'
    sql = shop.matrix(query.replace("{stage}", ""), -120, 0, step=15)
    python = shop.matrix(query.replace("{stage}", " | keep service"), -120, 0, step=15)
    assert sql == python and sql


def test_segments_answer_like_the_memtable(shop: Lake) -> None:
    """After a flush to Parquet the answers are the same."""
    query = 'sum by (level) (bytes_over_time({service=~".+"}[2m]))'
    before = shop.matrix(query, -60, 0, step=30)
    shop.flush()
    assert shop.matrix(query, -60, 0, step=30) == before


def test_unwrap_aggregations(shop: Lake) -> None:
    """unwrap takes a label's number; the unwrapped label leaves the series labels."""
    q = '{fn}({{service="cart"}} | logfmt | unwrap attempt [2m])'
    at = {fn: shop.vector(q.format(fn=fn), 0) for fn in ("sum_over_time", "max_over_time")}
    # trace ids differ per line: one series per line, so aggregate first
    total = shop.vector(f"sum by (service) ({q.format(fn='sum_over_time')})", 0)
    assert total == {(("service", "cart"),): 2 + 3 + 4 + 5 + 6}
    assert all(len(v) == 5 for v in at.values())
    assert not any(dict(k).get("attempt") for k in at["sum_over_time"])
    quantile = shop.vector(
        'quantile_over_time(0.5, {service="cart"} | logfmt | unwrap attempt [2m]) by (service)', 0
    )
    assert quantile == {(("service", "cart"),): 4.0}


def test_vector_aggregations_binary_ops_and_offset(shop: Lake) -> None:
    """topk, arithmetic between vectors, comparisons with bool, offset."""
    by_service = 'sum by (service) (count_over_time({service=~".+"}[1m]))'
    assert shop.vector(f"topk(1, {by_service})", 0) == {(("service", "api"),): 6.0}
    assert shop.vector(f"{by_service} / 2", 0) == {
        (("service", "api"),): 3.0,
        (("service", "cart"),): 1.0,
    }
    assert shop.vector(f"{by_service} > bool 4", 0) == {
        (("service", "api"),): 1.0,
        (("service", "cart"),): 0.0,
    }
    shifted = 'sum by (service) (count_over_time({service="api"}[1m] offset 1m))'
    assert shop.vector(shifted, 0) == {(("service", "api"),): 6.0}
    assert shop.vector("vector(1)+vector(1)", 0) == {(): 2.0}
    assert shop.vector("2 * 3", 0) == {(): 6.0}


def test_absent_over_time_is_one_where_nothing_matched(shop: Lake) -> None:
    """The series takes the selector's equality labels."""
    assert shop.vector('absent_over_time({service="nope"}[1m])', 0) == {(("service", "nope"),): 1.0}
    assert shop.vector('absent_over_time({service="api"}[1m])', 0) == {}


def test_a_parser_error_fails_a_metric_query_unless_filtered(shop: Lake) -> None:
    """cart lines are not JSON: Loki refuses the metric unless __error__ is filtered."""
    q = 'sum by (service) (count_over_time({service=~".+"} | json FILTER[1m]))'
    with pytest.raises(LogQLError, match="pipeline error: 'JSONParserErr'"):
        shop.vector(q.replace("FILTER", ""), 0)
    assert shop.vector(q.replace("FILTER", '| __error__=""'), 0) == {(("service", "api"),): 6.0}


def test_too_many_series_is_refused(lake: Lake) -> None:
    """Past Loki's 500 series a metric answer is refused with advice."""
    lake.add([{"t": 0, "service": f"s{i}", "message": "x"} for i in range(501)])
    with pytest.raises(LogQLError, match=r"maximum of series \(500\)"):
        lake.vector('count_over_time({service=~".+"}[1m])', 0)
