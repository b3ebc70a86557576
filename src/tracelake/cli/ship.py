"""``tracelake ship``: the agent that follows log files (or stdin) and ships them for good.

``tracelake send`` ships what a file holds now and exits; ``ship`` keeps following, survives
rotation, restarts and server outages, and remembers how far it got (see docs/ship.md).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from tracelake.cli.options import token_option, url_option


def _regex(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value.encode())
        except re.error as e:
            raise click.BadParameter(f"not a regular expression: {e}") from e
    return value


@click.command("ship")
@click.argument("patterns", nargs=-1, required=True, metavar="GLOB... | -")
@url_option
@token_option
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".tracelake-ship"),
    show_default=True,
    help="Where read offsets and the spool are kept.",
)
@click.option(
    "--from-end",
    is_flag=True,
    help="Start files found at start-up without saved offsets at their end.",
)
@click.option(
    "--multiline-start",
    metavar="REGEX",
    callback=_regex,
    help="A line this finds starts a record; other lines continue the previous one.",
)
@click.option(
    "--multiline-max-lines",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Lines of one record before it is cut.",
)
@click.option(
    "--multiline-max-bytes",
    type=click.IntRange(min=1024),
    default=512 * 1024,
    show_default=True,
    help="Bytes of one record (or line) before it is cut.",
)
@click.option(
    "--multiline-timeout",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="Seconds without a new line after which a pending record is shipped.",
)
@click.option(
    "--batch-lines",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Records per batch.",
)
@click.option(
    "--batch-bytes",
    type=click.IntRange(min=1024),
    default=1024 * 1024,
    show_default=True,
    help="NDJSON bytes per batch (before gzip).",
)
@click.option(
    "--flush-interval",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Seconds after its first record that a batch is sent however small.",
)
@click.option(
    "--spool-max-bytes",
    type=click.IntRange(min=0),
    default=256 * 1024 * 1024,
    show_default=True,
    help="Bound of the on-disk spool; past it the oldest batches go.",
)
@click.option(
    "--max-backoff",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Longest wait between retries while the server is away.",
)
@click.option(
    "--scan-interval",
    type=click.FloatRange(min=0.05),
    default=2.0,
    show_default=True,
    help="Seconds between re-globbing for new files.",
)
@click.option(
    "--close-inactive",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Seconds a file renamed away or deleted stays open once read to its end.",
)
@click.option(
    "--status-interval",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds between status lines when not on a terminal.",
)
@click.option(
    "--shutdown-timeout",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Seconds to wait for the server on exit before spooling.",
)
def command(
    patterns: tuple[str, ...],
    url: str,
    token: str | None,
    state_dir: Path,
    from_end: bool,
    multiline_start: str | None,
    multiline_max_lines: int,
    multiline_max_bytes: int,
    multiline_timeout: float,
    batch_lines: int,
    batch_bytes: int,
    flush_interval: float,
    spool_max_bytes: int,
    max_backoff: float,
    scan_interval: float,
    close_inactive: float,
    status_interval: float,
    shutdown_timeout: float,
) -> None:
    """Follow files matching GLOBs (or stdin: -) and ship every line, once, to the server.

    Survives rotation (rename and truncate), restarts (offsets in --state-dir) and server
    outages (retries with backoff and a disk spool). Ctrl-C or SIGTERM ships what was read,
    saves the offsets and exits 0.
    """
    from rich.console import Console

    from tracelake.ship.runner import Runner, ShipConfig

    use_stdin = "-" in patterns
    if use_stdin and len(patterns) > 1:
        raise click.UsageError("ship either files or stdin (-), not both: run two agents")
    config = ShipConfig(
        url=url,
        token=token,
        patterns=() if use_stdin else patterns,
        stdin=use_stdin,
        state_dir=state_dir,
        from_end=from_end,
        multiline_start=multiline_start,
        multiline_max_lines=multiline_max_lines,
        multiline_max_bytes=multiline_max_bytes,
        multiline_timeout=multiline_timeout,
        batch_lines=batch_lines,
        batch_bytes=batch_bytes,
        flush_interval=flush_interval,
        spool_max_bytes=spool_max_bytes,
        max_backoff=max_backoff,
        scan_interval=scan_interval,
        close_inactive=close_inactive,
        status_interval=status_interval,
        shutdown_timeout=shutdown_timeout,
    )
    console = Console(stderr=True, highlight=False)
    sys.exit(Runner(config, console, stdin=sys.stdin.buffer).run())
