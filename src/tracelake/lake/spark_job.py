"""A PySpark job over the lake: events per type and day, with their payload amount.

It computes exactly what this SQL computes on the server (``POST /api/v1/sql``)::

    SELECT type, CAST(timestamp AS DATE) AS day, count(*) AS events,
           sum(CAST(payload->>'$.amount' AS DOUBLE)) AS amount
    FROM events GROUP BY ALL ORDER BY type, day

Why a file in the package: ``pip install 'tracelake[spark]'`` brings it with PySpark
and ``deltalake``, and it imports nothing else but the standard library (no tracelake
code), so the same file runs in local mode here (``python -m tracelake.lake.spark_job
--data-dir DIR``) and unchanged on a cluster (``spark-submit --master spark://…
spark_job.py --lake-dir /shared/lake`` once the lake is on storage every executor
reads). Times are UTC, as in the lake.

Each table is a Delta table; its commit log says which Parquet files make up the
current version. The job asks ``deltalake`` (delta-rs, no JVM) for that list with
``DeltaTable(path).file_uris()`` and gives Spark exactly those files, never a glob: a
directory also holds the files compaction has just replaced (kept for
``lake_vacuum_hours`` for readers of older versions), and a glob would count their
rows twice. With the Delta connector on the cluster (the ``delta-spark`` package and
its session settings) Spark reads the log itself instead, with the same result::

    spark.read.format("delta").load(f"{lake}/events")
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


def snapshot_files(table_path: str) -> tuple[str, list[str]]:
    """The Delta table's root URI and the Parquet files of its current version (none
    without a log yet).

    One read of the commit log: the list is one version's, whole, even while the
    server commits a flush or a compaction. The root comes from the same place as the
    files so that Spark's ``basePath`` is a prefix of every one of them.
    """
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        table = DeltaTable(table_path)
    except TableNotFoundError:  # the server has not created the table yet
        return table_path, []
    return table.table_uri, table.file_uris()


def events_per_type_and_day(spark: Any, lake: str) -> list[tuple[str, str, int, float | None]]:
    """(type, day ISO, events, sum of payload.amount) per type and UTC day, sorted."""
    from pyspark.sql import functions as F

    base, paths = snapshot_files(f"{lake}/events")
    if not paths:
        return []
    # basePath keeps the Hive levels (type, date, hour) readable as partition columns.
    frame = spark.read.option("basePath", base).parquet(*paths)
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
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--data-dir", help="tracelake's data directory (the lake is DIR/lake)")
    where.add_argument("--lake-dir", help="the lake directory, when lake_dir puts it elsewhere")
    parser.add_argument("--master", default="local[1]", help="Spark master URL")
    args = parser.parse_args(argv)
    lake = args.lake_dir or f"{args.data_dir.rstrip('/')}/lake"
    spark = session(args.master)
    try:
        for row in events_per_type_and_day(spark, lake.rstrip("/")):
            print(json.dumps(row))
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
