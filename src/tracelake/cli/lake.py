"""``tracelake lake``: what the lake holds, compaction now, exports, and repair.

``tables``, ``partitions`` and ``export`` read the data directory (its manifest and
Parquet files) and never write to it, so they work with the server running or
stopped. ``compact`` asks the running server, the lake's only writer, to flush and
compact every partition now. ``repair`` rebuilds a lost or unreadable manifest from the
segment files (``store/repair.py``), and only with the server stopped.
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
    default=lambda: os.environ.get("TRACELAKE_DATA_DIR", "data"),
    show_default="data",
    help="The server's data directory (env TRACELAKE_DATA_DIR).",
)
_format = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True
)


def _iso(us: int | None) -> str | None:
    return None if us is None else datetime.fromtimestamp(us / 1e6, UTC).isoformat()


def _summary_rows(items: list[Any]) -> list[list[Any]]:
    return [
        [i.name, i.segments, i.compacted, i.rows, i.bytes, _iso(i.min_ts), _iso(i.max_ts)]
        for i in items
    ]


_COLUMNS = ["name", "segments", "compacted", "rows", "bytes", "oldest", "newest"]


@click.group("lake")
def command() -> None:
    """The Parquet lake: tables, partitions, compaction and exports."""


@command.command("tables")
@_data_dir
@_format
def tables(data_dir: Path, fmt: str) -> None:
    """Each table's segments, rows, bytes and time range."""
    from tracelake.lake.catalog import load_manifest
    from tracelake.lake.catalog import tables as summarise

    print_rows(_COLUMNS, _summary_rows(summarise(load_manifest(data_dir))), fmt)


@command.command("partitions")
@click.argument("table")
@_data_dir
@_format
def partitions(table: str, data_dir: Path, fmt: str) -> None:
    """The Hive partitions of TABLE (events: type, then date and hour)."""
    from tracelake.lake.catalog import load_manifest
    from tracelake.lake.catalog import partitions as summarise

    print_rows(_COLUMNS, _summary_rows(summarise(load_manifest(data_dir), table)), fmt)


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
def export(
    table: str,
    out: Path,
    fmt: str | None,
    start: str | None,
    end: str | None,
    where: str | None,
    data_dir: Path,
) -> None:
    """Write TABLE's rows (in a time range, optionally filtered) to the file OUT."""
    from tracelake.api.params import parse_time
    from tracelake.lake.export import export_table

    now = datetime.now(UTC)
    suffix = out.suffix.lstrip(".").lower()
    chosen = fmt or {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl"}.get(suffix, "parquet")
    rows = export_table(
        data_dir,
        table,
        out,
        chosen,
        start=parse_time(start, "--from", now),
        end=parse_time(end, "--to", now),
        where=where,
    )
    click.echo(f"wrote {rows} rows of {table} to {out} ({chosen})")


@command.command("repair")
@_data_dir
def repair(data_dir: Path) -> None:
    """Rebuild lake/_manifest.json from the segment files (stop the server first)."""
    from tracelake.store.repair import repair_lake

    report = repair_lake(data_dir)
    click.echo(
        f"rebuilt {report.manifest}: {report.segments} segments, {report.rows} rows; "
        f"{report.wal_pending} WAL files replay at the next start"
    )
    if report.old_manifest is not None:
        click.echo(f"the old manifest is kept as {report.old_manifest}")
    for path, why in report.set_aside:
        click.echo(f"set aside {path}: {why}")
    if report.unchecked and report.wal_pending:
        click.echo(
            f"{report.unchecked} segments predate provenance metadata: rows the WAL still "
            "holds may be counted twice"
        )
    click.echo(f"start the server again: tracelake serve --data-dir {data_dir}")
