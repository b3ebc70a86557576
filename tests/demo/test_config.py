"""The demo's own tracelake.toml and rule file: written, valid, and loaded with its flags."""

from __future__ import annotations

from pathlib import Path

import yaml

from tracelake.alerting.rules import BreakerQuery, LogQuery, PromQLQuery, load_rule_files
from tracelake.demo.config import CONFIG_DIR, demo_settings
from tracelake.query.promql.engine import parse
from tracelake.settings import Settings


def test_the_demo_writes_its_config_and_loads_it_under_its_own_flags(tmp_path: Path) -> None:
    base = Settings.load(env={}, overrides={"data_dir": str(tmp_path / "d"), "http_port": 0})
    settings = demo_settings(base)
    folder = tmp_path / "d" / CONFIG_DIR
    assert (folder / "tracelake.toml").exists()
    assert settings.data_dir == str(tmp_path / "d") and settings.http_port == 0
    assert settings.scrape_interval_s == 5.0
    assert settings.alert_rule_files == [str((folder / "rules.yml").resolve())]
    (query,) = settings.continuous_queries
    assert query["name"] == "orders_per_minute" and query["group_by"] == ["payload.status"]
    rules = yaml.safe_load((folder / "rules.yml").read_text())
    assert [r["alert"] for r in rules["groups"][0]["rules"]] == [
        "PaymentsFailing",
        "PaymentsChargeErrors",
        "PaymentsCircuitOpen",
    ]


def test_the_demo_rules_load_as_the_server_loads_them_one_of_each_kind(tmp_path: Path) -> None:
    base = Settings.load(env={}, overrides={"data_dir": str(tmp_path / "d"), "http_port": 0})
    settings = demo_settings(base)
    (group,) = load_rule_files(settings.alert_rule_files, settings.alert_eval_interval_s)
    logs, promql, breaker = (rule.query for rule in group.rules)
    assert isinstance(logs, LogQuery) and logs.query == "service:payments level:error"
    assert isinstance(promql, PromQLQuery) and "demo_charges_total" in promql.expr
    parse(promql.expr)  # the PromQL engine's parser accepts it (a QueryError otherwise)
    assert isinstance(breaker, BreakerQuery)
    assert (breaker.breaker, breaker.service) == ("payments", "orders")


def test_the_demo_puts_its_stream_listeners_on_free_ports_unless_a_flag_says_otherwise(
    tmp_path: Path,
) -> None:
    """The demo's services log over HTTP: it must start whatever holds 4560, 5514, 24224."""
    base = Settings.load(env={}, overrides={"data_dir": str(tmp_path / "d"), "http_port": 0})
    settings = demo_settings(base)
    assert (settings.tcp_port, settings.syslog_port, settings.forward_port) == (0, 0, 0)
    flags = {"tcp_port": 4560, "syslog_port": -1, "forward_port": None}
    settings = demo_settings(base, flags)
    assert (settings.tcp_port, settings.syslog_port, settings.forward_port) == (4560, -1, 0)
