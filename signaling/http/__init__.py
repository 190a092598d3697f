"""HTTP: the REST API and the pages, one module per thing users see.

``api`` pages, health, metrics and sessions; ``roster`` experts, replacements and doors; ``links``
personal links and login; ``archive`` playback of the archive (调阅回放); ``partylinks`` the
tenderers' and bidders' archive links (issued, listed, revoked, re-issued); ``headers`` the security
headers of every answer. Every route is registered through ``signaling.gate.guard.route`` with its
action in the policy table. Imports ``gate``, ``services`` and ``recorder``; never the worker.
``webhooks`` are the push subscribers and their delivery logs; ``outbound`` sends the pushes (the
server's own requests to other systems).
"""
