"""The reading examples of docs/lake.md run, as written, against a lake the server wrote."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ServerProcess
from tests.lake.kit import start_lake_server

pytestmark = pytest.mark.e2e

DOC = Path(__file__).resolve().parents[2] / "docs" / "lake.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


def test_the_page_has_the_duckdb_pandas_and_polars_examples() -> None:
    assert [next(w for w in ("duckdb", "pandas", "polars") if w in b) for b in BLOCKS] == [
        "duckdb",
        "pandas",
        "polars",
    ]


@pytest.mark.parametrize("block", BLOCKS, ids=["duckdb", "pandas", "polars"])
def test_each_example_reads_the_events_and_their_payload_amounts(
    server_factory: type[ServerProcess], tmp_path: Path, block: str
) -> None:
    start_lake_server(server_factory, tmp_path / "data")
    out = subprocess.run(
        [sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    # order_placed: 120.5 + 80 + 200; refund: 20
    assert "400.5" in out.stdout and "20" in out.stdout and "refund" in out.stdout
