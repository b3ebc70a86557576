"""``tracelake tail``: follow matching log lines live."""

from __future__ import annotations

import click
from rich.console import Console
from rich.text import Text

from tracelake.cli.options import token_option, url_option

LEVEL_STYLES = {
    "ERROR": "red",
    "FATAL": "bold red",
    "WARN": "yellow",
    "DEBUG": "dim",
    "TRACE": "dim",
}


@click.command("tail")
@click.argument("query", default="")
@url_option
@token_option
def command(query: str, url: str, token: str | None) -> None:
    """Print new log lines matching QUERY as they arrive (Ctrl-C stops)."""
    from tracelake.client import Client

    console = Console(highlight=False)
    for row in Client(url, token=token).tail(query):
        level = row.get("level") or ""
        line = Text.assemble(
            (str(row.get("timestamp")), "dim"),
            " ",
            (f"{level:5}", LEVEL_STYLES.get(level, "")),
            " ",
            (str(row.get("service") or "-"), "cyan"),
            " ",
            str(row.get("message") or ""),
        )
        console.print(line)
        console.file.flush()  # a pipe reader sees each line as it comes
