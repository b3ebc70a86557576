"""Protocol adapters: bytes in, log objects out, handed to a sink.

``decoders/`` holds one sans-IO decoder per wire format; the modules beside it are the
thin socket and HTTP shells around them.
"""
