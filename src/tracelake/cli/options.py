"""Options several commands share."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from tracelake.client import DEFAULT_URL

F = TypeVar("F", bound=Callable[..., Any])


def url_option(fn: F) -> F:
    decorated: F = click.option(
        "--url",
        default=lambda: os.environ.get("TRACELAKE_URL", DEFAULT_URL),
        show_default=DEFAULT_URL,
        help="Server to talk to (env TRACELAKE_URL).",
    )(fn)
    return decorated


def token_option(fn: F) -> F:
    """``--token``: the API token a server with tokens configured asks for (docs/security.md)."""
    decorated: F = click.option(
        "--token",
        default=lambda: os.environ.get("TRACELAKE_TOKEN"),
        show_default="env TRACELAKE_TOKEN",
        help="API token, when the server requires one (env TRACELAKE_TOKEN).",
    )(fn)
    return decorated
