"""``tracelake query``: search the logs from the terminal."""

from __future__ import annotations

import click

from tracelake.cli.options import token_option, url_option
from tracelake.cli.output import FORMATS, print_rows


@click.command("query")
@click.argument("query", default="")
@click.option("--since", default="1h", show_default=True, help="How far back: 15m, 2h, 7d.")
@click.option("--from", "start", help="Start of the range (ISO 8601 or -15m); overrides --since.")
@click.option("--to", "end", help="End of the range (default now).")
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--explain", is_flag=True, help="Print the SQL the query compiles to and exit.")
@url_option
@token_option
def command(
    query: str,
    since: str,
    start: str | None,
    end: str | None,
    limit: int,
    fmt: str,
    explain: bool,
    url: str,
    token: str | None,
) -> None:
    """Run a search QUERY, e.g. 'level:error service:orders | stats count() by bin(5m)'."""
    if explain:
        from tracelake.query import compile_query

        compiled = compile_query(query, limit=limit)
        click.echo(compiled.sql)
        click.echo(f"-- params: {compiled.params!r}")
        return
    from tracelake.client import Client

    client = Client(url, token=token)
    data = client.search(query, **{"from": start or f"-{since}", "to": end, "limit": limit})
    if not data["rows"]:
        window = f"between {start} and {end or 'now'}" if start else f"in the last {since}"
        what = f"matched {query!r}" if query else "arrived"
        click.echo(f"no logs {what} {window}: widen --since or loosen the query", err=True)
        return
    columns = data["columns"]
    print_rows(columns, [[r.get(c) for c in columns] for r in data["rows"]], fmt)
    if data.get("truncated"):
        click.echo(
            f"(truncated at {len(data['rows'])} rows: raise --limit or narrow the query)", err=True
        )
