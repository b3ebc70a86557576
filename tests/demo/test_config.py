"""The demo's own tracelake.toml and rule file: written, valid, and loaded with its flags."""

from __future__ import annotations

from pathlib import Path

import yaml

from tracelake.demo.config import CONFIG_DIR, demo_settings
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
    (rule,) = rules["groups"][0]["rules"]
    assert rule["alert"] == "PaymentsFailing"
    assert rule["log_query"] == "service:payments level:error"
