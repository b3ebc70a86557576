"""Static targets from the config and the Prometheus HTTP SD groups."""

from __future__ import annotations

import pytest

from tracelake.errors import ConfigError
from tracelake.registry.targets import ScrapeTarget, sd_group, static_targets


def test_static_entries_become_targets() -> None:
    targets = static_targets(
        {
            "orders": ["127.0.0.1:8001", "https://metrics.example:9443/custom/metrics"],
            "legacy": ["[::1]:9100"],
        }
    )
    assert targets == [
        ScrapeTarget("orders", "127.0.0.1:8001", "http://127.0.0.1:8001/metrics"),
        ScrapeTarget(
            "orders", "metrics.example:9443", "https://metrics.example:9443/custom/metrics"
        ),
        ScrapeTarget("legacy", "[::1]:9100", "http://[::1]:9100/metrics"),
    ]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"orders": ["ftp://x:1"]}, "scrape_targets.orders: 'ftp://x:1' is not host:port"),
        ({"orders": ["host:notaport"]}, "has a bad port"),
        ({"bad name": ["h:1"]}, "'bad name' is not a service name"),
        ({"orders": "h:1"}, "must be a list"),
    ],
)
def test_bad_static_entries_stop_the_start(config: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        static_targets(config)


def test_sd_group_points_prometheus_at_the_path_and_keeps_labels() -> None:
    target = ScrapeTarget(
        "orders",
        "127.0.0.1:8001",
        "https://127.0.0.1:8001/prom",
        {"zone": "a", "__x": "y"},
        instance_id="o-1",
    )
    group = sd_group(target)
    assert group["targets"] == ["127.0.0.1:8001"]
    assert group["labels"] == {
        "__scheme__": "https",
        "__metrics_path__": "/prom",
        "service": "orders",
        "__meta_tracelake_service": "orders",
        "__meta_tracelake_source": "registry",
        "__meta_tracelake_instance_id": "o-1",
        "__meta_tracelake_metadata_zone": "a",
        "zone": "a",
        "__meta_tracelake_metadata___x": "y",
    }


def test_a_static_target_is_offered_as_static_without_an_instance_id() -> None:
    (target,) = static_targets({"node": ["10.0.0.5:9100"]})
    labels = sd_group(target)["labels"]
    assert labels["__meta_tracelake_source"] == "static"
    assert "__meta_tracelake_instance_id" not in labels
