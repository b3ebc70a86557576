"""``tracelake tail``: follow matching log lines live.

On a terminal each record is one line, its message cut where the line ends; to a pipe or
a file every line is written whole (never wrapped), so grep sees whole records.
"""

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
        if console.is_terminal:  # one record, one line: the message cut where the line ends
            line.no_wrap, line.overflow = True, "ellipsis"
            console.print(line)
        else:  # a pipe or a file gets every line whole
            console.print(line, soft_wrap=True)
        console.file.flush()  # a pipe reader sees each line as it comes
