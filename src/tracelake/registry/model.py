"""What the registry holds about one instance, and how a registration is checked.

Why its own module: the HTTP route, the state file and the turbine source all read the
same record, and every way in (a POST body, a state file written by an older server)
goes through the same checks, so a name that could not be registered over HTTP can
never sneak in through a file.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import orjson

from tracelake.errors import BadRequest

Status = Literal["up", "down"]

#: Service names: what a Prometheus job, a turbine cluster and a URL path segment
#: can all carry without escaping.
SERVICE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: Instance ids: the same characters, plus ``:`` ``@`` and brackets so ``host:port``
#: (the default id) and ``[::1]:8080`` are valid.
INSTANCE_ID_RE = re.compile(r"[A-Za-z0-9\[][A-Za-z0-9._:@\[\]-]{0,199}")
HOSTNAME_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?")
METADATA_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}")

MAX_PATH_CHARS = 1024
MAX_METADATA_KEYS = 64
#: The metadata of one instance, as compact JSON.
MAX_METADATA_BYTES = 8 * 1024
FIELDS = frozenset(
    {
        "service",
        "instance_id",
        "host",
        "port",
        "metrics_path",
        "hystrix_stream_path",
        "health_path",
        "metadata",
    }
)


@dataclass(frozen=True, slots=True)
class Registration:
    """A checked registration request: who the instance is and where it serves."""

    service: str
    instance_id: str
    host: str
    port: int
    metrics_path: str = "/metrics"
    hystrix_stream_path: str | None = None
    health_path: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    """One registered instance as the registry knows it.

    Attributes:
        registered_at: When it (last) registered, epoch seconds.
        last_heartbeat: Its last sign of life (registration or heartbeat), epoch seconds.
        status: ``up`` while it heartbeats within the TTL, else ``down`` until evicted.
        owner: The name of the token that registered it, which alone (with admin
            tokens) may heartbeat, re-register or deregister it; None when it was
            registered with no tokens configured (anyone may manage it, see ``state``).
    """

    service: str
    instance_id: str
    host: str
    port: int
    metrics_path: str
    hystrix_stream_path: str | None
    health_path: str | None
    metadata: dict[str, str]
    status: Status
    registered_at: float
    last_heartbeat: float
    owner: str | None = None

    @classmethod
    def of(
        cls,
        reg: Registration,
        status: Status,
        registered_at: float,
        last_heartbeat: float,
        owner: str | None = None,
    ) -> InstanceRecord:
        """A registration with its lease (the metadata copied, not shared)."""
        return cls(
            **asdict(reg),
            status=status,
            registered_at=registered_at,
            last_heartbeat=last_heartbeat,
            owner=owner,
        )

    def as_dict(self) -> dict[str, Any]:
        """Every field, times as epoch seconds: what the state file keeps."""
        return asdict(self)

    @property
    def address(self) -> str:
        """``host:port``, with an IPv6 host in brackets: how URLs and Prometheus name it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.address}{path}"


def default_instance_id(host: str, port: int) -> str:
    """``host:port``: stable across restarts, so a restarted instance replaces itself."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def check_service(name: Any, where: str = "service") -> str:
    if not isinstance(name, str) or not SERVICE_RE.fullmatch(name):
        raise BadRequest(
            f"{where} {name!r} is not a service name: use 1-128 letters, digits, '.', '_' or '-',"
            " starting with a letter or digit"
        )
    return name


def check_instance_id(value: Any) -> str:
    if not isinstance(value, str) or not INSTANCE_ID_RE.fullmatch(value):
        raise BadRequest(
            f"instance_id {value!r} is not valid: use 1-200 letters, digits and '._:@-[]',"
            " or leave it out to get host:port"
        )
    return value


def _check_host(value: Any) -> str:
    if isinstance(value, str):
        text = value[1:-1] if value.startswith("[") and value.endswith("]") else value
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            if len(value) <= 253 and HOSTNAME_RE.fullmatch(value):
                return value
    raise BadRequest(f"host {value!r} is not a hostname or IP address the server can reach")


def _check_port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise BadRequest(f"port {value!r} must be a whole number from 1 to 65535")
    return value


def _check_path(name: str, value: Any, *, optional: bool) -> str | None:
    if value is None and optional:
        return None
    if (
        not isinstance(value, str)
        or not value.startswith("/")
        or len(value) > MAX_PATH_CHARS
        or not value.isprintable()
        or any(c.isspace() for c in value)
    ):
        raise BadRequest(
            f"{name} {value!r} must be a URL path starting with '/'"
            f" (no spaces, at most {MAX_PATH_CHARS} characters)"
        )
    return value


def _check_metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest("metadata must be a JSON object of string values")
    if len(value) > MAX_METADATA_KEYS:
        raise BadRequest(f"metadata has {len(value)} keys, over the limit of {MAX_METADATA_KEYS}")
    for key, item in value.items():
        if not METADATA_KEY_RE.fullmatch(key):
            raise BadRequest(
                f"metadata key {key!r} is not valid: use letters, digits, '_', '.' or '-',"
                " starting with a letter or '_'"
            )
        if not isinstance(item, str):
            raise BadRequest(f"metadata.{key} must be a string, got {type(item).__name__}")
    size = len(orjson.dumps(value))
    if size > MAX_METADATA_BYTES:
        raise BadRequest(
            f"metadata is {size} bytes of JSON, over the limit of {MAX_METADATA_BYTES}:"
            " keep it to a few short labels"
        )
    return dict(value)


def parse_registration(body: Any) -> Registration:
    """A ``Registration`` from a decoded JSON body.

    Raises:
        BadRequest: A field is missing, unknown or invalid; the message names it.
    """
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object with service, host and port")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise BadRequest(
            f"unknown field {unknown[0]!r}: the fields are {', '.join(sorted(FIELDS))}"
        )
    for required in ("service", "host", "port"):
        if body.get(required) is None:
            raise BadRequest(f"field {required!r} is missing: send service, host and port")
    service = check_service(body["service"])
    host = _check_host(body["host"])
    port = _check_port(body["port"])
    raw_id = body.get("instance_id")
    instance_id = (
        default_instance_id(host, port) if raw_id in (None, "") else check_instance_id(raw_id)
    )
    raw_metrics = body.get("metrics_path")
    metrics_path = _check_path(
        "metrics_path", "/metrics" if raw_metrics is None else raw_metrics, optional=False
    )
    assert metrics_path is not None
    return Registration(
        service=service,
        instance_id=instance_id,
        host=host,
        port=port,
        metrics_path=metrics_path,
        hystrix_stream_path=_check_path(
            "hystrix_stream_path", body.get("hystrix_stream_path"), optional=True
        ),
        health_path=_check_path("health_path", body.get("health_path"), optional=True),
        metadata=_check_metadata(body.get("metadata")),
    )
