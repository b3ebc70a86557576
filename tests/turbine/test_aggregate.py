"""Turbine's aggregation rules, one test per rule, on plain dicts (no sockets)."""

from __future__ import annotations

from typing import Any

from tracelake.sdk.breaker import CircuitBreaker, HystrixStream, Isolation
from tracelake.sdk.breaker.registry import BreakerRegistry
from tracelake.turbine.aggregate import BreakerFlip, ClusterAggregate, merge_group, tally

NOW = 1_700_000_000_000


def command(name: str = "payments", **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "HystrixCommand",
        "name": name,
        "group": "billing",
        "currentTime": 1,
        "isCircuitBreakerOpen": False,
        "errorPercentage": 0,
        "requestCount": 0,
        "rollingCountSuccess": 0,
        "latencyExecute": {"0": 1, "50": 2, "100": 3},
        "propertyValue_circuitBreakerRequestVolumeThreshold": 20,
        "propertyValue_executionIsolationStrategy": "THREAD",
        "reportingHosts": 1,
    }
    event.update(fields)
    return event


def only(agg: ClusterAggregate) -> dict[str, Any]:
    (event,) = agg.tick(NOW)
    return event


def test_numbers_are_the_sum_of_each_hosts_latest_value() -> None:
    agg = ClusterAggregate()
    agg.update("a:1", command(rollingCountSuccess=5, requestCount=5))
    agg.update("b:1", command(rollingCountSuccess=7, requestCount=9))
    agg.update("a:1", command(rollingCountSuccess=6, requestCount=6))  # replaces a's 5
    event = only(agg)
    assert event["rollingCountSuccess"] == 13
    assert event["requestCount"] == 15


def test_reporting_hosts_is_summed_so_tiered_turbines_add_up() -> None:
    agg = ClusterAggregate()
    agg.update("a:1", command())
    agg.update("b:1", command())
    agg.update("turbine-2:80", command(reportingHosts=4))
    assert only(agg)["reportingHosts"] == 6


def test_a_disconnected_host_contribution_is_removed() -> None:
    agg = ClusterAggregate()
    agg.update("a:1", command(rollingCountSuccess=5))
    agg.update("b:1", command(rollingCountSuccess=7))
    agg.tick(NOW)
    agg.remove_host("b:1")
    event = only(agg)
    assert event["rollingCountSuccess"] == 5
    assert event["reportingHosts"] == 1


def test_percentile_maps_are_summed_key_by_key() -> None:
    agg = ClusterAggregate()
    agg.update("a:1", command(latencyExecute={"0": 1, "50": 10, "100": 30}))
    agg.update("b:1", command(latencyExecute={"0": 2, "50": 20, "100": 40}))
    assert only(agg)["latencyExecute"] == {"0": 3, "50": 30, "100": 70}


def test_booleans_and_strings_shared_by_all_hosts_stay_as_the_value() -> None:
    agg = ClusterAggregate()
    agg.update("a:1", command())
    agg.update("b:1", command())
    event = only(agg)
    assert event["isCircuitBreakerOpen"] is False
    assert event["group"] == "billing"


def test_booleans_and_strings_that_differ_become_value_to_host_count() -> None:
    agg = ClusterAggregate()
    agg.update("a:1", command(isCircuitBreakerOpen=True, group="x"))
    agg.update("b:1", command())
    agg.update("c:1", command())
    event = only(agg)
    assert event["isCircuitBreakerOpen"] == {"false": 2, "true": 1}
    assert event["group"] == {"billing": 2, "x": 1}


def test_property_values_are_not_summed() -> None:
    agg = ClusterAggregate()
    agg.update("a:1", command())
    agg.update("b:1", command())
    event = only(agg)
    assert event["propertyValue_circuitBreakerRequestVolumeThreshold"] == 20
    assert event["propertyValue_executionIsolationStrategy"] == "THREAD"


def test_property_values_that_differ_become_value_to_host_count() -> None:
    agg = ClusterAggregate()
    agg.update("a:1", command(propertyValue_circuitBreakerRequestVolumeThreshold=20))
    agg.update("b:1", command(propertyValue_circuitBreakerRequestVolumeThreshold=50))
    event = only(agg)
    assert event["propertyValue_circuitBreakerRequestVolumeThreshold"] == {"20": 1, "50": 1}


def test_thread_pools_follow_the_same_rules() -> None:
    pool = {
        "type": "HystrixThreadPool",
        "name": "billing",
        "currentTime": 1,
        "currentActiveCount": 2,
        "rollingCountThreadsExecuted": 10,
        "propertyValue_queueSizeRejectionThreshold": 5,
        "reportingHosts": 1,
    }
    agg = ClusterAggregate()
    agg.update("a:1", pool)
    agg.update("b:1", {**pool, "currentActiveCount": 3})
    event = only(agg)
    assert event["currentActiveCount"] == 5
    assert event["rollingCountThreadsExecuted"] == 20
    assert event["propertyValue_queueSizeRejectionThreshold"] == 5
    assert event["reportingHosts"] == 2


def test_groups_are_by_type_and_name_with_commands_before_thread_pools() -> None:
    agg = ClusterAggregate()
    agg.update("a:1", {"type": "HystrixThreadPool", "name": "payments", "reportingHosts": 1})
    agg.update("a:1", command("users"))
    agg.update("a:1", command("payments"))
    names = [(e["type"], e["name"]) for e in agg.tick(NOW)]
    assert names == [
        ("HystrixCommand", "payments"),
        ("HystrixCommand", "users"),
        ("HystrixThreadPool", "payments"),
    ]


def test_events_without_type_and_name_are_skipped() -> None:
    agg = ClusterAggregate()
    agg.update("a:1", {"name": "x", "reportingHosts": 1})
    agg.update("a:1", {"type": "HystrixCommand", "reportingHosts": 1})
    assert agg.tick(NOW) == []


def test_current_time_is_the_aggregators_clock_not_a_sum() -> None:
    agg = ClusterAggregate()
    agg.update("a:1", command(currentTime=NOW - 10))
    agg.update("b:1", command(currentTime=NOW - 20))
    assert only(agg)["currentTime"] == NOW
    assert agg.tick(NOW + 500)[0]["currentTime"] == NOW + 500


def test_a_group_no_host_reports_any_more_is_deleted_once() -> None:
    agg = ClusterAggregate()
    agg.update("a:1", command("payments"))
    agg.tick(NOW)
    agg.remove_host("a:1")
    assert agg.tick(NOW) == [{"deleteData": "true", "type": "HystrixCommand", "name": "payments"}]
    assert agg.tick(NOW) == []


def test_a_circuit_opening_and_closing_on_a_host_is_a_flip() -> None:
    agg = ClusterAggregate()
    assert agg.update("a:1", command()) is None  # first sight: no change seen
    assert agg.update("a:1", command(isCircuitBreakerOpen=True)) == BreakerFlip(
        "a:1", "payments", "billing", True
    )
    assert agg.update("a:1", command(isCircuitBreakerOpen=True)) is None
    assert agg.update("a:1", command()) == BreakerFlip("a:1", "payments", "billing", False)


def test_a_flip_while_a_host_was_disconnected_is_seen_when_it_returns() -> None:
    agg = ClusterAggregate()
    agg.update("a:1", command())
    agg.remove_host("a:1")
    assert agg.update("a:1", command(isCircuitBreakerOpen=True)) is not None


def test_flips_are_per_host() -> None:
    agg = ClusterAggregate()
    agg.update("a:1", command())
    agg.update("b:1", command(isCircuitBreakerOpen=True))
    assert agg.update("b:1", command(isCircuitBreakerOpen=True)) is None


def test_tally_keeps_a_single_value_and_counts_several() -> None:
    assert tally([None, None]) is None
    assert tally([True, False, True]) == {"false": 1, "true": 2}


def test_the_sdks_own_stream_events_aggregate_field_for_field() -> None:
    registry = BreakerRegistry()
    breaker = CircuitBreaker(
        "payments", registry=registry, timeout=None, isolation=Isolation.SEMAPHORE
    )
    for _ in range(3):
        breaker.call(int, 1)
    events = HystrixStream(registry).dicts()
    merged = merge_group([events[0], events[0]], NOW)
    assert list(merged) == list(events[0])  # field order kept for the dashboard
    assert merged["reportingHosts"] == 2
    assert merged["rollingCountSuccess"] == 2 * events[0]["rollingCountSuccess"]
    assert merged["propertyValue_circuitBreakerRequestVolumeThreshold"] == 20
