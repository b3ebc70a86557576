"""Reading the lake from outside the server: its catalog, exports, and the Spark job.

Everything here reads the data directory's manifest and Parquet files and never writes
to the lake, so it is safe while a server runs (the manifest is replaced atomically,
and files compaction replaces stay on disk for minutes). Rows a running server still
holds in memory (up to ``flush_interval_s``) are not in the files yet.
"""
