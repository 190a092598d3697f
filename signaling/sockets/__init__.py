"""Socket.IO: one namespace per page that talks live.

``seat`` (/seat: experts' seats), ``console`` (/console: hosts, staff and witnesses), ``wall``
(/wall: supervisors), ``origin`` (who may open a connection at all). Each namespace derives from
``signaling.gate.guard.GuardedNamespace`` and lists its events with their actions. Imports
``gate`` and ``services``; never the worker.
"""
