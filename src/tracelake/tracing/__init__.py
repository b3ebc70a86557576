"""Server-side trace logic: span batches, Zipkin's span shape, dependency links, RED figures.

Decoders (``ingest/decoders``) turn bytes into span rows; this package turns rows into
Arrow batches of the ``spans`` table and answers what the tracing APIs ask of it.
"""
