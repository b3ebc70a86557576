"""Static enrichment: added fields, what the record has wins unless override."""

from __future__ import annotations

from tracelake.pipeline.enrich import StaticFields


def test_static_fields_are_added_without_overwriting() -> None:
    enrich = StaticFields((("env", "prod"), ("region", "eu")))
    obj = {"env": "staging"}
    enrich(obj)
    assert obj == {"env": "staging", "region": "eu"}


def test_override_replaces_the_records_fields() -> None:
    enrich = StaticFields((("env", "prod"),), override=True)
    obj = {"env": "staging"}
    enrich(obj)
    assert obj == {"env": "prod"}


def test_nested_values_are_copied_per_record() -> None:
    enrich = StaticFields((("team", {"name": "pay"}),))
    a: dict = {}
    b: dict = {}
    enrich(a)
    enrich(b)
    a["team"]["name"] = "changed"
    assert b == {"team": {"name": "pay"}}
