"""Access control and transport security: tokens, credentials, origins, UI sessions, TLS, networks.

The pieces are sans-IO and small so each is tested alone; ``api/access.py`` puts them
in front of every HTTP route, ``ingest/listeners.py`` in front of the stream ports, and
``server.py`` refuses to expose an unprotected server. docs/security.md is the user's
view of the same rules.
"""
