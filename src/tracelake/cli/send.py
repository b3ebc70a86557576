"""``tracelake send``: ship NDJSON or plain-text log files (or stdin) to the server."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import BinaryIO

import click
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from tracelake.cli.options import token_option, url_option
from tracelake.ship.records import as_ndjson_line

BATCH_LINES = 5000
BATCH_BYTES = 4 * 1024 * 1024


def batches(stream: BinaryIO, source: str) -> Iterator[tuple[bytes, int, int]]:
    """(NDJSON body, lines, raw bytes read) per batch."""
    lines: list[bytes] = []
    size = raw = 0
    for line in stream:
        raw += len(line)
        if not line.strip():
            continue
        converted = as_ndjson_line(line, source)
        lines.append(converted)
        size += len(converted) + 1
        if len(lines) >= BATCH_LINES or size >= BATCH_BYTES:
            yield b"\n".join(lines) + b"\n", len(lines), raw
            lines, size, raw = [], 0, 0
    if lines:
        yield b"\n".join(lines) + b"\n", len(lines), raw


@click.command("send")
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@url_option
@token_option
def command(files: tuple[str, ...], url: str, token: str | None) -> None:
    """Ship FILES (NDJSON or plain text; - for stdin), with a progress bar."""
    from tracelake.client import Client, ClientError

    for name in files:  # every problem said before anything is sent
        if name != "-" and os.path.isdir(name):
            raise ClientError(
                f"{name!r} is a directory: pass the log files in it (e.g. {name}/*.log) "
                "or - for stdin"
            )
        if name != "-" and not os.path.isfile(name):
            raise ClientError(f"no such file {name!r}: pass log files or - for stdin")
    client = Client(url, token=token)
    client.ping()
    accepted = rejected = 0
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[lines]} lines"),
        transient=False,
    ) as progress:
        for name in files:
            total = None if name == "-" else os.path.getsize(name)
            task = progress.add_task(name, total=total, lines=0)
            with sys.stdin.buffer if name == "-" else open(name, "rb") as stream:
                sent = 0
                for body, count, raw in batches(stream, name):
                    result = client.send_logs(body)
                    accepted += result["accepted"]
                    rejected += result["rejected"]
                    for error in result["errors"][:3]:
                        progress.console.print(f"[yellow]{name}: rejected: {error['error']}")
                    sent += count
                    progress.update(task, advance=raw, lines=sent)
    click.echo(f"sent {accepted} lines, {rejected} rejected", err=True)
    if rejected and not accepted:
        sys.exit(1)
