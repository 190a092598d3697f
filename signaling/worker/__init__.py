"""The media worker process: everything here runs in ``python -m signaling.worker``.

``process`` the worker and its rooms; ``peer`` a seat's peer connection; ``viewer`` a supervisor's
receive-only connection; ``camerafeed`` a room monitoring camera; ``settings`` what the signaling
process hands a worker at start (the only module of this package it imports); ``inprocess`` a
worker inside the signaling process for ``workers = 0``. Imports ``media``, ``recorder`` and the
shared modules; never aiohttp or Socket.IO.
"""
