"""A PySpark job over the lake: events per type and day, with their payload amount.

It computes exactly what this SQL computes on the server (``POST /api/v1/sql``)::

    SELECT type, CAST(timestamp AS DATE) AS day, count(*) AS events,
           sum(CAST(payload->>'$.amount' AS DOUBLE)) AS amount
    FROM events GROUP BY ALL ORDER BY type, day

Why a file in the package: ``pip install 'tracelake[spark]'`` brings it with PySpark,
and it imports nothing but PySpark and the standard library, so the same file runs in
local mode here (``python -m tracelake.lake.spark_job --data-dir DIR``) and unchanged
on a cluster (``spark-submit --master spark://… spark_job.py --data-dir s3a://…`` once
the lake is on shared storage). It reads the files the manifest names, not a glob:
the manifest is the lake's truth, and a glob would also see files compaction has just
replaced. Times are UTC, as in the lake.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

SQL = (
    "SELECT type, CAST(timestamp AS DATE) AS day, count(*) AS events, "
    "sum(CAST(payload->>'$.amount' AS DOUBLE)) AS amount "
    "FROM events GROUP BY ALL ORDER BY type, day"
)


def manifest_files(lake: str, table: str) -> list[str]:
    """The live Parquet files of ``table`` under the lake directory ``lake``."""
    with open(f"{lake}/_manifest.json", "rb") as f:
        manifest = json.load(f)
    return [f"{lake}/{s['path']}" for s in manifest["segments"] if s["table"] == table]


def events_per_type_and_day(spark: Any, lake: str) -> list[tuple[str, str, int, float | None]]:
    """(type, day ISO, events, sum of payload.amount) per type and UTC day, sorted."""
    from pyspark.sql import functions as F

    paths = manifest_files(lake, "events")
    if not paths:
        return []
    # basePath keeps the Hive levels (type, date, hour) readable as partition columns.
    frame = spark.read.option("basePath", f"{lake}/events").parquet(*paths)
    rows = (
        frame.groupBy(F.col("type"), F.to_date(F.col("timestamp")).alias("day"))
        .agg(
            F.count(F.lit(1)).alias("events"),
            F.sum(F.get_json_object("payload", "$.amount").cast("double")).alias("amount"),
        )
        .orderBy("type", "day")
        .collect()
    )
    return [(r["type"], r["day"].isoformat(), r["events"], r["amount"]) for r in rows]


def session(master: str) -> Any:
    """A Spark session in UTC; ``local[1]`` by default, a cluster URL unchanged."""
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master(master)
        .appName("tracelake-events-per-type")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", required=True, help="tracelake's data directory")
    parser.add_argument("--master", default="local[1]", help="Spark master URL")
    args = parser.parse_args(argv)
    spark = session(args.master)
    try:
        for row in events_per_type_and_day(spark, f"{args.data_dir.rstrip('/')}/lake"):
            print(json.dumps(row))
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
