"""Redaction: secret keys at any depth, value patterns, the C++ screen, hash mode."""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa
import pytest

from tracelake.pipeline.config import load_pipeline_config
from tracelake.pipeline.redact import Redactor, luhn

CARD = "4111 1111 1111 1111"  # a test Visa number: passes Luhn


def redactor(**redact: Any) -> Redactor:
    return Redactor(load_pipeline_config({"redact": redact}).redact)


def redact_rows(r: Redactor, rows: list[tuple[str | None, dict[str, Any] | None]]) -> list[Any]:
    message = pa.array([m for m, _ in rows], pa.string())
    attributes = pa.array([orjson.dumps(a).decode() if a else None for _, a in rows], pa.string())
    message, attributes = r.columns(message, attributes)
    return [
        (m, orjson.loads(a) if a else None)
        for m, a in zip(message.to_pylist(), attributes.to_pylist(), strict=True)
    ]


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "Password",
        "db_password",
        "user.PASSWD",
        "X-Api-Key",
        "apiKey",
        "access_token",
        "csrfToken",
        "client_secret",
        "Authorization",
        "pass_word",
    ],
)
def test_default_keys_match_case_and_separators_insensitively(key: str) -> None:
    obj = {key: "s3cr3t", "nested": {"list": [{key: 1}]}}
    redactor()(obj)
    assert obj == {key: "[REDACTED]", "nested": {"list": [{key: "[REDACTED]"}]}}


@pytest.mark.parametrize("key", ["tokens", "max_tokens", "author", "secretary", "user"])
def test_keys_that_merely_contain_a_name_are_kept(key: str) -> None:
    obj = {key: "visible"}
    redactor()(obj)
    assert obj == {key: "visible"}


def test_configured_keys_add_to_the_defaults_and_defaults_can_be_turned_off() -> None:
    obj = {"session": "x", "password": "y"}
    redactor(keys=["Session"])(obj)
    assert obj == {"session": "[REDACTED]", "password": "[REDACTED]"}
    obj = {"session": "x", "password": "y"}
    redactor(keys=["session"], default_keys=False)(obj)
    assert obj == {"session": "[REDACTED]", "password": "y"}


def test_a_secret_keys_whole_value_is_masked_whatever_its_type() -> None:
    obj = {"secret": {"a": [1, 2]}, "token": 12345}
    redactor()(obj)
    assert obj == {"secret": "[REDACTED]", "token": "[REDACTED]"}


def test_card_numbers_are_masked_only_when_they_pass_luhn() -> None:
    r = redactor(patterns=["card"])
    assert r.scrub(f"paid with {CARD} ok") == "paid with [REDACTED] ok"
    assert r.scrub("card 4111-1111-1111-1111.") == "card [REDACTED]."
    assert r.scrub("order 4111111111111112 epoch 1700000000000") == (
        "order 4111111111111112 epoch 1700000000000"
    )
    assert luhn("79927398713") and not luhn("79927398710")


def test_bearer_tokens_key_values_emails_and_regexes_are_masked() -> None:
    r = redactor(patterns=["bearer", "key_value", "email"], regexes=[r"\bSSN-\d{4}\b"])
    assert r.scrub("Authorization: Bearer eyJhbGciOi.x-y_z") == "Authorization: [REDACTED]"
    assert r.scrub("sent Bearer abc.def= upstream") == "sent Bearer [REDACTED] upstream"
    assert r.scrub("login password=hunter2 user=bob") == "login password=[REDACTED] user=bob"
    assert r.scrub('{"api_key": "k-123", "n": 1}') == '{"api_key": "[REDACTED]", "n": 1}'
    assert r.scrub("mail alice.b@mail.example.org now") == "mail [REDACTED] now"
    assert r.scrub("id SSN-1234 and SSN-12345") == "id [REDACTED] and SSN-12345"


def test_patterns_are_opt_in() -> None:
    r = redactor()
    rows = redact_rows(r, [(f"card {CARD} mail a@b.io", {"note": CARD})])
    assert rows == [(f"card {CARD} mail a@b.io", {"note": CARD})]


def test_batch_columns_are_screened_and_only_flagged_rows_change() -> None:
    r = redactor(patterns=["card", "bearer"])
    rows = redact_rows(
        r,
        [
            ("nothing here", {"user": {"id": 7}}),
            (f"card {CARD}", None),
            (None, {"headers": {"Authorization": "Basic dTpw"}, "note": f"card {CARD}"}),
            ("order 1234567890123", {"password": "hunter2"}),
        ],
    )
    assert rows == [
        ("nothing here", {"user": {"id": 7}}),
        ("card [REDACTED]", None),
        (None, {"headers": {"Authorization": "[REDACTED]"}, "note": "card [REDACTED]"}),
        ("order 1234567890123", {"password": "[REDACTED]"}),
    ]


def test_configured_regexes_scrub_every_row() -> None:
    r = redactor(regexes=["^internal-.*$"])
    assert redact_rows(r, [("x", {"host_note": "internal-db-7"})]) == [
        ("x", {"host_note": "[REDACTED]"})
    ]


def test_hash_mode_gives_equal_stable_keyed_hashes() -> None:
    r = redactor(mode="hash", hash_key="k1", patterns=["email"])
    a, b = {"password": "hunter2"}, {"password": "hunter2"}
    r(a)
    r(b)
    assert a == b and a["password"].startswith("[REDACTED:") and "hunter2" not in a["password"]
    other = {"password": "hunter2"}
    redactor(mode="hash", hash_key="k2")(other)
    assert other != a
    assert r.scrub("to bob@example.com") == r.scrub("to bob@example.com") != "to [REDACTED]"


def test_nothing_to_redact_is_inactive() -> None:
    assert not redactor(default_keys=False).active
