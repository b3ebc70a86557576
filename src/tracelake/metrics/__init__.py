"""The scraper: pulls every target's ``/metrics`` into the ``metrics`` table.

What it fetches is decoded by the table's job (``ingest/tables/samples.py``) like every
other way samples arrive.
"""
