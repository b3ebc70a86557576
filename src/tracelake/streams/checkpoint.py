"""Where each continuous query has got to, and how that survives a crash.

A query's progress is the end of the last window it committed. Committing windows is
three steps, each waited for before the next:

1. their rows go to ``derived`` as one WAL batch (one frame: after a crash all of them
   are there or none is);
2. the same values go to ``metrics`` as one batch;
3. the new end is written to ``streams/checkpoints.json`` (temp file, fsync, rename).

At start the resume point is the later of the file's end and the newest
``window_end`` in ``derived`` for the query, so a crash after step 1 never computes
those windows again; if step 2 did not happen, ``recover`` rewrites their metrics from
the derived rows. A crash before step 1 leaves nothing, and the windows are computed
again, once. The file exists from the query's first start on, so downtime before its
first window is not skipped either.
"""

from __future__ import annotations

from tracelake.checkpoints import CheckpointFile, ResumePoint, resume_point

__all__ = ["CheckpointFile", "ResumePoint", "resume_point"]
