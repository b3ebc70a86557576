"""``tracelake tail``: follow matching log lines live."""

from __future__ import annotations

import click
from rich.console import Console
from rich.markup import escape

from tracelake.cli.options import url_option

LEVEL_STYLES = {"ERROR": "red", "FATAL": "bold red", "WARN": "yellow", "DEBUG": "dim", "TRACE": "dim"}


@click.command("tail")
@click.argument("query", default="")
@url_option
def command(query: str, url: str) -> None:
    """Print new log lines matching QUERY as they arrive (Ctrl-C stops)."""
    from tracelake.client import Client

    console = Console(highlight=False)
    for row in Client(url).tail(query):
        level = row.get("level") or ""
        style = LEVEL_STYLES.get(level, "")
        console.print(
            f"{escape(str(row.get('timestamp')))} [{style}]{level:5}[/] "
            f"[cyan]{escape(str(row.get('service') or '-'))}[/] {escape(str(row.get('message') or ''))}"
        )
