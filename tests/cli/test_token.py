"""``tracelake token``: the entries it prints are what the server accepts."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

from tracelake.security.tokens import TokenSet, hash_token, parse_tokens


def tracelake(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracelake", "token", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_new_prints_a_token_and_an_entry_that_admits_it() -> None:
    out = tracelake("new", "--name", "shippers", "--scope", "ingest", "--scope", "read")
    assert out.returncode == 0, out.stderr
    token = re.search(r"token: (\S+)", out.stdout).group(1)  # type: ignore[union-attr]
    entry = out.stdout.strip().splitlines()[-1].strip()
    parsed = parse_tokens(tomllib.loads(f"tokens = [{entry}]")["tokens"])
    found = TokenSet(parsed).verify(token)
    assert found is not None and found.name == "shippers"
    assert found.scopes == {"ingest", "read"}
    assert token not in entry


def test_hash_reads_the_token_from_stdin_or_the_argument() -> None:
    token = "tl_" + "q" * 40
    assert tracelake("hash", stdin=token + "\n").stdout.strip() == hash_token(token)
    assert tracelake("hash", token).stdout.strip() == hash_token(token)


def test_hash_refuses_a_short_token_in_one_line() -> None:
    out = tracelake("hash", "short")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().count("\n") == 0 and "at least 16 characters" in out.stderr


def test_new_refuses_a_name_that_would_break_the_toml_entry() -> None:
    out = tracelake("new", "--name", 'ci", scopes = ["admin"], x = "', "--scope", "ingest")
    assert out.returncode == 2 and "token:" not in out.stdout
    assert out.stderr.strip().count("\n") == 0 and "--name: name must be" in out.stderr


def test_new_lists_a_repeated_scope_once() -> None:
    out = tracelake("new", "--name", "ci", "--scope", "read", "--scope", "read")
    assert out.returncode == 0, out.stderr
    assert 'scopes = ["read"]' in out.stdout.splitlines()[-1]
