"""Tokens: the forms the setting takes, hashing at load, scope grants, constant-time lookup."""

from __future__ import annotations

import pytest

from tracelake.errors import ConfigError
from tracelake.security.tokens import (
    MIN_TOKEN_CHARS,
    Token,
    TokenSet,
    hash_token,
    new_token,
    parse_tokens,
)
from tracelake.settings import Settings

PLAIN = "tl_" + "a" * 40


def test_a_plain_token_is_kept_only_as_its_sha256() -> None:
    (token,) = parse_tokens([{"name": "ci", "scopes": ["ingest"], "token": PLAIN}])
    assert token == Token("ci", frozenset({"ingest"}), hash_token(PLAIN))
    assert PLAIN not in repr(token)


def test_a_hashed_entry_is_taken_as_it_is_and_lower_cased() -> None:
    digest = hash_token(PLAIN).upper()
    (token,) = parse_tokens([{"name": "ci", "scope": "read", "sha256": digest}])
    assert token.sha256 == digest.lower() and token.scopes == {"read"}


def test_the_environment_shorthand_names_the_token_after_its_scopes() -> None:
    tokens = parse_tokens(f"ingest:{PLAIN}, read+ingest:{PLAIN}x")
    assert [(t.name, t.scopes) for t in tokens] == [
        ("ingest", {"ingest"}),
        ("ingest+read", {"ingest", "read"}),
    ]


def test_shorthand_entries_with_the_same_scopes_get_numbered_names() -> None:
    tokens = parse_tokens(f"ingest:{PLAIN},ingest:{PLAIN}x,read:{PLAIN}y,ingest:{PLAIN}z")
    assert [t.name for t in tokens] == ["ingest", "ingest-2", "read", "ingest-3"]


def test_a_presented_secret_of_any_characters_is_refused_not_raised() -> None:
    tokens = TokenSet(parse_tokens(f"read:{PLAIN}"))
    assert tokens.verify("tl_\udcff\ud800" + "a" * 20) is None
    assert tokens.verify(PLAIN) is not None


def test_settings_load_hashes_tokens_from_the_environment() -> None:
    env = {"TRACELAKE_TOKENS": f'[{{name = "grafana", scopes = ["read"], token = "{PLAIN}"}}]'}
    settings = Settings.load(env=env)
    assert settings.tokens == (Token("grafana", frozenset({"read"}), hash_token(PLAIN)),)
    assert PLAIN not in repr(settings)
    assert Settings.load(env={"TRACELAKE_TOKENS": f"read:{PLAIN}"}).tokens[0].scopes == {"read"}


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ({"name": "x"}, "must be a list"),
        ([{"name": "x", "scopes": ["write"], "token": PLAIN}], "unknown scope 'write'"),
        ([{"name": "x", "scopes": ["read"], "token": "short"}], f"at least {MIN_TOKEN_CHARS}"),
        ([{"name": "x", "scopes": ["read"]}], "exactly one of sha256 or token"),
        ([{"name": "x", "scopes": ["read"], "sha256": "abc"}], "64 hex digits"),
        ([{"name": "x", "scopes": [], "token": PLAIN}], "scopes must be a list"),
        ([{"name": "x y", "scopes": ["read"], "token": PLAIN}], "name must be"),
        ([{"name": "x", "scopes": ["read"], "token": PLAIN, "role": "a"}], "unknown key 'role'"),
        (
            [
                {"name": "a", "scopes": ["read"], "token": PLAIN},
                {"name": "b", "scopes": ["ingest"], "token": PLAIN},
            ],
            "listed twice",
        ),
        (
            [
                {"name": "a", "scopes": ["read"], "token": PLAIN},
                {"name": "a", "scopes": ["ingest"], "token": PLAIN + "x"},
            ],
            "used twice",
        ),
        ([f"{PLAIN}"], "scope:token"),
        ([f"read:{PLAIN} "], "without spaces"),
        ([f"read:tl_{'é' * 20}"], "only printable ASCII"),
        ([{"name": "x", "scopes": ["read"], "token": "tl_\udcff" + "a" * 20}], "printable ASCII"),
    ],
)
def test_a_bad_entry_is_a_one_line_config_error(value: object, says: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_tokens(value)
    assert says in e.value.message and "\n" not in e.value.message


def test_admin_grants_every_scope_and_the_others_only_their_own() -> None:
    admin = Token("a", frozenset({"admin"}), "0" * 64)
    ingest = Token("i", frozenset({"ingest"}), "1" * 64)
    assert all(admin.grants(s) for s in ("ingest", "read", "admin"))
    assert ingest.grants("ingest") and not ingest.grants("read") and not ingest.grants("admin")


def test_verify_finds_the_token_a_secret_is_and_nothing_else() -> None:
    first, second = new_token(), new_token()
    assert first != second and first.startswith("tl_") and len(first) == 46
    tokens = TokenSet(parse_tokens([f"read:{first}", f"ingest:{second}"]))
    assert tokens.verify(first).name == "read"  # type: ignore[union-attr]
    assert tokens.verify(second).name == "ingest"  # type: ignore[union-attr]
    assert tokens.verify(first[:-1]) is None
    assert tokens.verify(hash_token(first)) is None  # the hash itself is no credential
    assert not TokenSet(())
