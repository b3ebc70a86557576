"""``tracelake ship``: the long-running shipping agent (the Filebeat / Logspout role).

It tails files (or stdin), joins multiline records, batches and compresses them, and sends
them to ``POST /api/v1/logs``, keeping its read offsets on disk so a restart neither loses
nor repeats lines. The parts that decide things are sans-IO so they are tested without
files, clocks or sockets; ``runner`` is the thin loop that does the IO:

* ``tailer``    — which files, where to read, rotation, truncation, reused inodes
* ``multiline`` — lines → records (tracebacks and stack traces stay whole)
* ``records``   — a record → one NDJSON line with ``file`` and ``host``
* ``batcher``   — records → gzip'd batches by lines, bytes and time
* ``state``     — acknowledged offsets, written atomically
* ``spool``     — batches nobody acknowledged yet, on disk while the server is away
* ``sender``    — one POST and what its answer means (waits: ``tracelake.backoff``)
"""
