"""What every request meets before a handler: who it is, what it may do, what it may say.

``tokens`` signed join tokens and their grants; ``guard`` routes and events against the policy
table (``roomserver.policy``); ``inputs`` strict JSON and path patterns; ``schemas`` the shape of
every REST body and Socket.IO payload; ``commands`` the fields of each workflow command. Imports
only ``roomserver`` and the shared modules of ``signaling``.
"""
