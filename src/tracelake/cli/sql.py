"""``tracelake sql``: read-only SQL over the lake's tables."""

from __future__ import annotations

import click

from tracelake.cli.options import token_option, url_option
from tracelake.cli.output import FORMATS, print_rows


@click.command("sql")
@click.argument("statement")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@url_option
@token_option
def command(statement: str, fmt: str, url: str, token: str | None) -> None:
    """Run one SELECT STATEMENT over logs (and the other lake tables)."""
    from tracelake.client import Client

    data = Client(url, token=token).sql(statement)
    print_rows(data["columns"], data["rows"], fmt)
    if data.get("truncated"):
        click.echo(f"(truncated at {len(data['rows'])} rows: add a LIMIT or aggregate)", err=True)
