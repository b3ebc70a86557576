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


#: The stream listeners' port flags, shared by ``serve`` and ``demo``: (flag, what, default).
LISTENER_PORTS = (
    ("--tcp-port", "JSON lines over TCP/UDP", 4560),
    ("--syslog-port", "Syslog over UDP/TCP", 5514),
    ("--forward-port", "Fluentd forward", 24224),
)


def listener_port_options(absent: str | None = None) -> Callable[[F], F]:
    """``--tcp-port``, ``--syslog-port``, ``--forward-port``; ``absent`` says what a missing
    flag means for this command (None: the listener's standard port)."""

    def decorate(fn: F) -> F:
        for flag, what, port in reversed(LISTENER_PORTS):
            default = absent or str(port)
            fn = click.option(
                flag, type=int, help=f"{what} (default {default}; 0 a free port, -1 off)."
            )(fn)
        return fn

    return decorate
