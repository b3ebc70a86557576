"""Loki's query API, for Grafana's Loki data source and logcli: LogQL over ``logs``.

Served twice: at Loki's own paths (``/loki/api/v1/...``, data source URL
``http://host:7700``) and under ``/loki`` (``/loki/loki/api/v1/...``, data source URL
``http://host:7700/loki``, beside ``/prometheus`` and ``/zipkin``): Grafana appends
``/loki/api/v1/...`` to the URL it is given. Answers use Loki's JSON envelope
``{"status":"success","data":{"resultType":…,"result":[…],"stats":{…}}}``; errors are
Loki's plain-text bodies (400 for a query that does not parse or is not supported,
naming what). Times are Loki's: epoch nanoseconds (seconds when ten digits or fewer),
float seconds or RFC 3339. Every query runs through ``api.execute.run_query`` with the
server's time limit, row cap and answer budget; docs/loki.md describes it all.

``params`` reads Loki's request parameters, ``run`` runs LogQL and its SQL, ``answers``
shapes Loki's JSON answers, ``tail`` serves the WebSocket tail, and ``routes`` holds the
handlers and ``endpoints``, the route table ``app`` lists.
"""

from tracelake.api.loki_query.routes import endpoints

__all__ = ["endpoints"]
