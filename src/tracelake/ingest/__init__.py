"""Everything between a client's bytes and the sink: listeners, decoders, one write path.

``decoders/`` holds one sans-IO decoder per wire format; ``tables/`` one module per
table with a picklable job per protocol; ``submit.py`` the ``Ingest`` that runs a job in
a worker process (``workers.py``) and hands its batch to the ``BatchSink``
(``sink.py``); ``tcp.py``, ``udp.py`` and ``listeners.py`` are the socket shells.
"""
