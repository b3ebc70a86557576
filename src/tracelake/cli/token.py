"""``tracelake token``: make API tokens and the hashes the server keeps of them.

The server stores only SHA-256 hashes (``tokens`` in tracelake.toml), so the plain token
is shown once, here, and then lives only with whoever uses it.
"""

from __future__ import annotations

import sys

import click

from tracelake.errors import ConfigError
from tracelake.security.tokens import SCOPES, check_name, check_plain, hash_token, new_token


def _entry(name: str, scopes: tuple[str, ...], digest: str) -> str:
    """The TOML line for the tokens setting; the name is checked by the caller, so it
    cannot break out of its quotes."""
    listed = ", ".join(f'"{s}"' for s in dict.fromkeys(scopes))
    return f'{{ name = "{name}", scopes = [{listed}], sha256 = "{digest}" }}'


@click.group("token")
def command() -> None:
    """Make API tokens and their hashes for the tokens setting."""


@command.command("new")
@click.option("--name", required=True, help="Who or what will use the token (shown in errors).")
@click.option(
    "--scope",
    "scopes",
    type=click.Choice(SCOPES),
    multiple=True,
    required=True,
    help="What it may do; repeat for several.",
)
def new(name: str, scopes: tuple[str, ...]) -> None:
    """Print a fresh random token, and the tokens entry that admits it."""
    check_name(name, "--name")
    token = new_token()
    click.echo(f"token: {token}")
    click.echo("add to tokens in tracelake.toml (the server keeps only the hash):")
    click.echo(f"  {_entry(name, scopes, hash_token(token))}")


@command.command("hash")
@click.argument("token", required=False)
def hash_(token: str | None) -> None:
    """Print the sha256 of TOKEN (read from stdin when not given, to keep it out of shell history)."""
    plain = token if token is not None else sys.stdin.readline().strip()
    if not plain:
        raise ConfigError("no token given: pass it as an argument or on stdin")
    click.echo(hash_token(check_plain(plain, "token")))
