"""The docs stay true: every setting, CLI command and option is documented."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from tracelake.cli import cli
from tracelake.settings import SETTINGS

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_in_the_configuration_page_with_its_default(setting: object) -> None:
    text = (DOCS / "configuration.md").read_text()
    assert (
        f"| `{setting.name}` | `TRACELAKE_{setting.name.upper()}` | `{setting.default!r}` |" in text
    )  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_cli_command_and_option_is_in_the_cli_page(name: str) -> None:
    text = (DOCS / "cli.md").read_text()
    assert f"## `tracelake {name}" in text
    command = cli.commands[name]
    for param in command.params:
        if isinstance(param, click.Option) and param.name not in ("help",):
            assert any(opt in text for opt in param.opts), f"{name} {param.opts} undocumented"


def test_readme_opens_with_the_two_commands() -> None:
    head = (DOCS.parent / "README.md").read_text().split("\n\n")[1]
    assert "make run" in head and "make test" in head
