"""The HTTP API: the native JSON endpoints and the compatible ones (OTLP, Zipkin,
Prometheus, Loki, Elasticsearch).

Each module holds the endpoints of one concern, each with its scope and (native API) its
OpenAPI operation (``endpoints``); ``tracelake/app.py`` lists them all and assembles the
application, and ``errors`` is the one place exceptions become responses.
"""
