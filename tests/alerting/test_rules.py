"""Rule files: Prometheus's format plus log and breaker rules, checked whole at load."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tracelake.alerting.rules import (
    BreakerQuery,
    LogQuery,
    PromQLQuery,
    load_rule_files,
    parse_rule_text,
)
from tracelake.errors import ConfigError

PROMETHEUS_FILE = """\
groups:
  - name: api
    interval: 30s
    rules:
      - alert: HighErrorRate
        expr: sum by (job) (rate(http_requests_total{code=~"5.."}[5m])) > 0.5
        for: 10m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.job }} errors at {{ $value }}"
"""

TRACELAKE_FILE = """\
groups:
  - name: services
    labels:
      team: core
    rules:
      - alert: CheckoutErrors
        log_query: 'level:error service:checkout'
        window: 5m
        threshold: 10
        group_by: [service, http.status]
        for: 1m
      - alert: PaymentsCircuitOpen
        breaker: payments
        service: orders
        open_for: 30s
        lookback: 2h
"""


def test_a_prometheus_rule_file_loads_with_its_group_interval_and_templates() -> None:
    [group] = parse_rule_text(PROMETHEUS_FILE, "api.yml", 15.0)
    assert (group.name, group.file, group.interval_s) == ("api", "api.yml", 30.0)
    [rule] = group.rules
    assert rule.name == "HighErrorRate" and rule.kind == "promql"
    assert isinstance(rule.query, PromQLQuery) and rule.query.expr.startswith("sum by (job)")
    assert rule.for_s == 600.0
    assert rule.labels == {"severity": "page"}
    assert rule.annotations == {"summary": "{{ $labels.job }} errors at {{ $value }}"}


def test_log_and_breaker_rules_load_beside_group_labels_and_default_interval() -> None:
    [group] = parse_rule_text(TRACELAKE_FILE, "svc.yml", 15.0)
    assert group.interval_s == 15.0
    log_rule, breaker_rule = group.rules
    assert log_rule.query == LogQuery(
        "level:error service:checkout", 300.0, 10.0, ("service", "http.status")
    )
    assert log_rule.for_s == 60.0 and log_rule.labels == {"team": "core"}
    assert breaker_rule.query == BreakerQuery("payments", "orders", 30.0, 7200.0)
    assert breaker_rule.describe() == "circuit payments of orders open for 30s"


def test_the_prometheus_example_is_a_valid_prometheus_rule_file_too(tmp_path: Path) -> None:
    """The loader reads what Prometheus's own checker accepts, unchanged."""
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool missing: run scripts/system-deps.sh"
    path = tmp_path / "api.yml"
    path.write_text(PROMETHEUS_FILE)
    checked = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert load_rule_files([str(path)], 15.0)[0].rules[0].name == "HighErrorRate"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("groups: [\n  - name: a\n", "bad.yml: not valid YAML at line"),
        ("rules: []\n", "bad.yml: a rule file is a mapping with one key, groups"),
        ("groups:\n  - rules: []\n", "bad.yml: group 1 needs a name"),
        (
            "groups:\n  - name: a\n    rules: []\n  - name: a\n    rules: []\n",
            "bad.yml: group 'a' appears twice",
        ),
        (
            "groups:\n  - name: g\n    interval: 1.5m\n    rules: []\n",
            "bad.yml: group 'g': interval: '1.5m' is not a duration",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - expr: up == 0\n",
            "bad.yml: group 'g' rule #1: needs an alert name",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - record: job:up\n        expr: up\n        for: 1m\n",
            "bad.yml: group 'g' rule 'job:up': unknown key 'for' for a recording rule",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - record: job-up\n        expr: up\n",
            "bad.yml: group 'g' rule 'job-up': record must be a metric name",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - record: job:up\n        expr: sum(\n",
            "bad.yml: group 'g' rule 'job:up': expr 'sum(': parse error",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n",
            "bad.yml: group 'g' rule 'A': give exactly one of expr (PromQL), log_query",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        breaker: x\n",
            "bad.yml: group 'g' rule 'A': give exactly one of",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        fro: 5m\n",
            "bad.yml: group 'g' rule 'A': unknown key 'fro' for a promql rule",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 5\n",
            "bad.yml: group 'g' rule 'A': for must be a duration like 30s or 5m, got 5",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n"
            "        labels: {bad-name: x}\n",
            "bad.yml: group 'g' rule 'A': labels: 'bad-name' is not a valid label name",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        log_query: 'level:error'\n",
            "bad.yml: group 'g' rule 'A': a log rule needs window (e.g. 5m) and threshold",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        log_query: 'level:('\n"
            "        window: 5m\n        threshold: 1\n",
            "bad.yml: group 'g' rule 'A': log_query 'level:(':",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        log_query: 'x | limit 5'\n"
            "        window: 5m\n        threshold: 1\n",
            "bad.yml: group 'g' rule 'A': log_query 'x | limit 5' must be a search without pipes",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        log_query: x\n"
            "        window: 5m\n        threshold: 1\n        group_by: [a b]\n",
            "bad.yml: group 'g' rule 'A': group_by must be a list of field names",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        log_query: x\n"
            "        window: 5m\n        threshold: 0\n",
            "bad.yml: group 'g' rule 'A': threshold must be a number above 0, got 0",
        ),
        (
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        breaker: payments\n",
            "bad.yml: group 'g' rule 'A': a breaker rule needs open_for",
        ),
    ],
)
def test_a_bad_rule_file_is_one_config_error_naming_file_group_and_rule(
    text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_rule_text(text, "bad.yml", 15.0)
    assert caught.value.message.startswith(message), caught.value.message
    assert "\n" not in caught.value.message


def test_paths_are_relative_to_the_working_directory_and_globs_may_match_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "a.yml").write_text(PROMETHEUS_FILE)
    (rules / "b.yml").write_text(TRACELAKE_FILE)
    monkeypatch.chdir(tmp_path)
    groups = load_rule_files(["rules/*.yml", "none/*.yml"], 15.0)
    assert [(g.name, g.file) for g in groups] == [
        ("api", "rules/a.yml"),
        ("services", "rules/b.yml"),
    ]
    with pytest.raises(ConfigError, match=r"alert rule file rules/c.yml not found"):
        load_rule_files(["rules/c.yml"], 15.0)


def test_an_oversized_rule_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.yml"
    path.write_text("# " + "x" * (1024 * 1024) + "\n")
    with pytest.raises(ConfigError, match="byte limit of a rule file"):
        load_rule_files([str(path)], 15.0)
