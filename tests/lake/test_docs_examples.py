"""The reading examples of docs/lake.md run, as written, against a lake the server wrote."""

from __future__ import annotations

import importlib.util
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
IDS = ["duckdb", "pandas", "polars", "delta-spark"]


def test_the_page_has_the_duckdb_pandas_polars_and_spark_examples_over_delta() -> None:
    """One example per reader, in this order, each reading the Delta table (its log),
    never a glob or a list of files of its own."""
    markers = ("duckdb", "pandas", "pl.scan_delta", 'format("delta")')
    assert [next(m for m in markers if m in b) for b in BLOCKS] == list(markers)
    assert all("glob" not in b and "_manifest" not in b for b in BLOCKS)


@pytest.mark.parametrize("block", BLOCKS, ids=IDS)
def test_each_example_reads_the_events_and_their_payload_amounts(
    server_factory: type[ServerProcess], tmp_path: Path, block: str
) -> None:
    """Run as a user would, from the directory holding ``data/``: each prints every
    type with its summed amounts. The Spark example needs the Delta connector
    (delta-spark and its jars from Maven), so it runs only where that is installed."""
    if "delta import" in block and importlib.util.find_spec("delta") is None:
        pytest.skip("delta-spark (the Delta connector for Spark) is not installed here")
    start_lake_server(server_factory, tmp_path / "data")
    out = subprocess.run(
        [sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    # order_placed: 120.5 + 80 + 200; refund: 20
    assert "400.5" in out.stdout and "20" in out.stdout and "refund" in out.stdout
