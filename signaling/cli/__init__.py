"""The ``roomserver`` command: ``main`` (serve, demo, token, link, load-session) and ``archive``
(``roomserver archive …`` and ``roomserver session end``, which work on the data directory)."""
