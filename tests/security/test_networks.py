"""The stream listeners' allow-list: networks parsed once, peers matched in both families."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerProcess
from tests.security.kit import forward_with_shared_key
from tracelake.errors import ConfigError
from tracelake.security.networks import LOOPBACK, AllowList, parse_networks
from tracelake.settings import Settings


def test_loopback_default_admits_both_loopbacks_and_nothing_else() -> None:
    allow = AllowList(LOOPBACK)
    assert allow("127.0.0.1") and allow("127.8.9.10") and allow("::1")
    assert allow("::ffff:127.0.0.1")  # a v4 client on a dual-stack socket
    assert not allow("10.0.0.1") and not allow("::ffff:10.0.0.1") and not allow("fe80::1")
    assert not allow("not-an-address")


def test_networks_come_from_settings_as_a_list_or_comma_separated() -> None:
    s = Settings.load(env={"TRACELAKE_STREAM_ALLOW_FROM": "10.1.0.0/16, 192.168.1.7"})
    assert s.stream_allow_from == ["10.1.0.0/16", "192.168.1.7/32"]
    assert AllowList(s.stream_allow_from)("10.1.200.3")
    assert parse_networks(["10.1.2.3/8"]) == ["10.0.0.0/8"]


def test_a_bad_network_stops_the_load_with_its_name() -> None:
    with pytest.raises(ConfigError, match=r"'10\.0\.0\.300/8' is not an address or network"):
        Settings.load(env={"TRACELAKE_STREAM_ALLOW_FROM": "10.0.0.300/8"})


def test_stream_listeners_refuse_peers_outside_the_allowed_networks(
    server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    """JSON lines (TCP and UDP) from loopback are refused when only 10/8 may send, while
    forward with a shared key authenticates by its handshake and accepts loopback."""
    env = {
        "TRACELAKE_STREAM_ALLOW_FROM": "10.0.0.0/8",
        "TRACELAKE_FORWARD_SHARED_KEY": "forward-shared-key-for-tests",
    }
    server = server_factory(tmp_path / "data", env=env).start()
    with socket.create_connection(("127.0.0.1", server.listener("jsonlines/tcp"))) as s:
        s.settimeout(10)
        s.sendall(b'{"message":"from outside","service":"outside"}\n')
        # closed without reading: a FIN, or a RST when our line was still unread
        with contextlib.suppress(ConnectionResetError):
            assert s.recv(1024) == b""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.sendto(
            b'{"message":"from outside","service":"outside"}',
            ("127.0.0.1", server.listener("jsonlines/udp")),
        )
    with socket.create_connection(("127.0.0.1", server.listener("forward/tcp"))) as s:
        s.settimeout(10)
        ack = forward_with_shared_key(s, env["TRACELAKE_FORWARD_SHARED_KEY"], "inside", {"m": 1})
    assert ack == {"ack": "c1"}
    metrics = httpx.get(f"{server.url}/metrics").text
    assert (
        'tracelake_listener_rejects_total{listener="jsonlines/tcp",reason="not_allowed"} 1.0'
        in metrics
    )
    assert (
        'tracelake_listener_rejects_total{listener="jsonlines/udp",reason="not_allowed"} 1.0'
        in metrics
    )
    rows = httpx.get(f"{server.url}/api/v1/search", params={"q": ""}).json()["rows"]
    assert [r["service"] for r in rows] == ["inside"]
