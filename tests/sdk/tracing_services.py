"""A small example service for the tracing end-to-end test, run as its own process.

``python tracing_services.py NAME KIND PORT TRACELAKE_URL [DOWNSTREAM_URL]`` serves
``/work`` (other paths answer without the downstream call, for readiness probes):
WSGI (wsgiref, calling downstream with ``requests``) or ASGI (uvicorn, calling
downstream with ``httpx``). The service is instrumented only through
``configure_tracing`` (+ the stdlib logging set-up of ``tracelake.sdk.logging``); it
answers the trace id it saw, the propagation headers it received, and what its
downstream answered.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
from typing import Any

from opentelemetry import trace

from tracelake.sdk.logging import configure_logging
from tracelake.sdk.tracing import configure_tracing, instrument_asgi, instrument_wsgi

PROPAGATION_HEADERS = ("traceparent", "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-sampled")


def main() -> None:
    name, kind, port, tracelake_url = sys.argv[1:5]
    downstream = sys.argv[5] if len(sys.argv) > 5 else None
    configure_tracing(service=name, endpoint=tracelake_url, export_interval_ms=100)
    configure_logging(service=name, endpoint=tracelake_url, console=False, flush_interval=0.1)
    log = logging.getLogger(name)

    def answer(headers: dict[str, str], below: Any) -> bytes:
        trace_id = format(trace.get_current_span().get_span_context().trace_id, "032x")
        seen = {k: v for k, v in headers.items() if k in PROPAGATION_HEADERS}
        return json.dumps(
            {"service": name, "trace_id": trace_id, "headers": seen, "downstream": below}
        ).encode()

    if kind == "wsgi":
        import requests

        def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            log.info("%s is handling %s", name, environ["PATH_INFO"])
            headers = {
                k[5:].lower().replace("_", "-"): v
                for k, v in environ.items()
                if k.startswith("HTTP_")
            }
            below = None
            if downstream and environ["PATH_INFO"] == "/work":
                below = requests.get(downstream, timeout=10).json()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [answer(headers, below)]

        from wsgiref.simple_server import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = make_server("127.0.0.1", int(port), instrument_wsgi(wsgi_app), handler_class=Quiet)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        server.serve_forever()
    else:
        import httpx
        import uvicorn

        async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return
            log.info("%s is handling %s", name, scope["path"])
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            below = None
            if downstream and scope["path"] == "/work":
                async with httpx.AsyncClient() as client:
                    below = (await client.get(downstream, timeout=10)).json()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": answer(headers, below)})

        # log_config=None: uvicorn's own dictConfig would close the handlers set up above
        uvicorn.run(
            instrument_asgi(asgi_app),
            host="127.0.0.1",
            port=int(port),
            log_level="warning",
            log_config=None,
        )


if __name__ == "__main__":
    main()
