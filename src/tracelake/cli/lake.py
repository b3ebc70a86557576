"""``tracelake lake``: what the lake holds, compaction now, exports, and repair.

``tables``, ``partitions`` and ``export`` ask the running server (``--url``), as
``sql`` does, so they work wherever the lake is. Given ``--data-dir`` or ``--lake-dir``
(flag or environment) they read the lake's files themselves instead — each table's
Delta commit log and the Parquet files of its current version — and never write to
it, so they also work with the server stopped. ``compact`` asks the running server to
flush its memtable (only it knows its WAL) and compact every partition now. ``repair``
rebuilds a lost or unreadable commit log from the segment files (``store/repair.py``),
on the data directory itself, and only with the server stopped.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from tracelake.cli.options import token_option, url_option
from tracelake.cli.output import FORMATS, print_rows

_data_dir = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: os.environ.get("TRACELAKE_DATA_DIR") or None,
    help="Read the lake of this data directory from its files instead of asking the "
    "server (env TRACELAKE_DATA_DIR).",
)
_lake_dir = click.option(
    "--lake-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: os.environ.get("TRACELAKE_LAKE_DIR") or None,
    help="Read this lake directory from its files instead of asking the server "
    "(env TRACELAKE_LAKE_DIR; default DATA_DIR/lake).",
)
_format = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True
)


def _lake(data_dir: Path | None, lake_dir: Path | None) -> Path | None:
    """The lake directory to read from its files (``lake_dir``, else ``<data_dir>/lake``),
    or None: ask the server."""
    if lake_dir is not None:
        return lake_dir
    return None if data_dir is None else data_dir / "lake"


_COLUMNS = ["name", "version", "segments", "compacted", "rows", "bytes", "oldest", "newest"]


def _print(columns: list[str], found: list[dict[str, Any]], fmt: str) -> None:
    print_rows(columns, [[d.get(c) for c in columns] for d in found], fmt)


@click.group("lake")
def command() -> None:
    """The Parquet lake: tables, partitions, compaction and exports."""


@command.command("tables")
@_data_dir
@_lake_dir
@url_option
@token_option
@_format
def tables(
    data_dir: Path | None, lake_dir: Path | None, url: str, token: str | None, fmt: str
) -> None:
    """Each table's Delta version, segments, rows, bytes, time range and last commit."""
    columns = [*_COLUMNS, "committed", "operation"]
    lake = _lake(data_dir, lake_dir)
    if lake is None:
        from tracelake.client import Client

        _print(columns, Client(url, token=token).lake_tables(), fmt)
        return
    from tracelake.lake.catalog import open_lake
    from tracelake.lake.catalog import tables as summarise

    _print(columns, [t.as_dict() for t in summarise(open_lake(lake, data_dir))], fmt)


@command.command("partitions")
@click.argument("table")
@_data_dir
@_lake_dir
@url_option
@token_option
@_format
def partitions(
    table: str, data_dir: Path | None, lake_dir: Path | None, url: str, token: str | None, fmt: str
) -> None:
    """The Hive partitions of TABLE's current version (events: type, then date and hour)."""
    lake = _lake(data_dir, lake_dir)
    if lake is None:
        from tracelake.client import Client

        _print(_COLUMNS, Client(url, token=token).lake_partitions(table), fmt)
        return
    from tracelake.lake.catalog import open_lake
    from tracelake.lake.catalog import partitions as summarise

    _print(_COLUMNS, [p.as_dict() for p in summarise(open_lake(lake, data_dir), table)], fmt)


@command.command("compact")
@url_option
@token_option
def compact(url: str, token: str | None) -> None:
    """Ask the running server to flush its memtable and compact every partition."""
    from tracelake.client import Client

    done = Client(url, token=token).compact()
    click.echo(
        f"flushed {done['flushed_rows']} rows, compacted {done['compacted_groups']} "
        f"partition groups; the lake has {done['segments']} segments"
    )


@command.command("export")
@click.argument("table")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--to-format",
    "fmt",
    type=click.Choice(["parquet", "csv", "jsonl"]),  # lake/export.py FORMATS (not imported: duckdb)
    default=None,
    help="File format (default: from OUT's suffix, else parquet).",
)
@click.option("--from", "start", help="Start of the time range (ISO 8601, epoch, or -2h).")
@click.option("--to", "end", help="End of the time range, exclusive (same forms).")
@click.option("--where", help="A SQL condition on the table's columns, e.g. \"type = 'refund'\".")
@_data_dir
@_lake_dir
@url_option
@token_option
def export(
    table: str,
    out: Path,
    fmt: str | None,
    start: str | None,
    end: str | None,
    where: str | None,
    data_dir: Path | None,
    lake_dir: Path | None,
    url: str,
    token: str | None,
) -> None:
    """Write the rows of TABLE's current version (in a time range, optionally filtered) to OUT."""
    suffix = out.suffix.lstrip(".").lower()
    chosen = fmt or {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl"}.get(suffix, "parquet")
    lake = _lake(data_dir, lake_dir)
    if lake is None:
        from tracelake.client import Client

        out.parent.mkdir(parents=True, exist_ok=True)
        rows = Client(url, token=token).lake_export(
            table, out, format=chosen, where=where, **{"from": start, "to": end}
        )
        click.echo(f"wrote {rows} rows of {table} to {out} ({chosen})")
        return
    from tracelake.api.params import parse_time
    from tracelake.lake.export import export_table

    now = datetime.now(UTC)
    rows = export_table(
        lake,
        table,
        out,
        chosen,
        start=parse_time(start, "--from", now),
        end=parse_time(end, "--to", now),
        where=where,
        data_dir=data_dir,
    )
    click.echo(f"wrote {rows} rows of {table} to {out} ({chosen})")


@command.command("repair")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: os.environ.get("TRACELAKE_DATA_DIR", "data"),
    show_default="data",
    help="The stopped server's data directory (env TRACELAKE_DATA_DIR).",
)
def repair(data_dir: Path) -> None:
    """Rebuild a table's missing or unreadable commit log from its files (stop the server first)."""
    from tracelake.store.repair import repair_lake

    report = repair_lake(data_dir)
    if not report.tables:
        click.echo("every table's commit log reads: nothing to repair")
        return
    click.echo(
        f"rebuilt the commit log of {', '.join(report.tables)}: {report.segments} segments, "
        f"{report.rows} rows; {report.wal_pending} WAL files replay at the next start"
    )
    for old in report.old_logs:
        click.echo(f"the unreadable log is kept as {old}")
    for path, why in report.set_aside:
        click.echo(f"set aside {path}: {why}")
    if report.unchecked and report.wal_pending:
        click.echo(
            f"{report.unchecked} segments predate provenance metadata: rows the WAL still "
            "holds may be counted twice"
        )
    click.echo(f"start the server again: tracelake serve --data-dir {data_dir}")
