"""Business events: what services publish (``order_placed``) into the ``events`` table.

``decode`` turns a request body into validated columns (sans-IO: bytes in, columns and
per-item reasons out); ``batches`` makes those an Arrow batch and the job that runs
both in an ingest worker. docs/events.md describes the event object and its limits.
"""
