"""Spark (PySpark, local[1], the machine's Java) reads the lake and agrees with DuckDB."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerProcess
from tests.lake.kit import DAY1, DAY2, start_lake_server
from tracelake.lake.spark_job import SQL

pytestmark = [pytest.mark.e2e, pytest.mark.spark]


@pytest.fixture
def lake_server(server_factory: type[ServerProcess], tmp_path: Path) -> ServerProcess:
    return start_lake_server(server_factory, tmp_path / "data")


def test_spark_computes_the_same_aggregate_as_the_sql_endpoint(
    lake_server: ServerProcess,
) -> None:
    r = httpx.post(f"{lake_server.url}/api/v1/sql", json={"sql": SQL}, timeout=60)
    assert r.status_code == 200, r.text
    duck = [[t, day, n, amount] for t, day, n, amount in r.json()["rows"]]
    assert duck == [
        ["order_placed", DAY1, 2, 200.5],
        ["order_placed", DAY2, 1, 200.0],
        ["page_viewed", DAY2, 1, None],
        ["refund", DAY1, 1, 20.0],
    ]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tracelake.lake.spark_job",
            "--data-dir",
            str(lake_server.data_dir),
            "--master",
            "local[1]",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    spark = [json.loads(line) for line in out.stdout.splitlines()]
    assert spark == duck
