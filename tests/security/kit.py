"""Tokens, certificates and secured servers shared by the access and TLS tests."""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path
from typing import Any

import msgpack

from tests.conftest import ServerProcess
from tracelake.security.tokens import hash_token

INGEST = "tl_test-ingest-token-0000000000000000"
READ = "tl_test-read-token-00000000000000000000"
ADMIN = "tl_test-admin-token-0000000000000000000"
#: Ingest and read given plain (as from a secret in the environment), admin as its hash.
TOKENS_TOML = (
    f'[{{name = "shipper", scopes = ["ingest"], token = "{INGEST}"}}, '
    f'{{name = "grafana", scopes = ["read"], token = "{READ}"}}, '
    f'{{name = "ops", scopes = ["admin"], sha256 = "{hash_token(ADMIN)}"}}]'
)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def secured(factory: type[ServerProcess], data_dir: Path, *args: str, **env: str) -> ServerProcess:
    """A started server that has the three test tokens."""
    return factory(
        data_dir, extra_args=list(args), env={"TRACELAKE_TOKENS": TOKENS_TOML, **env}
    ).start()


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost and its key, made by the openssl CLI."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    args = "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1"
    subprocess.run(
        [
            "openssl",
            *args.split(),
            *("-subj", "/CN=tracelake-test"),
            *("-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def forward_with_shared_key(sock: Any, key: str, tag: str, record: dict[str, Any]) -> Any:
    """Fluentd's shared-key handshake on a connected socket, then one event with an ack
    requested; returns what the server acknowledged."""
    unpacker = msgpack.Unpacker(raw=False)

    def receive() -> Any:
        while True:
            for message in unpacker:
                return message
            data = sock.recv(4096)
            if not data:
                raise ConnectionError("the server closed the connection")
            unpacker.feed(data)

    helo = receive()
    assert helo[0] == "HELO"
    nonce, salt = helo[1]["nonce"], b"client-salt"
    digest = hashlib.sha512(salt + b"client-host" + nonce + key.encode()).hexdigest()
    sock.sendall(msgpack.packb(["PING", "client-host", salt, digest, "", ""]))
    pong = receive()
    if not pong[1]:
        return pong
    sock.sendall(msgpack.packb([tag, int(time.time()), record, {"chunk": "c1"}]))
    return receive()
