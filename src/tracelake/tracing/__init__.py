"""Server-side trace logic: Zipkin's span shape, dependency links, RED figures, log links.

Spans arrive through the ``spans`` table's write path (``ingest/tables/spans.py``); this
package answers what the tracing APIs ask of the table.
"""
