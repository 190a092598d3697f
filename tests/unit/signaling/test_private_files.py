"""Keys and their folder: created private; a key others can open is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from roomserver.errors import UnsafePermissions
from roomserver.privatefiles import check_secrets
from signaling.tokens import load_or_create_key


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_the_secrets_folder_and_the_token_key_are_created_private(tmp_path: Path) -> None:
    key = tmp_path / "secrets" / "token.key"
    load_or_create_key(key)
    assert mode(key.parent) == 0o700
    assert mode(key) == 0o600


def test_a_token_key_others_can_read_is_refused_with_the_chmod_to_run(tmp_path: Path) -> None:
    key = tmp_path / "secrets" / "token.key"
    first = load_or_create_key(key)
    key.chmod(0o644)
    with pytest.raises(UnsafePermissions) as refused:
        load_or_create_key(key)
    assert f"chmod 600 {key}" in refused.value.message
    key.chmod(0o600)
    assert load_or_create_key(key) == first


def test_a_secrets_folder_others_can_open_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "secrets" / "token.key"
    load_or_create_key(key)
    key.parent.chmod(0o755)
    with pytest.raises(UnsafePermissions) as refused:
        load_or_create_key(key)
    assert f"chmod 700 {key.parent}" in refused.value.message


def test_any_other_file_in_the_secrets_folder_is_checked_before_the_start(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    check_secrets(folder)  # creates it
    assert mode(folder) == 0o700
    other = folder / "ballot.key"
    fd = os.open(other, os.O_WRONLY | os.O_CREAT, 0o640)
    os.close(fd)
    with pytest.raises(UnsafePermissions, match=f"chmod 600 {other}"):
        check_secrets(folder)
