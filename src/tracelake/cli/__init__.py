"""The ``tracelake`` command: one module per noun, errors as one line and a non-zero exit."""

from __future__ import annotations

import sys

import click

from tracelake import __version__
from tracelake.cli import demo, lake, query, send, serve, ship, sql, tail, token
from tracelake.errors import ConfigError, TracelakeError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tracelake")
def cli() -> None:
    """tracelake: logs, traces, metrics and a Parquet lake for Python services."""


for module in (serve, query, tail, sql, send, ship, demo, token, lake):
    cli.add_command(module.command)


def main() -> None:
    """Entry point: run the group, turning our errors into one line on stderr."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except ConfigError as e:
        click.echo(f"error: {e.message}", err=True)
        sys.exit(2)
    except TracelakeError as e:
        click.echo(f"error: {e.message}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
