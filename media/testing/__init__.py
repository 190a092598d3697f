"""Synthetic media for tests and benchmarks: ``synthetic`` tracks, ``testpattern`` frames that
carry a readable counter. Only ``tests``, ``bench`` and ``signaling.testing`` import this."""
