"""Settings from the environment: a ``TRACELAKE_*`` variable that names no setting is
reported with the closest name, and the variables clients read stay quiet."""

from __future__ import annotations

from tracelake.settings import unknown_variables


def test_a_misspelt_variable_is_reported_with_the_closest_setting() -> None:
    lines = unknown_variables({"TRACELAKE_SCRAPE_INTERVAL": "5", "TRACELAKE_HTTP_PORT": "1"})
    assert lines == [
        "TRACELAKE_SCRAPE_INTERVAL is not a setting: did you mean TRACELAKE_SCRAPE_INTERVAL_S?"
    ]


def test_a_variable_like_no_setting_points_to_the_list() -> None:
    assert unknown_variables({"TRACELAKE_ZZZ": "1"}) == [
        "TRACELAKE_ZZZ is not a setting: docs/configuration.md lists the names"
    ]


def test_the_variables_of_the_cli_and_the_sdk_and_other_programs_stay_quiet() -> None:
    env = {"TRACELAKE_URL": "x", "TRACELAKE_TOKEN": "t", "TRACELAKE_ENDPOINT": "e", "PATH": "/"}
    assert unknown_variables(env) == []
