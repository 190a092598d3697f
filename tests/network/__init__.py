"""Tests across real networks: namespaces, NAT, coturn, TLS, loss (see ``netns.py``)."""
