"""The search language over ``events``: payload keys compile to bound JSON paths."""

from __future__ import annotations

import pytest

from tracelake.errors import QueryError
from tracelake.query import compile_query


def test_payload_keys_become_json_extraction_with_the_path_bound() -> None:
    q = compile_query("type:order_placed payload.amount:>100", table="events")
    assert "FROM events" in q.sql
    assert 'json_extract_string("payload", ?)' in q.sql
    assert '$."amount"' in q.params and "order_placed" in q.params and 100.0 in q.params
    assert "amount" not in q.sql and "order_placed" not in q.sql


def test_free_words_search_the_payload_text_of_events() -> None:
    q = compile_query("gold", table="events")
    assert 'contains(lower("payload"), lower(?))' in q.sql and "gold" in q.params


def test_rows_of_events_show_the_events_columns() -> None:
    assert compile_query("", table="events").columns == [
        "timestamp",
        "type",
        "key",
        "service",
        "trace_id",
        "span_id",
        "payload",
    ]


def test_a_name_without_the_payload_prefix_is_an_unknown_field_of_events() -> None:
    with pytest.raises(QueryError, match=r"unknown field 'amount' in events.*payload\.<name>"):
        compile_query("amount:>1", table="events")


def test_logs_keep_any_other_name_as_an_attribute() -> None:
    q = compile_query("http.status:500")
    assert "FROM logs" in q.sql and 'json_extract_string("attributes", ?)' in q.sql


def test_an_unknown_table_is_refused_with_the_searchable_ones() -> None:
    with pytest.raises(QueryError, match="searchable tables are logs, events"):
        compile_query("x", table="spans")
