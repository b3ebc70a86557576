"""Registering a service with tracelake's registry, and keeping it registered.

Why in the SDK: one call at start-up makes the instance known to the scraper, to
Prometheus (through tracelake's HTTP service discovery) and to ``/turbine.stream``::

    from tracelake.sdk import register

    registration = register("orders", port=8001)

A daemon thread renews the lease every ``heartbeat_interval`` seconds; when the server
answers 404 (it evicted the instance, or lost it) the thread registers again, and when
the server cannot be reached, refuses the token or answers something that is not HTTP
it keeps trying without ever raising into the service. Only a registration the server
finds malformed (400, 413: a bug at the call site) raises, once, from ``register``.
``close()`` (also run at interpreter exit) deregisters. Only the standard library is
used, so a service that installs plain ``tracelake`` pays nothing for the server.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import socket
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import weakref
from typing import Any, Final

__all__ = ["DEFAULT_ENDPOINT", "Registration", "register"]

DEFAULT_ENDPOINT: Final = "http://127.0.0.1:7700"
_PREFIX: Final = "/api/v1/registry/instances"
_USER_AGENT: Final = "tracelake-python-sdk"


def _reachable_host(endpoint: str) -> str:
    """The address this machine uses to reach the server: what the server can call back.

    A UDP ``connect`` sends nothing; it only asks the OS which local address routes
    to the server (loopback for a local server).
    """
    parts = urllib.parse.urlsplit(endpoint)
    target = parts.hostname or "127.0.0.1"
    try:
        family = socket.AF_INET6 if ":" in target else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect((target, parts.port or 80))
            return str(s.getsockname()[0])
    except OSError:
        return socket.gethostname()


#: Answers to the first registration that mean the call itself is wrong: raised.
_CALLER_ERRORS: Final = frozenset({400, 413})


class _Answer(Exception):
    """An HTTP answer other than 2xx, with the server's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class Registration:
    """One registered instance, kept alive by a heartbeat thread until ``close()``.

    Attributes:
        service: The service name.
        instance_id: The id the server knows it by (``host:port`` unless given).
        registered: Whether the last exchange with the server left it registered.
        last_error: Text of the last failure to reach the server, or None.
    """

    def __init__(
        self,
        endpoint: str,
        body: dict[str, Any],
        heartbeat_interval: float,
        timeout: float,
        token: str | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._headers = {"Content-Type": "application/json", "User-Agent": _USER_AGENT}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self.service: str = body["service"]
        self.instance_id: str = body.get("instance_id") or ""
        self.registered = False
        self.last_error: str | None = None
        self.heartbeat_interval = heartbeat_interval
        self._body = body
        self._timeout = timeout
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(
            target=self._run, name=f"tracelake-registry-{self.service}", daemon=True
        )

    # -- HTTP --------------------------------------------------------------------

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.endpoint + path,
            data=data,
            method=method,
            headers=self._headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")
            try:
                message = json.loads(text).get("error", text)
            except (ValueError, AttributeError):
                message = text
            raise _Answer(e.code, str(message)[:300]) from e
        return json.loads(payload) if payload else None

    def _instance_path(self) -> str:
        service = urllib.parse.quote(self.service, safe="")
        instance = urllib.parse.quote(self.instance_id, safe="")
        return f"{_PREFIX}/{service}/{instance}"

    def _register(self) -> None:
        answer = self._call("POST", _PREFIX, self._body)
        self.instance_id = answer["instance_id"]
        self._body["instance_id"] = self.instance_id
        self.registered = True
        self.last_error = None

    def _beat(self) -> None:
        try:
            self._call("PUT", self._instance_path() + "/heartbeat")
            self.registered = True
            self.last_error = None
        except _Answer as e:
            if e.status != 404:
                raise
            self.registered = False
            self._register()  # evicted or forgotten: register again

    def _note(self, error: BaseException) -> None:
        self.last_error = f"{type(error).__name__}: {error}"
        with contextlib.suppress(Exception):
            sys.stderr.write(f"tracelake sdk (registry): {self.service}: {self.last_error}\n")

    # -- lifecycle ---------------------------------------------------------------

    def _start(self) -> None:
        """Register now; refuse bad input at once, leave every other trouble to the thread
        (anything a broken network or a wrong endpoint can raise, not only ``OSError``)."""
        try:
            self._register()
        except _Answer as e:
            if e.status in _CALLER_ERRORS:
                raise ValueError(f"tracelake registry refused {self.service}: {e.message}") from e
            self._note(e)
        except Exception as e:
            self._note(e)
        self._thread.start()
        _LIVE.add(self)

    def _run(self) -> None:
        while not self._stop.wait(self.heartbeat_interval):
            with self._lock:
                if self._closed:
                    return
                try:
                    if self.registered:
                        self._beat()
                    else:
                        self._register()
                except Exception as e:  # the thread must outlive any one bad answer
                    self._note(e)

    def close(self, timeout: float | None = None) -> bool:
        """Stop heartbeating and deregister. Idempotent.

        Returns:
            True if the server confirmed (or already did not know the instance).
        """
        self._stop.set()
        with self._lock:
            if self._closed:
                return True
            self._closed = True
        _LIVE.discard(self)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout or self._timeout)
        if not self.instance_id:
            return False
        try:
            self._call("DELETE", self._instance_path())
        except _Answer as e:
            return e.status == 404
        except Exception as e:
            self._note(e)
            return False
        finally:
            self.registered = False
        return True

    def __enter__(self) -> Registration:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def register(
    service: str,
    port: int,
    *,
    host: str | None = None,
    instance_id: str | None = None,
    metrics_path: str = "/metrics",
    hystrix_stream_path: str | None = "/hystrix.stream",
    health_path: str | None = None,
    metadata: dict[str, str] | None = None,
    endpoint: str | None = None,
    heartbeat_interval: float = 10.0,
    timeout: float = 5.0,
    token: str | None = None,
) -> Registration:
    """Register this instance with tracelake and keep it registered in the background.

    Args:
        service: The service name (letters, digits, ``.``, ``_``, ``-``).
        port: The port this instance serves its metrics and streams on.
        host: How the server reaches this instance; default: the local address that
            routes to the server.
        instance_id: Stable id of the instance; default ``host:port``.
        metrics_path: Path of its Prometheus metrics.
        hystrix_stream_path: Path of its Hystrix stream (None: it has none).
        health_path: Path of its health check, if any.
        metadata: Short string labels (zone, version ...), added to its scraped samples.
        endpoint: Base URL of the tracelake server; default ``TRACELAKE_ENDPOINT`` or
            ``http://127.0.0.1:7700``.
        heartbeat_interval: Seconds between heartbeats; keep it well under the server's
            ``registry_ttl_s`` (30 s by default).
        timeout: Socket timeout of one request (seconds).
        token: Bearer token with the ``ingest`` scope, when the server requires tokens.

    Returns:
        The live registration; ``close()`` deregisters (also done at exit).

    Raises:
        ValueError: The server found the registration malformed (400 or 413; the message
            says why), or an argument is out of range. Anything else (network trouble,
            a refused token, a server that is not tracelake) never raises: it is retried
            and kept in ``last_error``.

    .. versionadded:: 0.1
    """
    if heartbeat_interval <= 0:
        raise ValueError("heartbeat_interval must be positive")
    endpoint = endpoint or os.environ.get("TRACELAKE_ENDPOINT") or DEFAULT_ENDPOINT
    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"endpoint must be an http(s) URL, got {endpoint!r}")
    body: dict[str, Any] = {
        "service": service,
        "host": host or _reachable_host(endpoint),
        "port": port,
        "metrics_path": metrics_path,
        "hystrix_stream_path": hystrix_stream_path,
        "health_path": health_path,
        "metadata": dict(metadata or {}),
    }
    if instance_id:
        body["instance_id"] = instance_id
    registration = Registration(endpoint, body, heartbeat_interval, timeout, token)
    registration._start()
    return registration


_LIVE: weakref.WeakSet[Registration] = weakref.WeakSet()


def _close_all_at_exit() -> None:
    for registration in list(_LIVE):
        with contextlib.suppress(Exception):
            registration.close(timeout=2.0)


atexit.register(_close_all_at_exit)
