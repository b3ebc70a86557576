"""What services import: logging, tracing, breakers, events and registry clients.

Importable with plain ``pip install tracelake``: nothing here may import duckdb,
pyarrow, starlette or any other part of the server.
"""

from __future__ import annotations
