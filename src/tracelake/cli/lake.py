"""``tracelake lake``: what the lake holds, compaction now, exports, and repair.

``tables``, ``partitions`` and ``export`` read the lake (each table's Delta commit log
and the Parquet files of its current version) and never write to it, so they work
with the server running or stopped, and on a lake ``lake_dir`` keeps apart from the
data directory (``--lake-dir``). ``compact`` asks the running server to flush its
memtable (only it knows its WAL) and compact every partition now. ``repair`` rebuilds a
lost or unreadable commit log from the segment files (``store/repair.py``), and only
with the server stopped.
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
_lake_dir = click.option(
    "--lake-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: os.environ.get("TRACELAKE_LAKE_DIR") or None,
    help="The lake's directory when lake_dir puts it elsewhere (env TRACELAKE_LAKE_DIR; "
    "default DATA_DIR/lake).",
)
_format = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True
)


def _lake(data_dir: Path, lake_dir: Path | None) -> Path:
    """The lake as the server sees it: ``lake_dir``, else ``<data_dir>/lake``."""
    return lake_dir if lake_dir is not None else data_dir / "lake"


def _iso(us: int | None) -> str | None:
    return None if us is None else datetime.fromtimestamp(us / 1e6, UTC).isoformat()


def _summary_row(i: Any) -> list[Any]:
    return [
        i.name,
        i.version,
        i.segments,
        i.compacted,
        i.rows,
        i.bytes,
        _iso(i.min_ts),
        _iso(i.max_ts),
    ]


_COLUMNS = ["name", "version", "segments", "compacted", "rows", "bytes", "oldest", "newest"]


@click.group("lake")
def command() -> None:
    """The Parquet lake: tables, partitions, compaction and exports."""


@command.command("tables")
@_data_dir
@_lake_dir
@_format
def tables(data_dir: Path, lake_dir: Path | None, fmt: str) -> None:
    """Each table's Delta version, segments, rows, bytes, time range and last commit."""
    from tracelake.lake.catalog import open_lake
    from tracelake.lake.catalog import tables as summarise

    rows = [
        [
            *_summary_row(t.summary),
            _iso(None if t.committed_ms is None else t.committed_ms * 1000),
            t.operation,
        ]
        for t in summarise(open_lake(_lake(data_dir, lake_dir), data_dir))
    ]
    print_rows([*_COLUMNS, "committed", "operation"], rows, fmt)


@command.command("partitions")
@click.argument("table")
@_data_dir
@_lake_dir
@_format
def partitions(table: str, data_dir: Path, lake_dir: Path | None, fmt: str) -> None:
    """The Hive partitions of TABLE's current version (events: type, then date and hour)."""
    from tracelake.lake.catalog import open_lake
    from tracelake.lake.catalog import partitions as summarise

    lake = open_lake(_lake(data_dir, lake_dir), data_dir)
    print_rows(_COLUMNS, [_summary_row(p) for p in summarise(lake, table)], fmt)


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
def export(
    table: str,
    out: Path,
    fmt: str | None,
    start: str | None,
    end: str | None,
    where: str | None,
    data_dir: Path,
    lake_dir: Path | None,
) -> None:
    """Write the rows of TABLE's current version (in a time range, optionally filtered) to OUT."""
    from tracelake.api.params import parse_time
    from tracelake.lake.export import export_table

    now = datetime.now(UTC)
    suffix = out.suffix.lstrip(".").lower()
    chosen = fmt or {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl"}.get(suffix, "parquet")
    rows = export_table(
        _lake(data_dir, lake_dir),
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
@_data_dir
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
