"""``tracelake sql``: read-only SQL over the lake's tables."""

from __future__ import annotations

import click

from tracelake.cli.options import token_option, url_option
from tracelake.cli.output import FORMATS, print_rows


@click.command("sql")
@click.argument("statement")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option(
    "--as-of",
    "as_of",
    metavar="TIME|VERSION",
    help="Read the lake as of an RFC 3339 time (2026-12-01T10:00:00Z) or a table version.",
)
@url_option
@token_option
def command(statement: str, fmt: str, as_of: str | None, url: str, token: str | None) -> None:
    """Run one SELECT STATEMENT over logs (and the other lake tables)."""
    from tracelake.client import Client

    # All digits is a version (the server takes it as a JSON integer); anything else is
    # the server's to read as a time, so its one-line 400 names the accepted forms.
    point: int | str | None = int(as_of) if as_of and as_of.strip().isdigit() else as_of
    data = Client(url, token=token).sql(statement, as_of=point)
    print_rows(data["columns"], data["rows"], fmt)
    if data.get("truncated"):
        click.echo(f"(truncated at {len(data['rows'])} rows: add a LIMIT or aggregate)", err=True)
