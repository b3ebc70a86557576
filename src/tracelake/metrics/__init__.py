"""Metric samples into the lake: the scraper, and the step from decoded samples to batches.

The decoders (``ingest/decoders/{prom_text,remote_write,otlp_metrics}.py``) turn bytes
into ``SampleRows``; ``jobs`` runs them in the ingest worker processes and returns
Arrow IPC; ``batches`` makes a batch durable in the ``metrics`` table; ``scrape``
pulls every target's ``/metrics`` on a schedule.
"""
