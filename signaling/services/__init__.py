"""The application services of the signaling process, built once by ``signaling.app``.

- ``container``: what handlers are given;
- ``signals``: what one part tells the others;
- ``rooms``: live rooms and their place in a worker; ``pool``: the media worker processes as seen
  from here;
- ``monitoring``: the session's warnings; ``workflow``: the committee's workflow; ``ballots``:
  election secrets;
- ``events``: the event log; ``archiving``: the archive's parts; ``sessions``: ending a session;
- ``webhooks``: the log's pushes to subscribers (5.5), sent through a ``Sender`` it is given.

Imports ``roomserver``, ``recorder`` and the shared modules; never aiohttp, Socket.IO or the worker.
"""
