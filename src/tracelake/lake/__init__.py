"""Reading the lake from outside the server: its catalog, exports, and the Spark job.

Each table is a Delta Lake table whose commit log (``_delta_log/``) names the Parquet
files of every version. Everything here reads the log and those files and never writes
to the lake, so it is safe while a server runs: a commit (flush, compaction, retention)
is one new log file, so a reader sees a version whole or not at all, and files a newer
version replaced stay on disk for ``lake_vacuum_hours``. Rows a running server still
holds in memory (up to ``flush_interval_s``) are not in any version yet.
"""
