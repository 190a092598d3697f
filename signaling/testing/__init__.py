"""Synthetic clients for tests and benchmarks: ``seat`` an expert's seat, ``wall`` a supervisors'
wall; real Socket.IO and aiortc, synthetic media. Only ``tests`` and ``bench`` import this."""
