"""What the disk and fault tests share: a small real filesystem, a way to fill it, and
reading back which numbered records the lake holds."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest

#: Server settings that flush constantly, so a kill or a full disk lands mid-flush.
CHURN = {
    "TRACELAKE_MEMTABLE_MAX_ROWS": "2000",
    "TRACELAKE_FLUSH_INTERVAL_S": "0.3",
    "TRACELAKE_COMPACTION_INTERVAL_S": "0.5",
    "TRACELAKE_COMPACTION_MIN_SEGMENTS": "2",
    "TRACELAKE_QUERY_MAX_ROWS": "5000000",
}


@contextlib.contextmanager
def small_filesystem(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``"48m"``) mounted at ``where``: a disk that really fills up.

    Mounting needs root (CAP_SYS_ADMIN); elsewhere the test cannot make a full disk.
    """
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path: Path, leave: int) -> Path:
    """Take all but ``leave`` free bytes of ``path``'s filesystem with a ballast file;
    ``leave=0`` fills it until writes fail."""
    ballast = path / "ballast"
    with open(ballast, "ab", buffering=0) as f:
        take = free_bytes(path) - leave - (256 << 10 if leave == 0 else 0)
        if take > 0:  # the server writes meanwhile: keep a margin when filling it all
            os.posix_fallocate(f.fileno(), f.tell(), take)
        if leave == 0:
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * 4096)
    return ballast


def numbered(start: int, n: int, service: str = "fault") -> bytes:
    """NDJSON lines carrying ``seq`` numbers start … start+n-1."""
    return b"\n".join(
        orjson.dumps({"message": f"line {i}", "service": service, "seq": i})
        for i in range(start, start + n)
    )


def stored_seqs(url: str, service: str = "fault") -> list[int]:
    """Every ``seq`` the lake holds for ``service`` (repeats included)."""
    response = httpx.post(
        f"{url}/api/v1/sql",
        json={
            "sql": "SELECT CAST(json_extract_string(attributes, '$.seq') AS BIGINT) FROM logs "
            "WHERE service = ?",
            "params": [service],
        },
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return [row[0] for row in response.json()["rows"]]


def eventually(check: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")
