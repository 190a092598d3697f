"""The archive's signing keys for the recorder's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from recorder.keys import Keyring, SealKeys
from tests.archivekeys import make_keyring


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    """The keyring of a data directory in tmp_path."""
    return make_keyring(tmp_path / "data")


@pytest.fixture
def keys(keyring: Keyring) -> SealKeys:
    """The keys a seal is signed with now."""
    return keyring.current()
