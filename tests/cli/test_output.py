"""Tables on a terminal fit it (time whole and first, message last and cut); tables to a
pipe are never wrapped or cut, so grep sees whole records."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from tracelake.cli.output import print_rows

COLUMNS = ["service", "message", "level", "timestamp"]
STAMP = "2026-12-07T02:04:16.123456Z"
MESSAGE = "payment declined for order " + "0123456789" * 30
ROWS = [["payments", MESSAGE, "ERROR", STAMP], ["orders", "short", "INFO", STAMP]]


def on_a_terminal(columns: int) -> list[str]:
    """What ``print_rows`` prints on a pseudo-terminal ``columns`` wide."""
    script = (
        f"from tracelake.cli.output import print_rows\nprint_rows({COLUMNS!r}, {ROWS!r}, 'table')\n"
    )
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "50", "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=follower, env=env)
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    assert proc.wait(30) == 0
    plain = subprocess.run(  # drop colour codes
        ["sed", "-e", r"s/\x1b\[[0-9;]*m//g"], input=out, capture_output=True, check=True
    ).stdout.decode()
    return [line for line in plain.splitlines() if line.strip()]


@pytest.mark.parametrize("width", [80, 120])
def test_on_a_terminal_the_time_is_whole_and_first_and_the_message_cut_last(width: int) -> None:
    lines = on_a_terminal(width)
    row = next(line for line in lines if "payments" in line)
    assert len(row) <= width
    assert row.index(STAMP) < row.index("payments") < row.index("payment declined")
    assert row.rstrip(" │|").endswith("…"), "the long message is cut with an ellipsis"
    assert not any(line.lstrip("│| ").startswith("0123456789") for line in lines), "not wrapped"


def test_piped_rows_are_never_wrapped_or_cut(capsys: pytest.CaptureFixture[str]) -> None:
    print_rows(COLUMNS, ROWS, "table")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["timestamp", "service", "level", "message"]
    assert lines[1].startswith(STAMP) and lines[1].endswith(MESSAGE)
    assert len(lines) == 3


def test_columns_empty_in_every_row_are_left_out(capsys: pytest.CaptureFixture[str]) -> None:
    print_rows(["message", "trace_id"], [["a", None], ["b", ""]], "table")
    assert capsys.readouterr().out.splitlines() == ["message", "a", "b"]
