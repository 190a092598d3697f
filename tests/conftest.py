"""Shared test settings."""

from __future__ import annotations

import logging

# aioice and aiortc are chatty at INFO; their warnings still show.
logging.getLogger("aioice").setLevel(logging.WARNING)
logging.getLogger("aiortc").setLevel(logging.WARNING)
