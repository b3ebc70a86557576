"""Credentials are found where each kind of client puts them."""

from __future__ import annotations

import base64

import pytest

from tracelake.security.credentials import (
    SESSION_COOKIE,
    Presented,
    from_authorization,
    presented,
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer tl_abc", "tl_abc"),
        ("bearer   tl_abc  ", "tl_abc"),
        (f"Basic {b64('elastic:tl_abc')}", "tl_abc"),  # ES clients, Promtail basic_auth
        (f"Basic {b64('tl_abc:')}", "tl_abc"),  # the token as the user name
        (f"Basic {b64('user:pa:ss')}", "pa:ss"),
        (f"ApiKey {b64('key-id:tl_abc')}", "tl_abc"),  # Filebeat api_key "id:key"
        ("ApiKey tl_abc", "tl_abc"),
        ("Basic !!!not-base64", None),
        ("Digest username=x", None),
        ("Bearer", None),
        ("", None),
        ("Bearer " + "x" * 9000, None),
    ],
)
def test_authorization_header_forms(header: str, token: str | None) -> None:
    assert from_authorization(header) == token


def test_a_header_wins_over_the_session_cookie() -> None:
    cookie = f"theme=dark; {SESSION_COOKIE}=sid123"
    assert presented("Bearer tl_abc", cookie) == Presented(token="tl_abc")
    assert presented(None, cookie) == Presented(session="sid123")
    assert presented("Negotiate xyz", cookie) == Presented(session="sid123")
    assert not presented(None, "theme=dark")
    assert not presented(None, None)
