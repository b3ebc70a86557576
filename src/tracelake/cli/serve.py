"""``tracelake serve``: run the server in the foreground."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import click
from rich.console import Console

from tracelake.cli.options import listener_port_options
from tracelake.settings import Settings, unknown_variables


@click.command("serve")
@click.option(
    "--data-dir", type=click.Path(file_okay=False), help="Where the WAL and the lake live."
)
@click.option("--host", help="Address to bind (default 127.0.0.1).")
@click.option("--http-port", type=int, help="HTTP port (default 7700; 0 picks a free one).")
@listener_port_options()
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="A tracelake.toml.")
@click.option("--log-level", default="INFO", show_default=True, help="Server log level.")
def command(
    data_dir: str | None,
    host: str | None,
    http_port: int | None,
    tcp_port: int | None,
    syslog_port: int | None,
    forward_port: int | None,
    config_file: str | None,
    log_level: str,
) -> None:
    """Run the server: ingest, store, query API and UI on one port."""
    from tracelake.server import Server

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings.load(
        config_file,
        overrides={
            "data_dir": data_dir,
            "host": host,
            "http_port": http_port,
            "tcp_port": tcp_port,
            "syslog_port": syslog_port,
            "forward_port": forward_port,
        },
    )
    for line in unknown_variables():
        logging.getLogger("tracelake.settings").warning(line)
    console = Console(stderr=True)

    def ready(server: Server) -> None:
        url = server.state.listeners["http"]
        console.print(
            f"[bold green]tracelake[/] ready on [link={url}]{url}[/link]  (data in {settings.data_dir})"
        )
        console.print(
            f"  UI {url}/   search {url}/api/v1/search?q=   ingest POST {url}/api/v1/logs"
        )
        streams = ", ".join(f"{k} {v}" for k, v in server.state.listeners.items() if k != "http")
        if streams:
            console.print(f"  streams: {streams}")
        if settings.host not in ("127.0.0.1", "::1", "localhost"):
            console.print(
                f"  listening on {settings.host}: every route needs a token (docs/security.md)"
            )

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(Server(settings).run(on_ready=ready))
