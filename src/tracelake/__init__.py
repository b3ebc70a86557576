"""tracelake: logs, traces, metrics, breakers and a Parquet lake for Python services.

The top-level package stays import-light: services import ``tracelake.sdk`` and
must not pay for the server's dependencies.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
