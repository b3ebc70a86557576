"""The HTTP API: native JSON endpoints, and later the compatibility APIs.

Each module holds the routes of one concern; ``app.build_app`` assembles them and
``errors`` is the one place exceptions become responses.
"""
