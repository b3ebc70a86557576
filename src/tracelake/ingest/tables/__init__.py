"""One module per table of the lake: every way its rows arrive, each as one job.

``logs``, ``spans``, ``samples`` (the ``metrics`` table) and ``events``: each module holds
the table's batch builder and a picklable job per protocol (``ingest/jobs.py`` says what
a job is). A new protocol for an existing table is one job here and one route.
"""
