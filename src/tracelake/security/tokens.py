"""API tokens: parsed from the settings, kept only as SHA-256 hashes, checked in constant time.

A token grants one or more scopes. ``ingest`` may write and read nothing back, ``read``
may query everything, ``admin`` may change the server (compact the lake now) and do
everything ``read`` and ``ingest`` may. Tokens are generated with 256 bits of
randomness, so a plain SHA-256 is enough to store them: there is no password to guess
and a slow hash would only slow every request down.

The ``tokens`` setting lists entries in either form::

    {name = "shippers", scopes = ["ingest"], sha256 = "<64 hex digits>"}   # files
    {name = "grafana", scopes = ["read"], token = "<the token>"}          # secrets/env
    "ingest:<the token>"                                                  # env shorthand

A plain ``token`` is hashed here, at load, and never kept. The shorthand names a token
after its scopes (``ingest``; a second ``ingest`` entry is ``ingest-2``, so an old and a
new token can be listed together while clients move over).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

from tracelake.errors import ConfigError

Scope = Literal["ingest", "read", "admin"]
SCOPES: tuple[str, ...] = get_args(Scope)
#: Shortest plain token accepted: what ``tracelake token new`` makes is 46 characters.
MIN_TOKEN_CHARS = 16
TOKEN_PREFIX = "tl_"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
#: What a plain token may hold: printable ASCII but space and the shorthand's ``,`` ``:``
#: (headers reach the server as Latin-1, so anything else could never match).
_PLAIN = re.compile(r"[!-+\--9;-~]+")


@dataclass(frozen=True, slots=True)
class Token:
    """One configured token: who it is (``name``), what it may do, and its hash."""

    name: str
    scopes: frozenset[str]
    sha256: str

    def grants(self, scope: str) -> bool:
        """Whether this token may use a route that needs ``scope``."""
        return scope in self.scopes or "admin" in self.scopes


def new_token() -> str:
    """A fresh random token (``tl_`` and 43 URL-safe characters, 256 bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(plain: str) -> str:
    """The hex SHA-256 stored in place of ``plain``; the same function hashes what a
    request presents, and it takes any string (``surrogatepass``: never raises)."""
    return hashlib.sha256(plain.encode("utf-8", "surrogatepass")).hexdigest()


def check_name(name: Any, where: str) -> str:
    """Refuse a token name that could not be written into tracelake.toml as it is."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"{where}: name must be 1-64 letters, digits or _.@- characters")
    return name


def check_plain(plain: str, where: str) -> str:
    """Refuse a plain token too short, padded or odd to be one of ours, naming where it
    came from."""
    if not _PLAIN.fullmatch(plain):
        raise ConfigError(
            f"{where}: a token may hold only printable ASCII, without spaces, commas or colons;"
            " make one with `tracelake token new`"
        )
    if len(plain) < MIN_TOKEN_CHARS:
        raise ConfigError(
            f"{where}: a token needs at least {MIN_TOKEN_CHARS} characters; "
            "make one with `tracelake token new`"
        )
    return plain


def parse_tokens(value: Any) -> tuple[Token, ...]:
    """Validate the ``tokens`` setting; every problem is a one-line ``ConfigError``."""
    if isinstance(value, str):  # an environment variable of shorthand entries
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple):
        raise ConfigError(
            "setting tokens must be a list like "
            '[{name = "ci", scopes = ["ingest"], sha256 = "..."}]'
        )
    tokens = _number_shorthand([_entry(item, i) for i, item in enumerate(value)], value)
    names = [t.name for t in tokens]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"tokens: the name {name!r} is used twice; give each token its own")
    hashes = [t.sha256 for t in tokens]
    if len(set(hashes)) != len(hashes):
        raise ConfigError("tokens: the same token is listed twice; list it once with all scopes")
    return tuple(tokens)


def _number_shorthand(tokens: list[Token], items: Sequence[Any]) -> list[Token]:
    """``ingest``, ``ingest-2``, ...: shorthand entries with the same scopes get distinct
    names (a user cannot name them, so a clash would be no mistake of theirs)."""
    seen: dict[str, int] = {}
    out = []
    for token, item in zip(tokens, items, strict=True):
        if isinstance(item, str):
            seen[token.name] = seen.get(token.name, 0) + 1
            if seen[token.name] > 1:
                token = replace(token, name=f"{token.name}-{seen[token.name]}")
        out.append(token)
    return out


def _entry(item: Any, index: int) -> Token:
    where = f"tokens[{index}]"
    if isinstance(item, Token):  # already parsed (settings built in code)
        return item
    if isinstance(item, str):
        scopes_text, sep, secret = item.partition(":")
        if not sep:
            raise ConfigError(f"{where}: write a shorthand token as scope:token, e.g. ingest:tl_…")
        scopes = _scopes(scopes_text.split("+"), where)
        return Token("+".join(sorted(scopes)), scopes, hash_token(check_plain(secret, where)))
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: expected a table with name, scopes and sha256 (or token)")
    unknown = sorted(set(item) - {"name", "scopes", "scope", "sha256", "token"})
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; use name, scopes, sha256 or token")
    name = check_name(item.get("name"), where)
    raw_scopes = item.get("scopes", item.get("scope"))
    if isinstance(raw_scopes, str):
        raw_scopes = [raw_scopes]
    if not isinstance(raw_scopes, list) or not raw_scopes:
        raise ConfigError(f"{where} ({name}): scopes must be a list of {', '.join(SCOPES)}")
    scopes = _scopes(raw_scopes, f"{where} ({name})")
    digest: Any = item.get("sha256")
    plain: Any = item.get("token")
    if (digest is None) == (plain is None):
        raise ConfigError(f"{where} ({name}): give exactly one of sha256 or token")
    if plain is not None:
        if not isinstance(plain, str):
            raise ConfigError(f"{where} ({name}): token must be a string")
        digest = hash_token(check_plain(plain, f"{where} ({name})"))
    elif not isinstance(digest, str) or not _HEX64.fullmatch(digest.lower()):
        raise ConfigError(
            f"{where} ({name}): sha256 must be 64 hex digits from `tracelake token hash`"
        )
    return Token(name, scopes, digest.lower())


def _scopes(raw: Iterable[Any], where: str) -> frozenset[str]:
    scopes = frozenset(str(s).strip() for s in raw)
    bad = sorted(scopes - set(SCOPES))
    if bad:
        raise ConfigError(f"{where}: unknown scope {bad[0]!r}; scopes are {', '.join(SCOPES)}")
    return scopes


class TokenSet:
    """The configured tokens; ``verify`` finds the one a presented secret is."""

    __slots__ = ("_digests", "tokens")

    def __init__(self, tokens: Iterable[Token]) -> None:
        self.tokens = tuple(tokens)
        self._digests = [(t.sha256.encode(), t) for t in self.tokens]

    def __bool__(self) -> bool:
        return bool(self.tokens)

    def verify(self, plain: str) -> Token | None:
        """The token ``plain`` is, or None. Every configured hash is compared, each in
        constant time, so the answer's timing says nothing about which hash was close."""
        presented = hash_token(plain).encode()
        found: Token | None = None
        for digest, token in self._digests:
            if hmac.compare_digest(digest, presented):
                found = token
        return found
