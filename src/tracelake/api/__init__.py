"""The HTTP API: native JSON endpoints, and later the compatibility APIs.

Each module holds the endpoints of one concern, each with its scope and (native API) its
OpenAPI operation (``endpoints``); ``table`` lists them all, ``app.build_app`` assembles
them, and ``errors`` is the one place exceptions become responses.
"""
