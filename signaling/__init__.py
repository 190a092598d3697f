"""The server: two kinds of process, and the parts of the first.

- **The signaling process** (``roomserver serve``) holds every connection that is not media:
  ``app`` (the one place where everything is built and wired), ``cli`` (the ``roomserver``
  command), ``gate`` (tokens, the policy guard and the input schemas every request meets first),
  ``http`` (REST routes and pages), ``sockets`` (the Socket.IO namespaces of the seat, the console
  and the wall), and ``services`` (rooms, the media worker pool, warnings, the workflow, events and
  archives). It never imports aiortc or the media pipeline.
- **The media worker process** (``python -m signaling.worker``, started by the signaling process)
  holds the media of rooms: ``worker``. It imports no aiohttp or Socket.IO.
- Shared by both: ``config``, ``wire`` (the protocol between them), ``tasks``, ``metrics`` and
  ``errors``.
- ``testing``: synthetic seat and wall clients for tests and benchmarks; nothing else imports it.

The import contracts in ``pyproject.toml`` keep these boundaries.
"""
