"""TLS for the HTTP port and the TCP listeners, from one certificate and key file.

One server-side ``ssl.SSLContext`` (TLS 1.2 or newer, the ``ssl`` module's secure
defaults) is made at start, so a missing or mismatched file stops the server with one
line instead of failing every handshake later. UDP listeners stay plaintext: no
shipper speaks DTLS to them.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from tracelake.errors import ConfigError


def check_files(cert_file: str, key_file: str) -> bool:
    """Whether TLS is on; both or neither file must be set, and both must exist."""
    if not cert_file and not key_file:
        return False
    if not cert_file or not key_file:
        missing = "tls_cert_file" if not cert_file else "tls_key_file"
        raise ConfigError(f"TLS needs both tls_cert_file and tls_key_file: set {missing} too")
    for setting, name in (("tls_cert_file", cert_file), ("tls_key_file", key_file)):
        if not Path(name).is_file():
            raise ConfigError(f"{setting} {name} does not exist: give the path of a PEM file")
    return True


def server_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A server context with the certificate chain loaded."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file)
    except (ssl.SSLError, OSError) as e:
        raise ConfigError(
            f"cannot load TLS certificate {cert_file} with key {key_file} ({e}): "
            "give a PEM certificate chain and its unencrypted private key"
        ) from e
    return context
