"""The media of a room, inside a media worker: what comes in from the seats and what goes out.

``tap`` encoded frames from aiortc's receivers; ``forward`` and ``fanout`` seats' tracks passed on
without re-encoding; ``decode``, ``grid`` and ``labels`` the room grid; ``mixer`` and
``mixencoder`` the mix-minus audio; ``analysis`` the seat cameras' warnings; ``rtsp`` the room
monitoring cameras; ``infostate``, ``infotable``, ``infolayout`` and ``infoscreen`` the opening
hall's information screen; ``room`` all of one room; ``ice`` which addresses are offered;
``config`` its settings (the only module the signaling process reads); ``testing`` synthetic
media for tests and benchmarks. Imports neither ``recorder`` nor ``signaling``.
"""
