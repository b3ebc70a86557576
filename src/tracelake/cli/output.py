"""Printing rows as a table, JSON lines or CSV.

A table on a terminal fits the terminal: the time comes first and whole, the message
last, cut with an ellipsis where the line ends, so one record is one line. Printed to a
pipe or a file, nothing is ever wrapped or cut (a reader greps whole lines): columns are
padded to their widest cell and the last one is written as it is.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

FORMATS = ("table", "json", "csv")
#: Columns shown first (whole) and last (cut to the terminal) when a table has them.
FIRST, LAST = "timestamp", "message"


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
        order = _table_order(columns, rows)
        header = [columns[i] for i in order]
        body = [[_cell(row[i]) for i in order] for row in rows]
        console = Console()
        if console.is_terminal:
            _print_fitted(console, header, body)
        else:
            _print_plain(header, body)


def _table_order(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[int]:
    """The columns to show, time first and message last; columns empty in every row (no
    trace ids, say) are left out, so they take no width from the rest."""
    keep = [
        i for i in range(len(columns)) if any(row[i] not in (None, "") for row in rows)
    ] or list(range(len(columns)))
    rank = {FIRST: 0, LAST: 2}
    return sorted(keep, key=lambda i: rank.get(columns[i], 1))  # stable: the rest keep order


def _widths(header: list[str], body: list[list[str]]) -> list[int]:
    return [max(len(c) for c in [name, *(row[i] for row in body)]) for i, name in enumerate(header)]


def _print_fitted(console: Console, header: list[str], body: list[list[str]]) -> None:
    widths = _widths(header, body)
    if header[-1] == LAST:  # the message takes what the others leave of the line
        borders = 3 * len(header) + 1  # a rule and a space either side of every cell
        widths[-1] = max(len(LAST), min(widths[-1], console.width - borders - sum(widths[:-1])))
    table = Table(header_style="bold")
    for name, width in zip(header, widths, strict=True):
        table.add_column(name, no_wrap=True, overflow="ellipsis", width=width)
    for row in body:
        table.add_row(*row)
    console.print(table)


def _print_plain(header: list[str], body: list[list[str]]) -> None:
    widths = _widths(header, body)
    out = sys.stdout
    for row in [header, *body]:
        padded = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=False)]
        out.write("  ".join([*padded, row[-1]]).rstrip() + "\n")
    out.flush()
