"""Redaction: secrets are masked in the log object, before the WAL sees a byte of them.

Two mechanisms, both applied at any depth of nested objects and lists:

* **keys** — a value whose key names a secret (``password``, ``api_key``, ``X-Api-Key``,
  ``accessToken``, ``db_password`` ...) is replaced whole. A key matches when, lower-cased
  and without ``_``, ``-`` and ``.``, it ends with a configured name so compacted; the
  answer is cached per key, so the usual cost is one dict lookup per key.
* **patterns** — string values (the message included) are scanned by one combined
  regular expression: card numbers (13-19 digits passing the Luhn check, so order ids
  and timestamps mostly survive), ``Bearer`` tokens, ``key=value`` / ``"key": "value"``
  text for the secret keys, e-mail addresses, and configured regexes.

Redaction runs on the normalised batch, just before it becomes Arrow IPC for the WAL: the
``message`` and ``attributes`` columns are first screened in C++ by Arrow's RE2 with a
loose pattern that every secret matches (key names with optional separators, 13+ digit
runs, ``bearer``, ``@``), and only the rows it flags are scrubbed in Python (attributes
parsed, walked, re-serialised). On a batch with no candidates that screen is the whole
cost — about 0.1 µs a record for the default keys (see docs/pipeline.md). Other columns
(service, host, logger, ids) are names, not scanned. Configured ``regexes`` cannot be
screened safely (Python's and RE2's syntax differ), so they scrub every row.

Values become ``[REDACTED]`` (the ``replacement``) or, with ``mode = "hash"``, a keyed
HMAC-SHA256 prefix ``[REDACTED:3f1a…]`` that stays equal for equal values, so records
can still be correlated by the secret without storing it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from tracelake.model import LogObject
from tracelake.pipeline.normalise import LEVEL_KEYS, SPAN_KEYS, TIMESTAMP_KEYS, TRACE_KEYS

#: Keys redacted unless ``redact.default_keys = false``.
DEFAULT_REDACT_KEYS: tuple[str, ...] = (
    "password",
    "passwd",
    "secret",
    "authorization",
    "api_key",
    "token",
)
#: Built-in value patterns of ``redact.patterns``; see ``pipeline.redact``.
REDACT_PATTERNS: tuple[str, ...] = ("email", "card", "bearer", "key_value")
#: Patterns are opt-in: screening the message column doubles the cost of the default
#: key redaction (measured in docs/pipeline.md), and e-mail addresses are often wanted.
DEFAULT_REDACT_PATTERNS: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RedactConfig:
    """``[pipeline.redact]``: which keys and value patterns are masked, and how."""

    keys: tuple[str, ...] = DEFAULT_REDACT_KEYS
    patterns: tuple[str, ...] = DEFAULT_REDACT_PATTERNS
    regexes: tuple[str, ...] = ()
    mode: Literal["mask", "hash"] = "mask"
    replacement: str = "[REDACTED]"
    hash_key: str = ""


#: Top-level keys whose values are never pattern-scanned: ids and times are not secrets,
#: and a 16-digit numeric id could pass the Luhn check.
_UNSCANNED = frozenset((*TIMESTAMP_KEYS, *LEVEL_KEYS, *TRACE_KEYS, *SPAN_KEYS))
_KEY_CACHE_MAX = 16_384
_SEPARATORS = str.maketrans("", "", "_-.")

_CARD = r"(?P<card>(?<![\w-])[0-9](?:[ -]?[0-9]){12,18}(?![\w-]))"
_BEARER = r"(?P<bearer>\b[Bb]earer\s+)(?P<bearer_token>[A-Za-z0-9\-._~+/]+=*)"
_EMAIL = r"(?P<email>\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b)"


def _key_value(keys: tuple[str, ...]) -> str:
    names = "|".join(
        "[-_.]?".join(re.escape(part) for part in re.split(r"[_\-.]", k)) for k in keys
    )
    return (
        rf"(?P<kv_key>(?i:\b[\w.-]*?(?:{names}))[\"']?\s*[=:]\s*[\"']?)"
        r"(?P<kv_value>(?i:(?:bearer|basic|digest|token)\s+)?[^\s\"',;&]+)"
    )


#: RE2 screens, each matching a superset of what its exact pattern matches.
_LOOSE = {
    "card": r"[0-9](?:[ -]?[0-9]){12,18}",
    "bearer": r"[Bb]earer",
    "email": r"@[A-Za-z0-9-]+\.",
    "key_value": "",  # the key names' screen covers it
}


def _loose_key(name: str) -> str:
    """RE2 text matching ``name``'s letters with optional separators between them."""
    return "[-_.]?".join(re.escape(ch) for ch in name)


def luhn(digits: str) -> bool:
    """The Luhn checksum of card numbers (``digits`` holds only 0-9)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


class Redactor:
    """Masks secrets in log objects in place; built once from ``RedactConfig``."""

    def __init__(self, config: RedactConfig) -> None:
        self.config = config
        self._names = tuple(k.translate(_SEPARATORS) for k in config.keys)
        self._key_cache: dict[str, bool] = {}
        parts: list[str] = []
        if "card" in config.patterns:
            parts.append(_CARD)
        if "bearer" in config.patterns:
            parts.append(_BEARER)
        if "key_value" in config.patterns and config.keys:
            parts.append(_key_value(config.keys))
        if "email" in config.patterns:
            parts.append(_EMAIL)
        parts += [f"(?P<custom{i}>{regex})" for i, regex in enumerate(config.regexes)]
        self._regex = re.compile("|".join(parts)) if parts else None
        self._hash_key = config.hash_key.encode()
        loose = [_loose_key(name) for name in self._names]
        loose = ["(?i:" + "|".join(loose) + ")"] if loose else []
        loose += [_LOOSE[p] for p in config.patterns if _LOOSE[p]]
        #: None: every row is a candidate (configured regexes cannot be screened)
        self._screen: str | None = "|".join(loose) if not config.regexes else None
        self._scan_messages = self._regex is not None

    @property
    def active(self) -> bool:
        return bool(self._names) or self._regex is not None

    def columns(self, message: pa.Array, attributes: pa.Array) -> tuple[pa.Array, pa.Array]:
        """The ``message`` and ``attributes`` (JSON text) columns of a batch, redacted."""
        if self._scan_messages:
            message = self._column(message, self.scrub)
        attributes = self._column(attributes, self._json)
        return message, attributes

    def _column(self, column: pa.Array, fix: Any) -> pa.Array:
        if len(column) == 0 or column.null_count == len(column):
            return column
        if self._screen is None:
            mask = pc.is_valid(column)
        elif not self._screen:
            return column
        else:
            mask = pc.fill_null(pc.match_substring_regex(column, self._screen), False)
            if not pc.any(mask).as_py():
                return column
        candidates = pc.filter(column, mask).to_pylist()
        fixed = [fix(text) for text in candidates]
        return pc.replace_with_mask(column, mask, pa.array(fixed, column.type))

    def _json(self, text: str) -> str:
        obj = orjson.loads(text)
        if type(obj) is dict:
            self._dict(obj)
        return orjson.dumps(obj).decode()

    def __call__(self, obj: LogObject) -> None:
        """Redact one log object in place (every key and string value)."""
        regex = self._regex
        sensitive = self._key_cache.get
        for key, value in obj.items():
            hit = sensitive(key)
            if hit is None:
                hit = self._is_secret(key)
            if hit:
                obj[key] = self.mask(value)
                continue
            kind = type(value)
            if kind is str:
                if regex is not None and key not in _UNSCANNED:
                    obj[key] = self.scrub(value)
            elif kind is dict:
                self._dict(value)
            elif kind is list:
                self._list(value)

    def _dict(self, obj: dict[str, Any]) -> None:
        regex = self._regex
        sensitive = self._key_cache.get
        for key, value in obj.items():
            hit = sensitive(key)
            if hit is None:
                hit = self._is_secret(key)
            if hit:
                obj[key] = self.mask(value)
            elif type(value) is str:
                if regex is not None:
                    obj[key] = self.scrub(value)
            elif type(value) is dict:
                self._dict(value)
            elif type(value) is list:
                self._list(value)

    def _list(self, items: list[Any]) -> None:
        for i, value in enumerate(items):
            if type(value) is str:
                if self._regex is not None:
                    items[i] = self.scrub(value)
            elif type(value) is dict:
                self._dict(value)
            elif type(value) is list:
                self._list(value)

    def _is_secret(self, key: str) -> bool:
        compact = key.lower().translate(_SEPARATORS) if type(key) is str else ""
        hit = bool(compact) and compact.endswith(self._names)
        if len(self._key_cache) >= _KEY_CACHE_MAX:
            self._key_cache.clear()
        self._key_cache[key] = hit
        return hit

    def scrub(self, text: str) -> str:
        """``text`` with every pattern match masked."""
        assert self._regex is not None
        if self._regex.search(text) is None:
            return text
        return self._regex.sub(self._replace, text)

    def _replace(self, m: re.Match[str]) -> str:
        kind = m.lastgroup
        if kind == "card":
            digits = re.sub(r"[ -]", "", m.group())
            return self.mask(digits) if luhn(digits) else m.group()
        if kind == "bearer_token":
            return m.group("bearer") + self.mask(m.group("bearer_token"))
        if kind == "kv_value":
            return m.group("kv_key") + self.mask(m.group("kv_value"))
        return self.mask(m.group())

    def mask(self, value: Any) -> str:
        """What a secret becomes: the replacement, or its keyed hash."""
        if self.config.mode != "hash":
            return self.config.replacement
        data = value.encode() if type(value) is str else orjson.dumps(value)
        digest = hmac.new(self._hash_key, data, hashlib.sha256).hexdigest()
        return f"[REDACTED:{digest[:16]}]"
