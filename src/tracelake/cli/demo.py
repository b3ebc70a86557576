"""``tracelake demo``: the server plus example services under traffic, in one command."""

from __future__ import annotations

import logging
import socket

import click
from rich.console import Console

from tracelake.cli.options import listener_port_options
from tracelake.settings import Settings

DEFAULT_DATA_DIR = "data-demo"


@click.command("demo")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    help="Where the demo's WAL and lake live (kept apart from a real server's).",
)
@click.option("--host", help="Address the server binds (default 127.0.0.1).")
@click.option("--http-port", type=int, help="The server's HTTP port (default 7700; 0 picks one).")
@listener_port_options("a free port, printed")
@click.option("--no-traffic", is_flag=True, help="Start the services but send them nothing.")
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop by itself after this many seconds of traffic (default: run until Ctrl-C).",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Run the fault schedule this many times faster.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Requests per second sent to the gateway.",
)
def command(
    data_dir: str,
    host: str | None,
    http_port: int | None,
    tcp_port: int | None,
    syslog_port: int | None,
    forward_port: int | None,
    no_traffic: bool,
    duration: float | None,
    speed: float,
    rate: float,
) -> None:
    """Run the server with four example services, traffic and scheduled faults."""
    from tracelake.demo.runner import DemoOptions, run_demo

    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    console = Console(highlight=False, soft_wrap=True)
    settings = Settings.load(overrides={"data_dir": data_dir, "host": host, "http_port": http_port})
    if (
        http_port is None
        and settings.http_port
        and not _can_bind(settings.host, settings.http_port)
    ):
        # `make run` must start whatever else runs here; the URL printed says where it went
        console.print(f"port {settings.http_port} is in use: the demo takes a free port instead")
        settings = Settings.load(overrides={"data_dir": data_dir, "host": host, "http_port": 0})
    options = DemoOptions(traffic=not no_traffic, duration=duration, speed=speed, rate=rate)
    ports = {"tcp_port": tcp_port, "syslog_port": syslog_port, "forward_port": forward_port}
    run_demo(settings, options, console, ports)


def _can_bind(host: str, port: int) -> bool:
    """Whether a TCP listener could take ``host:port`` now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
