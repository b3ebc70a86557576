"""The [pipeline] section: validation messages name the key; the Pipeline runs it."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from tracelake.errors import ConfigError
from tracelake.model import IngestResult
from tracelake.pipeline.config import DEFAULT_REDACT_KEYS, Pipeline, load_pipeline_config
from tracelake.settings import Settings


def run(config: dict[str, Any], *objects: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    result = IngestResult()
    kept, _, dropped = Pipeline(config).run(list(objects), list(range(1, len(objects) + 1)), result)
    assert not result.errors
    return kept, dropped


def test_an_empty_section_redacts_the_default_keys_and_does_nothing_else() -> None:
    config = load_pipeline_config({})
    assert config.redact.keys == DEFAULT_REDACT_KEYS
    assert config.redact.patterns == ()
    pipeline = Pipeline({})
    assert pipeline.steps == [] and pipeline.rules is None and pipeline.redactor is not None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"drop": [{"qurey": "x"}]}, "unknown key pipeline.drop[0].qurey"),
        ({"drop": [{}]}, "pipeline.drop[0].query is required"),
        ({"drop": [{"query": "level:"}]}, "pipeline.drop[0].query 'level:'"),
        ({"drop": [{"query": "x | stats count()"}]}, "pipeline.drop[0].query"),
        ({"drop": [{"query": "timestamp:>2024-01-01"}]}, "cannot test the timestamp"),
        ({"sample": [{"query": "x", "rate": 2}]}, "pipeline.sample[0].rate must be a number"),
        ({"sample": [{"query": "x"}]}, "pipeline.sample[0].rate"),
        ({"parse": [{"format": "xml"}]}, "pipeline.parse[0].format 'xml' is not a built-in"),
        ({"parse": [{}]}, "pipeline.parse[0] needs exactly one of"),
        ({"parse": [{"pattern": "%{NOPE:x}"}]}, "pipeline.parse[0].patterns[0]: unknown pattern"),
        ({"timestamp": [{"field": "t"}]}, "pipeline.timestamp[0].formats is required"),
        (
            {"timestamp": [{"field": "t", "formats": ["%Y"], "timezone": "Mars/Base"}]},
            "pipeline.timestamp[0].timezone 'Mars/Base'",
        ),
        ({"redact": {"patterns": ["ssn"]}}, "pipeline.redact.patterns has 'ssn'"),
        ({"redact": {"regexes": ["("]}}, "pipeline.redact.regexes[0] is not a valid"),
        ({"redact": {"mode": "rot13"}}, "pipeline.redact.mode must be"),
        ({"enrich": {"fields": 3}}, "pipeline.enrich.fields must be a table"),
        ({"json_message": "yes"}, "pipeline.json_message must be true or false"),
        ({"filters": []}, "unknown key pipeline.filters"),
    ],
)
def test_a_bad_key_is_a_one_line_config_error_naming_it(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_pipeline_config(raw)
    assert message in e.value.message
    assert "\n" not in e.value.message


def test_the_setting_is_read_from_the_toml_pipeline_table(tmp_path: Path) -> None:
    path = tmp_path / "tracelake.toml"
    path.write_text(
        'retention_days_by_table = { logs = "7" }\n'
        '[pipeline.enrich]\nfields = { env = "prod" }\n'
        '[[pipeline.drop]]\nquery = "service:chatty"\n'
    )
    settings = Settings.load(path, env={})
    assert settings.pipeline == {
        "enrich": {"fields": {"env": "prod"}},
        "drop": [{"query": "service:chatty"}],
    }
    assert settings.retention_days_by_table == {"logs": 7}
    assert Settings.load(env={}).pipeline == {}


def test_the_setting_can_come_from_the_environment_as_an_inline_table() -> None:
    settings = Settings.load(env={"TRACELAKE_PIPELINE": '{ drop = [{ query = "level:debug" }] }'})
    assert settings.pipeline == {"drop": [{"query": "level:debug"}]}


def test_processors_run_in_order_parse_enrich_then_rules() -> None:
    config = {
        "json_message": True,
        "enrich": {"fields": {"env": "prod"}},
        "drop": [{"query": "env:prod status:404"}],
    }
    kept, dropped = run(
        config,
        {"message": '{"status": 404, "msg": "missing"}'},
        {"message": '{"status": 200, "msg": "fine"}'},
    )
    assert dropped == 1
    assert kept == [{"status": 200, "msg": "fine", "env": "prod"}]


def test_a_record_a_processor_fails_on_is_rejected_with_its_line_not_stored() -> None:
    pipeline = Pipeline({"enrich": {"fields": {"env": "prod"}}})

    def broken(obj: dict[str, Any]) -> None:
        if obj.get("boom"):
            raise RuntimeError("bad luck")

    pipeline.enrichers.append(broken)
    result = IngestResult()
    kept, lines, dropped = pipeline.run([{"a": 1}, {"boom": True}], [1, 2], result)
    assert kept == [{"a": 1, "env": "prod"}] and lines == [1] and dropped == 0
    assert result.errors[0].line == 2 and "RuntimeError: bad luck" in result.errors[0].error


def test_a_pipeline_pickles_as_its_config_and_is_rebuilt_once_per_process() -> None:
    pipeline = Pipeline({"drop": [{"query": "service:chatty"}]})
    data = pickle.dumps(pipeline)
    assert len(data) < 200
    first, second = pickle.loads(data), pickle.loads(data)
    assert first is second
    assert first.config == pipeline.config
