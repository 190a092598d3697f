"""The archive's signing keys for tests: a real keyring, Ed25519 and SM2 (made by openssl)."""

from __future__ import annotations

from pathlib import Path

from recorder.keys import Keyring


def make_keyring(base: Path) -> Keyring:
    """A keyring in the data directory `base`, its first generation made."""
    keyring = Keyring(base / "secrets" / "archive-keys", base / "archive-keys.json")
    keyring.ensure()
    return keyring
