"""One demo service as its own process: ``python -m tracelake.demo.service NAME ...``.

Why a process each: the demo should look like a real fleet — four services with their
own pids, ports, tracer providers and log shippers, joined only by HTTP and trace
context. The process sets itself up exactly as a user's service would (one
``configure_logging`` and one ``configure_tracing`` call), serves with uvicorn, and
exits when told to (SIGTERM/SIGINT) or when the process that started it is gone.

    python -m tracelake.demo.service orders --port 8002 --endpoint http://127.0.0.1:7700 \\
        --downstream payments=http://127.0.0.1:8003 --downstream inventory=http://127.0.0.1:8004
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import socket
import threading
from collections.abc import Sequence

import uvicorn
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from tracelake.demo import extras
from tracelake.demo.services import TOPOLOGY
from tracelake.demo.services.app import ASGIApp
from tracelake.demo.services.downstream import PeerService
from tracelake.sdk.logging import configure_logging
from tracelake.sdk.tracing import configure_tracing, shutdown_tracing

ORPHAN_CHECK_S = 0.5


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tracelake.demo.service")
    parser.add_argument("name", choices=sorted(TOPOLOGY), help="which service to run")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", type=int, help="port to listen on (127.0.0.1)")
    where.add_argument("--fd", type=int, help="an inherited listening socket to serve on")
    parser.add_argument("--endpoint", required=True, help="base URL of the tracelake server")
    parser.add_argument(
        "--downstream", action="append", default=[], metavar="NAME=URL",
        help="where a service this one calls listens (repeat per service)",
    )  # fmt: skip
    parser.add_argument(
        "--parent-pid", type=int, help="exit when this process is gone (no orphans)"
    )
    args = parser.parse_args(argv)
    args.downstream = dict(item.split("=", 1) for item in args.downstream)
    missing = [d for d in TOPOLOGY[args.name] if d not in args.downstream]
    if missing:
        parser.error(f"{args.name} calls {missing[0]}: pass --downstream {missing[0]}=URL")
    return args


def listening_socket(args: argparse.Namespace) -> socket.socket:
    if args.fd is not None:
        return socket.socket(fileno=args.fd)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(128)
    return sock


def build(name: str, downstream: dict[str, str]) -> ASGIApp:
    module = importlib.import_module(f"tracelake.demo.services.{name}")
    app: ASGIApp = module.build(downstream)
    return app


def watch_parent(parent_pid: int, server: uvicorn.Server) -> threading.Event:
    """Stop serving once the parent is gone (killed with -9, say): no orphan services.

    Returns:
        An event set when that happened (the server went with it: do not wait to flush).
    """
    orphaned = threading.Event()

    def watch() -> None:
        while not orphaned.wait(ORPHAN_CHECK_S):
            if os.getppid() != parent_pid:
                orphaned.set()
                server.should_exit = True

    threading.Thread(target=watch, name="demo-parent-watch", daemon=True).start()
    return orphaned


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    name: str = args.name
    handler = configure_logging(
        service=name, endpoint=args.endpoint, console=False, flush_interval=0.5
    )
    for noisy in ("httpx", "httpcore"):  # one line per request is ours to write
        logging.getLogger(noisy).setLevel(logging.WARNING)
    configure_tracing(service=name, endpoint=args.endpoint, export_interval_ms=500)
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.add_span_processor(PeerService())

    sock = listening_socket(args)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        build(name, args.downstream),
        lifespan="on",
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    orphaned = watch_parent(args.parent_pid, server) if args.parent_pid else threading.Event()
    extras.configure(name, args.endpoint)
    extras.register(name, port, args.endpoint)
    logging.getLogger(f"demo.{name}").info(
        "%s listening on port %d", name, port, extra={"port": port}
    )
    try:
        server.run(sockets=[sock])
    finally:
        logging.getLogger(f"demo.{name}").info("%s stopped", name)
        flush_s = 0.2 if orphaned.is_set() else 3.0
        extras.deregister()
        extras.flush(flush_s)
        shutdown_tracing(int(flush_s * 1000))
        handler.close(flush_s)


if __name__ == "__main__":
    main()
