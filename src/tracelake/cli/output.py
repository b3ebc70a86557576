"""Printing rows as a table, JSON lines or CSV."""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

FORMATS = ("table", "json", "csv")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def print_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> None:
    if fmt == "json":
        out = sys.stdout.buffer
        for row in rows:
            out.write(orjson.dumps(dict(zip(columns, row, strict=True))) + b"\n")
        out.flush()
    elif fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows([[_cell(v) for v in row] for row in rows])
    else:
        # Columns empty in every row (no trace ids, say) only take width from the rest.
        keep = [
            i for i in range(len(columns)) if any(row[i] not in (None, "") for row in rows)
        ] or list(range(len(columns)))
        table = Table(*(columns[i] for i in keep), header_style="bold")
        for row in rows:
            table.add_row(*(_cell(row[i]) for i in keep))
        console = Console()
        if not console.is_terminal:
            console.width = 240
        console.print(table)
